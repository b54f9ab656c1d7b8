"""Transforms of mmwsss datasets (registered in mmseg's TRANSFORMS)."""
from .formatting import PackWSSSInputs
from .loading import LoadOptionalAnnotations
from .sam_masks import LoadSAMMasks, split_sam_masks

__all__ = [
    'PackWSSSInputs', 'LoadSAMMasks', 'split_sam_masks',
    'LoadOptionalAnnotations'
]
