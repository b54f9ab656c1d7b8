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
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from segment_anything import SamPredictor

from mmseg.registry import MODELS
from .levelled_amg import (ALGORITHM_VERSION, LevelledMaskGenerator,
                           check_rgb_image)
from .sam_builder import build_sam_model, checkpoint_identity

__all__ = [
    'SAMQuasiSuperpixelGenerator', 'ALGORITHM_VERSION', 'check_rgb_image',
    'weights_identity', 'warn_random_weights'
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
        points_per_side (int, optional): Prompt grid of crop layer 0.
        points_per_batch (int): Prompts decoded per model call (memory /
            speed only).
        pred_iou_thresh (float): Predicted-IoU threshold (strict ``>``).
        stability_score_thresh (float): Stability threshold (``>=``).
        stability_score_offset (float): Logit offset of the stability score.
        box_nms_thresh (float): IoU of the within-crop box NMS.
        crop_n_layers (int): Crop layers (1: the image + 2x2 crops).
        crop_nms_thresh (float): IoU of the cross-crop box NMS.
        crop_overlap_ratio (float): Overlap of the crops.
        crop_n_points_downscale_factor (int): Grid downscale per layer.
        point_grids (list, optional): Explicit normalised (x, y) grids,
            one per crop layer; when given, ``points_per_side`` is ignored.
        min_mask_region_area (int): Holes / islands below this area are
            filled / removed (0: no post-processing).
        score_thresh_offset (Sequence[float]): Per-level offset added to
            the predicted IoU before the threshold (change 1).
        score_nms_offset (Sequence[float]): Per-level offset added to the
            predicted IoU for the within-crop NMS (change 2).
        stability_score_bias (Sequence[float]): Per-level offset added to
            the stability score before its threshold.
        t_r (float, optional): Occupation threshold of the level filter
            (change 3); None switches the filter off.
        filter_chunk_size (int): Masks per intersection product of the
            filter (memory only).
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
        model = build_sam_model(
            model_type,
            checkpoint=checkpoint,
            random_init=random_init,
            seed=seed,
            device=device)
        warn_random_weights(f'SAM {model_type}', checkpoint, seed)
        super().__init__(
            SamPredictor(model),
            model_type=model_type,
            weights=weights_identity(checkpoint, seed),
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
        """SAM's three multimask outputs for each point prompt.

        Args:
            points (np.ndarray): (B, 2) prompts in crop pixels (x, y).
            im_size (tuple): Crop (H, W).

        Returns:
            tuple[Tensor, Tensor]: (B, 3, H, W) logits, (B, 3) IoUs.
        """
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
