"""SAM quasi-superpixels: segment-anything's automatic mask generator with
FMA-WSSS's three changes (``reference_behaviour.md`` section 1.2).

:class:`SAMQuasiSuperpixelGenerator` is the SAM (vit_h / vit_l / vit_b /
tiny) member of the :class:`~.levelled_amg.LevelledMaskGenerator` family,
which holds the pipeline and the three changes:

1. **Level-wise IoU threshold** (``score_thresh_offset``, wholes need 0.76);
2. **wholes win the within-crop NMS** (``score_nms_offset``);
3. **whole > part > sub-part filter** with ``t_r`` after
   ``postprocess_small_regions``.

SAM-HQ and SAM 2 members: :mod:`.sam_hq_generator`, :mod:`.sam2_generator`.
With the offsets at 0 and ``t_r=None`` the output equals upstream's on the
same image and weights. The stored ``predicted_iou`` is SAM's raw value.
"""
import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from segment_anything import SamPredictor
from torch import nn

from mmseg.registry import MODELS
from .levelled_amg import (ALGORITHM_VERSION, LevelledMaskGenerator,
                           check_rgb_image)
from .sam_builder import build_sam_model, checkpoint_identity

__all__ = [
    'SAMQuasiSuperpixelGenerator', 'ALGORITHM_VERSION', 'check_rgb_image',
    'weights_identity', 'warn_random_weights', 'build_generator_model'
]

HW = Tuple[int, ...]


def weights_identity(checkpoint: Optional[str], seed: int) -> str:
    """Fingerprint field of the weights: the checkpoint's identity or the
    seed of a random initialisation."""
    return (checkpoint_identity(checkpoint)
            if checkpoint else f'random-init-seed-{seed}')


def warn_random_weights(name: str, checkpoint: Optional[str],
                        seed: int) -> None:
    """Log that a generator runs on random weights (no checkpoint)."""
    if checkpoint is None:
        print_log(
            f'{name} has random weights (seed {seed}): masks are '
            'meaningless except for tests and benchmarks.',
            logger='current',
            level=logging.WARNING)


def build_generator_model(builder: Callable[..., nn.Module], name: str,
                          model_type: str, checkpoint: Optional[str],
                          random_init: bool, seed: int, device: Optional[str],
                          **extra: Any) -> Tuple[nn.Module, str]:
    """Build a mask generator's model and name its weights.

    The first step of every SAM-family generator: build the model, warn
    when its weights are random (:func:`warn_random_weights`) and identify
    them for the fingerprint (:func:`weights_identity`).

    Args:
        builder (Callable): The family's model builder (e.g.
            :func:`~.sam_builder.build_sam_model`).
        name (str): Family name for the warning (``'SAM'``, ``'SAM 2'``...).
        model_type (str): The architecture.
        checkpoint (str, optional): Local checkpoint path.
        random_init (bool): Random weights for an official architecture.
        seed (int): Seed of a random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        **extra: Further arguments of ``builder``.

    Returns:
        tuple[nn.Module, str]: The model and the identity of its weights.
    """
    model = builder(
        model_type,
        checkpoint=checkpoint,
        random_init=random_init,
        seed=seed,
        device=device,
        **extra)
    warn_random_weights(f'{name} {model_type}', checkpoint, seed)
    return model, weights_identity(checkpoint, seed)


@MODELS.register_module()
class SAMQuasiSuperpixelGenerator(LevelledMaskGenerator):
    """FMA-WSSS quasi-superpixel generator (SAM AMG + three changes).

    Defaults are the authors' config ``l2_nmsf_s1_rsw3``.

    Args:
        model_type (str): ``'vit_h'`` / ``'vit_l'`` / ``'vit_b'`` / ``'tiny'``.
        checkpoint (str, optional): Local path of the SAM weights.
        random_init (bool): Allow random weights for an official
            architecture (benchmarks/tests).
        seed (int): Seed of a random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        points_per_side, points_per_batch, pred_iou_thresh,
        stability_score_thresh, stability_score_offset, box_nms_thresh,
        crop_n_layers, crop_nms_thresh, crop_overlap_ratio,
        crop_n_points_downscale_factor, point_grids, min_mask_region_area,
        score_thresh_offset, score_nms_offset, stability_score_bias, t_r,
        filter_chunk_size: AMG parameters and the three changes, see
            :class:`~.levelled_amg.LevelledMaskGenerator` (the paper's
            values by default; the signature states them, so configs and
            tools read them from here).
    """

    def __init__(self,
                 model_type: str = 'vit_h',
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 seed: int = 0,
                 device: Optional[str] = None,
                 points_per_side: Optional[int] = 32,
                 points_per_batch: int = 256,
                 pred_iou_thresh: float = 0.86,
                 stability_score_thresh: float = 0.92,
                 stability_score_offset: float = 1.0,
                 box_nms_thresh: float = 0.7,
                 crop_n_layers: int = 1,
                 crop_nms_thresh: float = 0.7,
                 crop_overlap_ratio: float = 512 / 1500,
                 crop_n_points_downscale_factor: int = 2,
                 point_grids: Optional[List[Any]] = None,
                 min_mask_region_area: int = 100,
                 score_thresh_offset: Sequence[float] = (0.0, 0.0, 0.1),
                 score_nms_offset: Sequence[float] = (0.0, 0.0, 1.0),
                 stability_score_bias: Sequence[float] = (0.0, 0.0, 0.0),
                 t_r: Optional[float] = 0.3,
                 filter_chunk_size: int = 50) -> None:
        model, weights = build_generator_model(build_sam_model, 'SAM',
                                               model_type, checkpoint,
                                               random_init, seed, device)
        super().__init__(
            SamPredictor(model),
            model_type=model_type,
            weights=weights,
            points_per_side=points_per_side,
            points_per_batch=points_per_batch,
            pred_iou_thresh=pred_iou_thresh,
            stability_score_thresh=stability_score_thresh,
            stability_score_offset=stability_score_offset,
            box_nms_thresh=box_nms_thresh,
            crop_n_layers=crop_n_layers,
            crop_nms_thresh=crop_nms_thresh,
            crop_overlap_ratio=crop_overlap_ratio,
            crop_n_points_downscale_factor=crop_n_points_downscale_factor,
            point_grids=point_grids,
            min_mask_region_area=min_mask_region_area,
            score_thresh_offset=score_thresh_offset,
            score_nms_offset=score_nms_offset,
            stability_score_bias=stability_score_bias,
            t_r=t_r,
            filter_chunk_size=filter_chunk_size)
        self.checkpoint = checkpoint

    def _predict_levels(self, points: np.ndarray,
                        im_size: HW) -> Tuple[torch.Tensor, torch.Tensor]:
        """SAM's three multimask outputs for each point prompt (arguments
        and outputs: :meth:`LevelledMaskGenerator._predict_levels`)."""
        transformed = self.predictor.transform.apply_coords(points, im_size)
        in_points = torch.as_tensor(transformed, device=self.predictor.device)
        in_labels = torch.ones(
            in_points.shape[0], dtype=torch.int, device=in_points.device)
        masks, iou_preds, _ = self.predictor.predict_torch(
            in_points[:, None, :],
            in_labels[:, None],
            multimask_output=True,
            return_logits=True)
        return masks, iou_preds
