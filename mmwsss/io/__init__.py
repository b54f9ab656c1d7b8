"""mmwsss.io: the on-disk formats of mmwsss and their guarantees.

- seed maps: one palette PNG per image, and the one rule of resume,
  :func:`finished_seed` / :func:`pending_seeds` (:mod:`.seeds`);
- the SAM mask cache: one compressed file of RLE quasi-superpixels per
  image, stamped with the generator's fingerprint (:mod:`.mask_cache`), and
  :class:`SAMMaskSource`, which reads it or fills it;
- atomic writes, which make every per-image output resumable
  (:mod:`.atomic`);
- images read as RGB, as displayed (EXIF orientation applied), and the
  size their masks must have (:mod:`.images`).

Datasets, models, evaluation and tools all use these; none of them owns
them. Nothing here registers anything.
"""
from .atomic import atomic_write_bytes, dump_json_atomic, is_done
from .images import displayed_size, exif_orientation, read_rgb_image
from .mask_cache import (MaskCacheError, SAMMaskRecord, config_fingerprint,
                         load_masks, mask_cache_path, read_fingerprint,
                         save_masks)
from .mask_source import SAMMaskSource
from .seeds import (SEED_SUFFIX, finished_seed, pending_seeds, read_seed_png,
                    render_seed_overlay, seed_palette_colors, seed_path,
                    write_seed_overlay, write_seed_png)

__all__ = [
    'atomic_write_bytes', 'dump_json_atomic', 'is_done', 'read_rgb_image',
    'displayed_size', 'exif_orientation', 'MaskCacheError', 'SAMMaskRecord',
    'load_masks', 'mask_cache_path', 'save_masks', 'SAMMaskSource',
    'SEED_SUFFIX', 'finished_seed', 'pending_seeds', 'read_seed_png',
    'render_seed_overlay', 'seed_palette_colors', 'seed_path',
    'write_seed_overlay', 'write_seed_png'
]
