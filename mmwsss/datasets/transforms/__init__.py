"""Transforms of mmwsss datasets (registered in mmseg's TRANSFORMS)."""
from .clip_augment import RandColorJitter, RandRangeScale
from .formatting import PackWSSSInputs
from .loading import LoadImageForSeeds, LoadOptionalAnnotations
from .sam_masks import LoadSAMMasks, split_sam_masks
from .weclip_augment import RandomPadCrop, RandomRatioScale

__all__ = [
    'PackWSSSInputs', 'LoadImageForSeeds', 'LoadOptionalAnnotations',
    'LoadSAMMasks', 'split_sam_masks', 'RandColorJitter', 'RandRangeScale', 'RandomRatioScale',
    'RandomPadCrop'
]
