"""mmwsss.models.clip: the frozen open_clip CLIP used by every CLIP-based
pipeline (FMA-WSSS prompts, CLIP-ES).

Importing this package registers :class:`FrozenCLIP` in
``mmseg.registry.MODELS`` and the tiny test architecture
``'mmwsss-tiny-ViT-16'`` with open_clip.
"""
from .frozen_clip import CLIPImageOutput, FrozenCLIP
from .loading import build_open_clip, read_clip_checkpoint
from .tiny_config import (TINY_CLIP_CFG, TINY_CLIP_NAME,
                          register_open_clip_config, register_tiny_clip)
from .vit_ops import interpolate_pos_embed, pad_to_patch_multiple

register_tiny_clip()

__all__ = [
    'FrozenCLIP', 'CLIPImageOutput', 'build_open_clip', 'read_clip_checkpoint',
    'pad_to_patch_multiple', 'interpolate_pos_embed', 'TINY_CLIP_NAME',
    'TINY_CLIP_CFG', 'register_open_clip_config', 'register_tiny_clip'
]
