"""mmwsss.testing: the tiny random models that the tests, the CPU demo and the
``*tiny*`` configs run, out of the model packages.

Importing this package adds them to the architecture tables of the models
floor (:class:`~mmwsss.models.architectures.ArchitectureTable`), where the
builders and configs find them by name, without the models floor importing
this package:

* ``model_type='tiny'`` of SAM, SAM-HQ, SAM 2 and SAM 3
  (:mod:`.tiny_sams`, :mod:`.tiny_sam3`);
* the open_clip architecture ``'mmwsss-tiny-ViT-16'`` (:mod:`.tiny_clip`);
* ``arch='tiny'`` of DINOv2 (:mod:`.tiny_dinov2`);
* the ``'tiny_bert'`` language model writer of Grounding DINO
  (:mod:`.tiny_bert`).

:mod:`mmwsss.registration` imports this package, so every config with
``custom_imports=['mmwsss.registration']`` can select them. The optional
model packages (segment-anything-hq, sam2, sam3, transformers) are imported
only when a tiny model of theirs is built.
"""
from .tiny_bert import TINY_BERT_SPECIAL_TOKENS, write_tiny_bert
from .tiny_clip import TINY_CLIP_CFG, TINY_CLIP_NAME, register_tiny_clip
from .tiny_dinov2 import TINY_DINOV2_ARCH
from .tiny_sam3 import TINY_SAM3_RESOLUTION, build_tiny_sam3
from .tiny_sams import (TINY_SAM2_OVERRIDES, build_tiny_sam, build_tiny_sam2,
                        build_tiny_sam_hq, build_tiny_sam_like,
                        smooth_transposed_convs, tiny_sam2_config)

__all__ = [
    'build_tiny_sam', 'build_tiny_sam_like', 'build_tiny_sam_hq',
    'build_tiny_sam2', 'tiny_sam2_config', 'build_tiny_sam3',
    'smooth_transposed_convs', 'TINY_SAM2_OVERRIDES', 'TINY_SAM3_RESOLUTION',
    'TINY_CLIP_NAME', 'TINY_CLIP_CFG', 'register_tiny_clip',
    'write_tiny_bert', 'TINY_BERT_SPECIAL_TOKENS', 'TINY_DINOV2_ARCH'
]
