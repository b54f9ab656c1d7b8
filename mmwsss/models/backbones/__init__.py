"""mmwsss.models.backbones: frozen vision backbones besides CLIP.

Importing this package registers :class:`DINOv2` (the facebookresearch/
dinov2 hub ViTs, WeCLIP+'s second backbone) in ``mmseg.registry.MODELS``.
The ``'tiny'`` architecture is added to :data:`DINOV2_ARCHITECTURES` by
:mod:`mmwsss.testing`.
"""
from .dinov2 import (DINOV2_ARCHITECTURES, DINOV2_CHECKPOINT_URLS, DINOv2,
                     DINOv2Arch, dinov2_layout_errors, read_dinov2_checkpoint)
from .dinov2_layers import interpolate_dinov2_pos_embed

__all__ = [
    'DINOv2', 'DINOv2Arch', 'DINOV2_ARCHITECTURES', 'DINOV2_CHECKPOINT_URLS',
    'dinov2_layout_errors', 'read_dinov2_checkpoint',
    'interpolate_dinov2_pos_embed'
]
