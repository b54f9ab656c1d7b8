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
``'tiny'``, a small random architecture for tests, is added to
:data:`SAM_HQ_ARCHITECTURES` by :mod:`mmwsss.testing`.
"""
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
from torch import nn

from mmseg.registry import MODELS
from ..architectures import ArchitectureTable
from .levelled_amg import LevelledMaskGenerator
from .mask_generator import build_generator_model
from .sam_builder import build_seeded_model, check_checkpoint_args

__all__ = [
    'SAM_HQ_CHECKPOINT_URLS', 'SAM_HQ_ARCHITECTURES', 'build_sam_hq_model',
    'SAMHQQuasiSuperpixelGenerator'
]

#: Official HQ-SAM checkpoints (the SysCV/sam-hq README).
SAM_HQ_CHECKPOINT_URLS: Dict[str, str] = {
    t: f'https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_{t}.pth'
    for t in ('vit_h', 'vit_l', 'vit_b')
}

HW = Tuple[int, ...]


def import_sam_hq() -> Any:
    """The ``segment_anything_hq`` package (an optional dependency)."""
    try:
        import segment_anything_hq
    except ImportError as err:
        raise ImportError(
            'SAM-HQ needs the segment-anything-hq package: pip install '
            'segment-anything-hq==0.3 (requirements/pinned.txt).') from err
    return segment_anything_hq


def _official(model_type: str) -> Callable[[], nn.Module]:
    """Constructor of an official HQ-SAM architecture (random weights)."""

    def construct() -> nn.Module:
        return import_sam_hq().sam_model_registry[model_type](checkpoint=None)

    return construct


#: model_type -> constructor of the random model (no arguments).
SAM_HQ_ARCHITECTURES = ArchitectureTable(
    'SAM-HQ', {t: _official(t)
               for t in ('vit_h', 'vit_l', 'vit_b')})


def build_sam_hq_model(model_type: str = 'vit_h',
                       checkpoint: Optional[str] = None,
                       random_init: bool = False,
                       seed: int = 0,
                       device: Optional[str] = None) -> nn.Module:
    """Build an HQ-SAM model.

    Args:
        model_type (str): A key of :data:`SAM_HQ_ARCHITECTURES` (``'vit_h'``,
            ``'vit_l'``, ``'vit_b'``; ``'tiny'`` from :mod:`mmwsss.testing`).
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
    construct = SAM_HQ_ARCHITECTURES.get(model_type)
    url = SAM_HQ_CHECKPOINT_URLS.get(model_type)
    check_checkpoint_args('SAM-HQ', model_type, checkpoint, random_init, url)
    import_sam_hq()
    return build_seeded_model('SAM-HQ', model_type, construct, checkpoint,
                              seed, device)


@MODELS.register_module()
class SAMHQQuasiSuperpixelGenerator(LevelledMaskGenerator):
    """FMA-WSSS quasi-superpixels from HQ-SAM (three levels + HQ token).

    Args:
        model_type (str): ``'vit_h'`` / ``'vit_l'`` / ``'vit_b'`` / ``'tiny'``.
        checkpoint (str, optional): Local path of the HQ-SAM weights.
        random_init (bool): Random weights for an official architecture.
        seed (int): Seed of a random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        **kwargs: AMG parameters and the three changes, see
            :class:`~.levelled_amg.LevelledMaskGenerator` (the paper's
            values by default).
    """

    family = 'sam_hq'

    def __init__(self,
                 model_type: str = 'vit_h',
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 seed: int = 0,
                 device: Optional[str] = None,
                 **kwargs: Any) -> None:
        model, weights = build_generator_model(build_sam_hq_model, 'SAM-HQ',
                                               model_type, checkpoint,
                                               random_init, seed, device)
        from segment_anything_hq import SamPredictor
        super().__init__(
            SamPredictor(model),
            model_type=model_type,
            weights=weights,
            extra_fingerprint=dict(levels='sam_k+hq'),
            **kwargs)
        self.checkpoint = checkpoint

    def _predict_levels(self, points: np.ndarray,
                        im_size: HW) -> Tuple[torch.Tensor, torch.Tensor]:
        """Each of SAM's three levels fused with the HQ mask: logits
        ``sam_k + hq`` and the IoU predictions of the levels (arguments and
        outputs: :meth:`LevelledMaskGenerator._predict_levels`)."""
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
