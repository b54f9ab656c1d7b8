"""A tiny CLIP architecture registered with open_clip, for tests and demos.

``FrozenCLIP(model_name='mmwsss-tiny-ViT-16', pretrained=None)`` builds a
randomly initialised CLIP with ViT-B/16's geometry (patch 16, 224 input, 77
text tokens, the real BPE vocabulary) but a few thousand times fewer
operations, so the whole pipeline runs on a CPU in tests.
"""
import copy
import json
import os.path as osp
import tempfile
from typing import Dict

import open_clip

TINY_CLIP_NAME = 'mmwsss-tiny-ViT-16'

TINY_CLIP_CFG: Dict = dict(
    embed_dim=32,
    vision_cfg=dict(
        image_size=224, layers=3, width=64, patch_size=16, head_width=32),
    text_cfg=dict(
        context_length=77, vocab_size=49408, width=32, heads=2, layers=2),
)


def register_open_clip_config(name: str, cfg: Dict) -> None:
    """Make ``cfg`` known to open_clip as model ``name`` (idempotent).

    The config goes into open_clip's architecture registry, where
    ``open_clip.create_model`` / ``get_tokenizer`` / ``list_models`` find it;
    open_clip's own rescans keep entries already there. Should a future
    open_clip hide that registry, the config is written as JSON and added
    with the public ``open_clip.add_model_config``.

    Args:
        name (str): Model name.
        cfg (dict): open_clip model config (``embed_dim``, ``vision_cfg``,
            ``text_cfg``).
    """
    if name in open_clip.list_models():
        return
    factory = getattr(open_clip, 'factory', None)
    registry = getattr(factory, '_MODEL_CONFIGS', None)
    if isinstance(registry, dict):
        registry[name] = copy.deepcopy(cfg)
        return
    path = osp.join(
        tempfile.mkdtemp(prefix='mmwsss_clip_cfg_'), f'{name}.json')
    with open(path, 'w') as f:
        json.dump(cfg, f)
    open_clip.add_model_config(path)


def register_tiny_clip() -> None:
    """Register :data:`TINY_CLIP_CFG` as ``'mmwsss-tiny-ViT-16'``."""
    register_open_clip_config(TINY_CLIP_NAME, TINY_CLIP_CFG)
