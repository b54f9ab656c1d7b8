"""SAM-HQ quasi-superpixels: HQ-SAM (``segment-anything-hq``) with the
FMA-WSSS level pipeline of :class:`~.levelled_amg.LevelledMaskGenerator`.

HQ-SAM keeps SAM's image encoder, prompt encoder and mask decoder and adds
an HQ output token whose mask is decoded from a fusion of early ViT features
and the decoder's upscaled embedding. Its own automatic mask generator
(``segment_anything_hq.SamAutomaticMaskGenerator``) keeps, per point, only
the best of SAM's three multimask outputs, plus the HQ mask (logits added).
FMA-WSSS needs all three levels, so :meth:`SAMHQQuasiSuperpixelGenerator.
_predict_levels` decodes every point once and returns, for each level ``k``,
HQ-SAM's own fusion applied to that level: ``logits_k + logits_hq`` (what
HQ-SAM outputs for the level it selects, ``hq_token_only=False``), with the
IoU prediction of level ``k``. For the level HQ-SAM would pick (highest
predicted IoU) this equals HQ-SAM's multimask output exactly (tested).

Weights: the official checkpoints (``sam_hq_vit_{h,l,b}.pth``, full model
state dicts in HQ-SAM's key layout) are local files; nothing is downloaded.
``'tiny'`` is a small random architecture for tests.
"""
from functools import partial
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from torch import nn

from mmseg.registry import MODELS
from .levelled_amg import LevelledMaskGenerator
from .mask_generator import warn_random_weights, weights_identity
from .sam_builder import (check_checkpoint_args, resolve_device,
                          smooth_transposed_convs)

__all__ = [
    'SAM_HQ_CHECKPOINT_URLS', 'SAM_HQ_MODEL_TYPES', 'build_sam_hq_model',
    'build_tiny_sam_hq', 'SAMHQQuasiSuperpixelGenerator'
]

#: Official HQ-SAM checkpoints (the SysCV/sam-hq README).
SAM_HQ_CHECKPOINT_URLS: Dict[str, str] = {
    t: f'https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_{t}.pth'
    for t in ('vit_h', 'vit_l', 'vit_b')
}

SAM_HQ_MODEL_TYPES = ('vit_h', 'vit_l', 'vit_b', 'tiny')

HW = Tuple[int, ...]


def _import_hq() -> Any:
    try:
        import segment_anything_hq
    except ImportError as err:
        raise ImportError(
            'SAM-HQ needs the segment-anything-hq package: pip install '
            'segment-anything-hq==0.3 (requirements/pinned.txt).') from err
    return segment_anything_hq


def build_tiny_sam_hq() -> nn.Module:
    """A small randomly initialised HQ-SAM with the official structure.

    :func:`~.sam_builder.build_tiny_sam`'s sizes (256 px input, patch 16,
    2 ViT blocks of width 32, the last one global so it provides HQ-SAM's
    early feature) with HQ-SAM's ``MaskDecoderHQ`` (``vit_dim`` 32) and the
    same smoothing of the transposed convolutions (also of the HQ feature
    branch) so random masks are blobs, not pixel noise.

    Returns:
        nn.Module: ``segment_anything_hq.modeling.Sam`` in eval mode, CPU.
    """
    _import_hq()
    from segment_anything_hq.modeling import (ImageEncoderViT, MaskDecoderHQ,
                                              PromptEncoder, Sam,
                                              TwoWayTransformer)
    dim, image_size, patch = 32, 256, 16
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=2,
            embed_dim=32,
            img_size=image_size,
            mlp_ratio=2,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=2,
            patch_size=patch,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=(1, ),
            window_size=4,
            out_chans=dim),
        prompt_encoder=PromptEncoder(
            embed_dim=dim,
            image_embedding_size=(image_size // patch, image_size // patch),
            input_image_size=(image_size, image_size),
            mask_in_chans=8),
        mask_decoder=MaskDecoderHQ(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=1, embedding_dim=dim, mlp_dim=64, num_heads=2),
            transformer_dim=dim,
            iou_head_depth=3,
            iou_head_hidden_dim=32,
            vit_dim=32),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])
    smooth_transposed_convs(sam.mask_decoder)
    return sam.eval()


def build_sam_hq_model(model_type: str = 'vit_h',
                       checkpoint: Optional[str] = None,
                       random_init: bool = False,
                       seed: int = 0,
                       device: Optional[str] = None) -> nn.Module:
    """Build an HQ-SAM model.

    Args:
        model_type (str): ``'vit_h'``, ``'vit_l'``, ``'vit_b'`` or ``'tiny'``.
        checkpoint (str, optional): Local path of the weights (HQ-SAM's key
            layout: the full ``Sam`` state dict incl. ``mask_decoder.hf_*``).
        random_init (bool): Allow an official architecture without a
            checkpoint (benchmarks and tests only).
        seed (int): Seed of the random initialisation.
        device (str, optional): None -> cuda if available, else cpu.

    Returns:
        nn.Module: The model in eval mode on ``device``.

    Raises:
        KeyError: Unknown ``model_type``.
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: An official architecture with neither a checkpoint nor
            ``random_init``.
        RuntimeError: The checkpoint does not fit the architecture.
    """
    if model_type not in SAM_HQ_MODEL_TYPES:
        raise KeyError(f'Unknown SAM-HQ model_type {model_type!r}; expected '
                       f'one of {SAM_HQ_MODEL_TYPES}.')
    url = SAM_HQ_CHECKPOINT_URLS.get(model_type)
    check_checkpoint_args('SAM-HQ', model_type, checkpoint, random_init, url)
    hq = _import_hq()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if model_type == 'tiny':
            sam = build_tiny_sam_hq()
        else:
            sam = hq.sam_model_registry[model_type](checkpoint=None)
    if checkpoint is not None:
        from .sam_builder import _load_state_dict
        try:
            sam.load_state_dict(_load_state_dict(checkpoint), strict=True)
        except RuntimeError as err:
            raise RuntimeError(
                f'SAM-HQ checkpoint {checkpoint} does not fit model_type '
                f'{model_type!r}: {err}') from err
    return sam.eval().to(resolve_device(device))


@MODELS.register_module()
class SAMHQQuasiSuperpixelGenerator(LevelledMaskGenerator):
    """FMA-WSSS quasi-superpixels from HQ-SAM (three levels + HQ token).

    Args:
        model_type (str): ``'vit_h'`` / ``'vit_l'`` / ``'vit_b'`` / ``'tiny'``.
        checkpoint (str, optional): Local path of the HQ-SAM weights.
        random_init (bool): Random weights for an official architecture.
        seed (int): Seed of a random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        **kwargs: AMG parameters and the three changes, as
            :class:`~.mask_generator.SAMQuasiSuperpixelGenerator` (the
            paper's values by default).
    """

    family = 'sam_hq'

    def __init__(self,
                 model_type: str = 'vit_h',
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 seed: int = 0,
                 device: Optional[str] = None,
                 **kwargs: Any) -> None:
        model = build_sam_hq_model(
            model_type,
            checkpoint=checkpoint,
            random_init=random_init,
            seed=seed,
            device=device)
        warn_random_weights(f'SAM-HQ {model_type}', checkpoint, seed)
        from segment_anything_hq import SamPredictor
        super().__init__(
            SamPredictor(model),
            model_type=model_type,
            weights=weights_identity(checkpoint, seed),
            extra_fingerprint=dict(levels='sam_k+hq'),
            **kwargs)
        self.checkpoint = checkpoint

    def _predict_levels(self, points: np.ndarray,
                        im_size: HW) -> Tuple[torch.Tensor, torch.Tensor]:
        """Each of SAM's three levels fused with the HQ mask.

        Args:
            points (np.ndarray): (B, 2) prompts in crop pixels (x, y).
            im_size (tuple): Crop (H, W).

        Returns:
            tuple[Tensor, Tensor]: (B, 3, H, W) logits ``sam_k + hq`` at
            crop size, (B, 3) IoU predictions of the levels.
        """
        pred = self.predictor
        sam = pred.model
        coords = torch.as_tensor(
            pred.transform.apply_coords(points, im_size),
            dtype=torch.float,
            device=pred.device)
        labels = torch.ones(
            coords.shape[0], dtype=torch.int, device=pred.device)
        sparse, dense = sam.prompt_encoder(
            points=(coords[:, None, :], labels[:, None]),
            boxes=None,
            masks=None)
        dec = sam.mask_decoder
        embeddings = pred.features
        vit_features = pred.interm_features[0].permute(0, 3, 1, 2)
        hq_features = (
            dec.embedding_encoder(embeddings) +
            dec.compress_vit_feat(vit_features))
        masks, iou = dec.predict_masks(
            image_embeddings=embeddings,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            hq_features=hq_features)
        # tokens: [single, sub-part, part, whole, hq]
        n = dec.num_mask_tokens
        low_res = masks[:, 1:n - 1] + masks[:, n - 1:n]
        logits = sam.postprocess_masks(low_res, pred.input_size,
                                       pred.original_size)
        return logits, iou[:, 1:n - 1]
