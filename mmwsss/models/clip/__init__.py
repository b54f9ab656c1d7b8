"""mmwsss.models.clip: the frozen open_clip CLIP used by every CLIP-based
pipeline (FMA-WSSS prompts, CLIP-ES, the WeCLIP / WeCLIP+ backbone).

Importing this package registers :class:`FrozenCLIP` in
``mmseg.registry.MODELS``. The tiny test architecture
``'mmwsss-tiny-ViT-16'`` is registered with open_clip by
:mod:`mmwsss.testing` (:func:`register_open_clip_config`).
"""
from .block_taps import crop_to_patch_multiple
from .frozen_clip import CLIPImageOutput, FrozenCLIP
from .loading import (build_open_clip, read_clip_checkpoint,
                      register_open_clip_config)
from .vit_ops import interpolate_pos_embed, pad_to_patch_multiple

__all__ = [
    'FrozenCLIP', 'CLIPImageOutput', 'build_open_clip', 'read_clip_checkpoint',
    'register_open_clip_config', 'crop_to_patch_multiple'
]
