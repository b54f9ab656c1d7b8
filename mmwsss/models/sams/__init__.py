"""SAM-based seeding (SAMS): quasi-superpixels, seeding, test-time use."""
from .mask_cache import (MaskCacheError, SAMMaskRecord, load_masks,
                         mask_cache_path, save_masks)

__all__ = [
    'MaskCacheError', 'SAMMaskRecord', 'load_masks', 'mask_cache_path',
    'save_masks'
]
