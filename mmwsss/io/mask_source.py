"""Where SAMS gets an image's quasi-superpixels: a cache folder, a generator,
or both (generate what the cache lacks and write it there).

Shared by :class:`~mmwsss.models.seeders.SAMSSeeder` (seeds from CAMs) and
:class:`~mmwsss.models.sams.tta.SAMSTTAModel` (test-time refinement).
"""
import os.path as osp
from typing import Any, Callable, Dict, Optional, Tuple

from .images import read_rgb_image
from .mask_cache import (MaskCacheError, SAMMaskRecord, load_masks,
                         mask_cache_path, save_masks)

__all__ = ['SAMMaskSource']


class SAMMaskSource:
    """Quasi-superpixels of images, from a cache and/or a SAM generator.

    Args:
        mask_dir (str, optional): Cache folder of ``tools/gen_sam_masks.py``
            (``<mask_dir>/<image stem>.npz``).
        fingerprint (str, optional): Expected SAM fingerprint of cached
            files; a cache made with another SAM config fails loudly.
            Defaults to the fingerprint of ``sam_generator`` when that is
            set (so cached files are always checked against the configured
            generator), else cached files are not checked.
        sam_generator (dict, optional): Config of a generator registered in
            MODELS with ``generate_record(rgb) -> SAMMaskRecord`` and a
            ``fingerprint``; used for images the cache lacks (and the result
            is cached when ``mask_dir`` is set).
        owner (str): Config key of the owner, for error messages
            (e.g. ``'model.seeder.seg'``, ``'tta_model'``).
        build (callable, optional): Builds ``sam_generator`` from its config
            (the models floor passes ``MODELS.build``); needed only when
            ``sam_generator`` is set.
    """

    def __init__(self,
                 mask_dir: Optional[str] = None,
                 fingerprint: Optional[str] = None,
                 sam_generator: Optional[Dict[str, Any]] = None,
                 owner: str = 'SAMS',
                 build: Optional[Callable[[dict], Any]] = None) -> None:
        if mask_dir is None and sam_generator is None:
            raise ValueError(
                f'{owner} needs mask_dir (cached SAM masks from '
                'tools/gen_sam_masks.py) or sam_generator (generate them on '
                'the fly)')
        self.mask_dir = mask_dir
        self.fingerprint = fingerprint
        self.sam_generator_cfg = sam_generator
        if sam_generator is not None and build is None:
            raise ValueError(f'{owner}: a sam_generator config needs a '
                             'builder (build=MODELS.build)')
        self.owner = owner
        self._build = build
        self._generator = None

    @property
    def generator(self) -> Any:
        """The mask generator, built on first use (SAM is heavy)."""
        if self._generator is None:
            if self.sam_generator_cfg is None:
                raise MaskCacheError(f'no {self.owner}.sam_generator '
                                     'configured')
            generator = self._build(self.sam_generator_cfg)
            made = getattr(generator, 'fingerprint', None)
            if self.fingerprint is not None and made is not None and \
                    made != self.fingerprint:
                raise ValueError(
                    f'{self.owner}.fingerprint={self.fingerprint!r} but '
                    f'{self.owner}.sam_generator makes masks with fingerprint '
                    f'{made!r}; drop {self.owner}.fingerprint or make them '
                    'agree.')
            self._generator = generator
        return self._generator

    @property
    def expected_fingerprint(self) -> Optional[str]:
        """Fingerprint cached files must carry: the generator's when one is
        configured (building it; it must agree with ``fingerprint``), else
        ``fingerprint`` (None: not checked)."""
        if self.sam_generator_cfg is None:
            return self.fingerprint
        made = getattr(self.generator, 'fingerprint', None)
        return self.fingerprint if made is None else made

    def get(self,
            img_path: str,
            size: Optional[Tuple[int, int]] = None) -> SAMMaskRecord:
        """Quasi-superpixels of one image.

        Args:
            img_path (str): The image (its stem names the cache file).
            size (tuple[int, int], optional): Expected (H, W).

        Returns:
            SAMMaskRecord: The masks.

        Raises:
            MaskCacheError: Missing / stale cache and no generator.
        """
        path = (None if self.mask_dir is None else mask_cache_path(
            self.mask_dir, img_path))
        if path is not None and (self.sam_generator_cfg is None
                                 or osp.isfile(path)):
            try:
                return load_masks(path, self.expected_fingerprint, size)
            except MaskCacheError as err:
                raise MaskCacheError(
                    f'{self.owner}.mask_dir={self.mask_dir!r}: cannot use '
                    f'the masks of {img_path}: {err}') from err
        image = read_rgb_image(img_path)
        if size is not None and tuple(image.shape[:2]) != tuple(size):
            raise ValueError(f'{img_path} is {image.shape[:2]} but the '
                             f'prediction is {tuple(size)}')
        record = self.generator.generate_record(image)
        if path is not None:
            save_masks(path, record)
        return record
