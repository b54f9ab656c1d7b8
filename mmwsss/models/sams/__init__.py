"""SAM-based seeding (SAMS): quasi-superpixels, seeding, test-time use."""
from .classical_generator import FelzenszwalbQuasiSuperpixelGenerator
from .mask_cache import (MaskCacheError, SAMMaskRecord, load_masks,
                         mask_cache_path, save_masks)
from .mask_filter import filter_quasi_superpixels
from .mask_generator import SAMQuasiSuperpixelGenerator
from .sam_builder import build_sam_model
from .seeding import (MaskRuns, SAMSResult, mask_runs, mask_runs_from_rle,
                      sams_seed, sams_seed_from_record)
from .tta import CRFTTAModel, SAMSTTAModel

__all__ = [
    'MaskCacheError', 'SAMMaskRecord', 'load_masks', 'mask_cache_path',
    'save_masks', 'filter_quasi_superpixels', 'SAMQuasiSuperpixelGenerator',
    'FelzenszwalbQuasiSuperpixelGenerator',
    'build_sam_model', 'MaskRuns', 'SAMSResult', 'mask_runs',
    'mask_runs_from_rle', 'sams_seed', 'sams_seed_from_record',
    'SAMSTTAModel', 'CRFTTAModel'
]
