"""SAM-based seeding (SAMS): quasi-superpixels, seeding, test-time use."""
from .classical_generator import FelzenszwalbQuasiSuperpixelGenerator
from .mask_cache import (MaskCacheError, SAMMaskRecord, load_masks,
                         mask_cache_path, save_masks)
from .mask_filter import filter_quasi_superpixels
from .levelled_amg import LevelledMaskGenerator
from .mask_generator import SAMQuasiSuperpixelGenerator
from .sam3_concepts import (SAM3ConceptSegmenter,
                            SAM3QuasiSuperpixelGenerator)
from .sam2_generator import SAM2QuasiSuperpixelGenerator, build_sam2_model
from .sam_hq_generator import (SAMHQQuasiSuperpixelGenerator,
                               build_sam_hq_model)
from .sam_builder import build_sam_model
from .seeding import (MaskRuns, SAMSResult, mask_runs, mask_runs_from_rle,
                      sams_seed, sams_seed_from_record)
from .tta import CRFTTAModel, SAMSTTAModel

__all__ = [
    'MaskCacheError', 'SAMMaskRecord', 'load_masks', 'mask_cache_path',
    'save_masks', 'filter_quasi_superpixels', 'SAMQuasiSuperpixelGenerator',
    'FelzenszwalbQuasiSuperpixelGenerator',
    'LevelledMaskGenerator', 'SAMHQQuasiSuperpixelGenerator',
    'SAM2QuasiSuperpixelGenerator', 'build_sam_hq_model', 'build_sam2_model',
    'SAM3ConceptSegmenter', 'SAM3QuasiSuperpixelGenerator',
    'build_sam_model', 'MaskRuns', 'SAMSResult', 'mask_runs',
    'mask_runs_from_rle', 'sams_seed', 'sams_seed_from_record',
    'SAMSTTAModel', 'CRFTTAModel'
]
