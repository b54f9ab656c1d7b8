"""SAM-based seeding (SAMS): the quasi-superpixel generators (SAM, SAM-HQ,
SAM 2, SAM 3, Felzenszwalb) and the test-time refinement of any mmseg model.

The seeding equations are :mod:`mmwsss.functional.sams`; the mask cache is
:mod:`mmwsss.io.mask_cache`.
"""
from .classical_generator import FelzenszwalbQuasiSuperpixelGenerator
from .levelled_amg import LevelledMaskGenerator
from .mask_generator import SAMQuasiSuperpixelGenerator
from .sam2_generator import SAM2QuasiSuperpixelGenerator, build_sam2_model
from .sam3_concepts import (SAM3ConceptSegmenter,
                            SAM3QuasiSuperpixelGenerator)
from .sam_builder import build_sam_model
from .sam_hq_generator import (SAMHQQuasiSuperpixelGenerator,
                               build_sam_hq_model)
from .tta import CRFTTAModel, SAMSTTAModel

__all__ = [
    'SAMQuasiSuperpixelGenerator', 'FelzenszwalbQuasiSuperpixelGenerator',
    'LevelledMaskGenerator', 'SAMHQQuasiSuperpixelGenerator',
    'SAM2QuasiSuperpixelGenerator', 'build_sam_hq_model', 'build_sam2_model',
    'SAM3ConceptSegmenter', 'SAM3QuasiSuperpixelGenerator', 'build_sam_model',
    'SAMSTTAModel', 'CRFTTAModel'
]
