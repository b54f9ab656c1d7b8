"""The tiny random SAM, SAM-HQ and SAM 2 of the tests and the CPU demo.

Importing this module adds them as ``model_type='tiny'`` to the
architecture tables of the models floor (:data:`~mmwsss.models.sams.
sam_builder.SAM_ARCHITECTURES`, :data:`~mmwsss.models.sams.sam_hq_generator.
SAM_HQ_ARCHITECTURES`, :data:`~mmwsss.models.sams.sam2_generator.
SAM2_ARCHITECTURES`), where ``build_sam_model('tiny')``, the generators and
the configs (``configs/sams/sam_tiny.py``, ...) find them.

Each is the official structure at toy sizes: it runs an image in about a
second on a CPU. Random transposed convolutions paint a pixel-scale
checkerboard over every mask; :func:`smooth_transposed_convs` makes the masks
of these random models smooth, image-dependent blobs instead.
"""
from functools import partial
from typing import Any, Callable, Dict

import segment_anything.modeling
import torch
from segment_anything.modeling import MaskDecoder
from torch import nn

from mmwsss.models.sams.sam2_generator import (SAM2_ARCHITECTURES,
                                               instantiate_sam2,
                                               sam2_model_config)
from mmwsss.models.sams.sam_builder import SAM_ARCHITECTURES
from mmwsss.models.sams.sam_hq_generator import (SAM_HQ_ARCHITECTURES,
                                                 import_sam_hq)

__all__ = [
    'build_tiny_sam', 'build_tiny_sam_like', 'build_tiny_sam_hq',
    'build_tiny_sam2', 'tiny_sam2_config', 'smooth_transposed_convs',
    'TINY_SAM2_OVERRIDES'
]


def build_tiny_sam() -> nn.Module:
    """A small randomly initialised SAM with the official structure.

    Image encoder: 256 px input, patch 16, embed 32, 2 blocks (windowed
    attention of size 4, global attention in the last block), 32 output
    channels; prompt encoder and mask decoder at 32 channels, a 1-layer
    two-way transformer. Initialise under a seed for reproducible weights.

    One deterministic change to PyTorch's default initialisation: the
    kernels of the mask decoder's two 2x2 transposed convolutions are made
    constant over their taps (each tap gets the mean of the random taps).
    Random transposed convolutions paint a pixel-scale checkerboard over
    every mask, which makes masks of pixel noise with huge RLEs; with
    constant taps the random masks are smooth, image-dependent blobs at
    patch resolution, closer to what the generator sees from real SAM.

    Returns:
        Sam: The model in eval mode, on the CPU.
    """
    return build_tiny_sam_like(segment_anything.modeling, MaskDecoder)


def build_tiny_sam_like(modeling: Any, mask_decoder: Callable[..., nn.Module],
                        **decoder_kwargs: Any) -> nn.Module:
    """The tiny SAM of :func:`build_tiny_sam`, built from the modules of a
    SAM-1 style package (``segment_anything.modeling`` or
    ``segment_anything_hq.modeling``) with its own mask decoder class.

    Modules are constructed in the same order for every package (image
    encoder, prompt encoder, two-way transformer, mask decoder), so a seeded
    RNG gives the same weights as before; the transposed convolutions of
    the mask decoder are smoothed (:func:`smooth_transposed_convs`).

    Args:
        modeling (module): Provides ``Sam``, ``ImageEncoderViT``,
            ``PromptEncoder`` and ``TwoWayTransformer``.
        mask_decoder (type): The mask decoder class.
        **decoder_kwargs: Extra mask decoder arguments (e.g. HQ-SAM's
            ``vit_dim``).

    Returns:
        nn.Module: ``modeling.Sam`` in eval mode, on the CPU.
    """
    dim = 32
    image_size = 256
    patch_size = 16
    embed_size = image_size // patch_size
    sam = modeling.Sam(
        image_encoder=modeling.ImageEncoderViT(
            depth=2,
            embed_dim=32,
            img_size=image_size,
            mlp_ratio=2,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=2,
            patch_size=patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=(1, ),
            window_size=4,
            out_chans=dim),
        prompt_encoder=modeling.PromptEncoder(
            embed_dim=dim,
            image_embedding_size=(embed_size, embed_size),
            input_image_size=(image_size, image_size),
            mask_in_chans=8),
        mask_decoder=mask_decoder(
            num_multimask_outputs=3,
            transformer=modeling.TwoWayTransformer(
                depth=1, embedding_dim=dim, mlp_dim=64, num_heads=2),
            transformer_dim=dim,
            iou_head_depth=3,
            iou_head_hidden_dim=32,
            **decoder_kwargs),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])
    smooth_transposed_convs(sam.mask_decoder)
    return sam.eval()


def smooth_transposed_convs(module: torch.nn.Module) -> None:
    """Make every transposed-convolution kernel of ``module`` constant
    over its taps (each tap gets the mean of the random taps), in place.

    Random transposed convolutions paint a pixel-scale checkerboard over
    every mask; with constant taps the masks of random models are smooth
    blobs (used by the tiny test models of every SAM family).

    Args:
        module (nn.Module): A (mask decoder) module.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.ConvTranspose2d):
                layer.weight.copy_(
                    layer.weight.mean((2, 3),
                                      keepdim=True).expand_as(layer.weight))


def build_tiny_sam_hq() -> nn.Module:
    """A small randomly initialised HQ-SAM with the official structure.

    :func:`build_tiny_sam`'s sizes (256 px input, patch 16, 2 ViT blocks
    of width 32, the last one global so it provides HQ-SAM's
    early feature) with HQ-SAM's ``MaskDecoderHQ`` (``vit_dim`` 32) and the
    same smoothing of the transposed convolutions (also of the HQ feature
    branch) so random masks are blobs, not pixel noise.

    Returns:
        nn.Module: ``segment_anything_hq.modeling.Sam`` in eval mode, CPU.
    """
    import_sam_hq()
    from segment_anything_hq import modeling
    return build_tiny_sam_like(modeling, modeling.MaskDecoderHQ, vit_dim=32)

# The tiny random SAM 2: sam2.1_hiera_t shrunk (widths 8..64, 1-1-2-1 blocks,
# the 2nd block of stage 3 global as in Hiera, 32-channel neck and decoder,
# 256 px input).
TINY_SAM2_OVERRIDES: Dict[str, Any] = dict(
    image_size=256,
    image_encoder=dict(
        trunk=dict(
            embed_dim=8,
            num_heads=1,
            stages=[1, 1, 2, 1],
            global_att_blocks=[3],
            window_pos_embed_bkg_spatial_size=[4, 4]),
        neck=dict(
            position_encoding=dict(num_pos_feats=32),
            d_model=32,
            backbone_channel_list=[64, 32, 16, 8])),
    memory_attention=dict(
        d_model=32,
        num_layers=1,
        layer=dict(
            dim_feedforward=64,
            d_model=32,
            self_attention=dict(embedding_dim=32, feat_sizes=[16, 16]),
            cross_attention=dict(
                embedding_dim=32, kv_in_dim=16, feat_sizes=[16, 16]))),
    memory_encoder=dict(
        out_dim=16,
        in_dim=32,
        position_encoding=dict(num_pos_feats=16),
        mask_downsampler=dict(embed_dim=32),
        fuser=dict(layer=dict(dim=32), num_layers=1)),
)


def tiny_sam2_config() -> Any:
    """The OmegaConf ``model`` node of the tiny SAM 2 (``sam2.1_hiera_t``
    with :data:`TINY_SAM2_OVERRIDES`)."""
    return sam2_model_config('configs/sam2.1/sam2.1_hiera_t.yaml',
                             TINY_SAM2_OVERRIDES)


def build_tiny_sam2(model_cfg: Any = None) -> nn.Module:
    """The tiny random SAM 2 (``SAM2Base``), its mask decoder's transposed
    convolutions smoothed.

    Args:
        model_cfg (optional): From :func:`tiny_sam2_config` (read when
            None).

    Returns:
        nn.Module: The model, as built (use a seeded RNG).
    """
    if model_cfg is None:
        model_cfg = tiny_sam2_config()
    model = instantiate_sam2(model_cfg)
    smooth_transposed_convs(model.sam_mask_decoder)
    return model


SAM_ARCHITECTURES.register('tiny', build_tiny_sam, force=True)
SAM_HQ_ARCHITECTURES.register('tiny', build_tiny_sam_hq, force=True)
SAM2_ARCHITECTURES.register(
    'tiny', (tiny_sam2_config, build_tiny_sam2), force=True)
