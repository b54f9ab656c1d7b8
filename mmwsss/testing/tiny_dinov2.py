"""A tiny DINOv2 architecture, for tests and demos.

``DINOv2(arch='tiny')`` builds a randomly initialised DINOv2 ViT with the
hub models' geometry (patch 14, 518 pretrained resolution: a 37x37 position
grid, layer scale, the official key layout) but width 32 and 2 blocks, so
it runs on a CPU in milliseconds. Importing this module adds it to
:data:`~mmwsss.models.backbones.dinov2.DINOV2_ARCHITECTURES` as ``'tiny'``.
"""
from mmwsss.models.backbones.dinov2 import DINOV2_ARCHITECTURES, DINOv2Arch

__all__ = ['TINY_DINOV2_ARCH']

#: The tiny architecture (ViT-S/14's structure at toy width and depth).
TINY_DINOV2_ARCH = DINOv2Arch(embed_dim=32, depth=2, num_heads=2)

DINOV2_ARCHITECTURES.register('tiny', TINY_DINOV2_ARCH, force=True)
