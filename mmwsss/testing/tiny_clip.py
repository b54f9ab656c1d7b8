"""A tiny CLIP architecture registered with open_clip, for tests and demos.

``FrozenCLIP(model_name='mmwsss-tiny-ViT-16', pretrained=None)`` builds a
randomly initialised CLIP with ViT-B/16's geometry (patch 16, 224 input, 77
text tokens, the real BPE vocabulary) but a few thousand times fewer
operations, so the whole pipeline runs on a CPU in tests. Importing this
module registers it with open_clip (open_clip's model table is the CLIP
architecture table; configs select the tiny CLIP by its name).
"""
from typing import Dict

from mmwsss.models.clip.loading import register_open_clip_config

__all__ = ['TINY_CLIP_NAME', 'TINY_CLIP_CFG', 'register_tiny_clip']

TINY_CLIP_NAME = 'mmwsss-tiny-ViT-16'

TINY_CLIP_CFG: Dict = dict(
    embed_dim=32,
    vision_cfg=dict(
        image_size=224, layers=3, width=64, patch_size=16, head_width=32),
    text_cfg=dict(
        context_length=77, vocab_size=49408, width=32, heads=2, layers=2),
)


def register_tiny_clip() -> None:
    """Register :data:`TINY_CLIP_CFG` as ``'mmwsss-tiny-ViT-16'``."""
    register_open_clip_config(TINY_CLIP_NAME, TINY_CLIP_CFG)


register_tiny_clip()
