"""Segment-anything's automatic mask generation over crops and point
batches, with the first two of FMA-WSSS's changes
(``reference_behaviour.md`` section 1.2), for any promptable SAM-family
model.

:class:`LevelledCropAMG` keeps upstream's crop boxes and point grids decoded
in batches of ``points_per_batch`` against one image embedding per crop,
and tracks each mask's *level* (the index of the model's multimask output: 0
sub-part, 1 part, 2 whole) in the ``MaskData`` under ``'levels'`` so every
filter keeps it aligned:

1. **Level-wise IoU threshold**: a mask passes if ``predicted_iou +
   score_thresh_offset[level] > pred_iou_thresh`` (strict) and
   ``stability_score + stability_score_bias[level] >=
   stability_score_thresh``;
2. **Wholes win the within-crop NMS**: its scores are ``predicted_iou +
   score_nms_offset[level]``.

A model family plugs in through four hooks, the only places that touch the
model: :meth:`~LevelledCropAMG._embed`, :meth:`~LevelledCropAMG._release`,
:meth:`~LevelledCropAMG._predict_levels` and
:attr:`~LevelledCropAMG.mask_threshold`. The configuration, the level
filter (change 3) and the outputs are
:class:`~.levelled_amg.LevelledMaskGenerator`'s.
"""
from typing import List, Tuple

import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import (MaskData, batch_iterator,
                                        batched_mask_to_box,
                                        calculate_stability_score,
                                        is_box_near_crop_edge,
                                        mask_to_rle_pytorch,
                                        uncrop_boxes_xyxy, uncrop_masks,
                                        uncrop_points)
from torchvision.ops.boxes import batched_nms

__all__ = ['LevelledCropAMG']

HW = Tuple[int, ...]


class LevelledCropAMG(SamAutomaticMaskGenerator):
    """Crops and point batches of the AMG with per-level scores (changes 1
    and 2), through the model hooks of a SAM family.

    ``SamAutomaticMaskGenerator`` is the base for its family-independent
    steps (``_generate_masks``, ``postprocess_small_regions``); its own
    ``__init__`` (which wraps a SAM-1 model) is not called: the subclass
    :class:`~.levelled_amg.LevelledMaskGenerator` sets the attributes read
    here (``predictor``, ``point_grids``, ``points_per_batch``, the
    thresholds and the per-level offset tables).
    """

    @property
    def device(self) -> torch.device:
        """Device the model runs on."""
        return self.predictor.device

    # ------------------------------------------------------------------
    # Hooks of a model family
    # ------------------------------------------------------------------
    @property
    def mask_threshold(self) -> float:
        """Logit threshold that binarises masks."""
        return self.predictor.model.mask_threshold

    def _embed(self, image: np.ndarray) -> None:
        """Compute the image embedding of one crop (HWC uint8 RGB)."""
        self.predictor.set_image(image)

    def _release(self) -> None:
        """Drop the crop's embedding."""
        self.predictor.reset_image()

    def _predict_levels(self, points: np.ndarray,
                        im_size: HW) -> Tuple[torch.Tensor, torch.Tensor]:
        """Decode point prompts against the current embedding.

        Args:
            points (np.ndarray): (B, 2) prompts in crop pixels (x, y).
            im_size (tuple): Crop (H, W).

        Returns:
            tuple[Tensor, Tensor]: (B, 3, H, W) mask logits at crop size and
            (B, 3) predicted IoUs; index 0 sub-part, 1 part, 2 whole.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------
    # Changes 1 and 2
    # ------------------------------------------------------------------
    def _process_batch(self, points: np.ndarray, im_size: HW,
                       crop_box: List[int], orig_size: HW) -> MaskData:
        """Decode one batch of point prompts (upstream + levels, change 1).

        Args:
            points (np.ndarray): (B, 2) prompts in crop pixel coordinates.
            im_size (tuple): Crop (H, W).
            crop_box (list[int]): Crop XYXY in the image.
            orig_size (tuple): Image (H, W).

        Returns:
            MaskData: ``rles``, ``iou_preds``, ``stability_score``,
            ``levels``, ``boxes`` (crop frame), ``points``.
        """
        masks, iou_preds = self._predict_levels(points, im_size)
        levels = torch.arange(
            masks.shape[1], device=masks.device).expand(masks.shape[0], -1)
        data = MaskData(
            masks=masks.flatten(0, 1),
            iou_preds=iou_preds.flatten(0, 1),
            levels=levels.flatten(0, 1),
            points=torch.as_tensor(points.repeat(masks.shape[1], axis=0)))
        del masks

        # change 1: level-wise IoU threshold (strict, as upstream)
        if self.pred_iou_thresh > 0.0:
            score = data['iou_preds'] + self.score_thresh_offset[
                data['levels']]
            data.filter(score > self.pred_iou_thresh)

        data['stability_score'] = calculate_stability_score(
            data['masks'], self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            stab = data['stability_score'] + self.stability_score_bias[
                data['levels']]
            data.filter(stab >= self.stability_score_thresh)

        data['masks'] = data['masks'] > self.mask_threshold
        data['boxes'] = batched_mask_to_box(data['masks'])

        orig_h, orig_w = orig_size
        keep = ~is_box_near_crop_edge(data['boxes'], crop_box,
                                      [0, 0, orig_w, orig_h])
        if not torch.all(keep):
            data.filter(keep)

        data['masks'] = uncrop_masks(data['masks'], crop_box, orig_h, orig_w)
        data['rles'] = mask_to_rle_pytorch(data['masks'])
        del data['masks']
        return data

    def _process_crop(self, image: np.ndarray, crop_box: List[int],
                      crop_layer_idx: int, orig_size: HW) -> MaskData:
        """One crop: embed once, decode the grid in batches, NMS (change 2).

        Args:
            image (np.ndarray): The whole HWC uint8 image.
            crop_box (list[int]): Crop XYXY.
            crop_layer_idx (int): Crop layer (selects the point grid).
            orig_size (tuple): Image (H, W).

        Returns:
            MaskData: The crop's masks in image coordinates.
        """
        x0, y0, x1, y1 = crop_box
        cropped = image[y0:y1, x0:x1, :]
        cropped_size = cropped.shape[:2]
        self._embed(cropped)

        points_scale = np.array(cropped_size)[None, ::-1]
        points_for_image = self.point_grids[crop_layer_idx] * points_scale

        data = MaskData()
        for (points, ) in batch_iterator(self.points_per_batch,
                                         points_for_image):
            data.cat(
                self._process_batch(points, cropped_size, crop_box, orig_size))
        self._release()

        # change 2: within-crop NMS scores favour wholes
        nms_scores = data['iou_preds'] + self.score_nms_offset[data['levels']]
        keep = batched_nms(
            data['boxes'].float(),
            nms_scores,
            torch.zeros_like(data['boxes'][:, 0]),
            iou_threshold=self.box_nms_thresh)
        data.filter(keep)

        data['boxes'] = uncrop_boxes_xyxy(data['boxes'], crop_box)
        data['points'] = uncrop_points(data['points'], crop_box)
        # (N, 4) also when N == 0 (upstream's (0,) breaks cross-crop NMS)
        n_masks = len(data['rles'])
        data['crop_boxes'] = torch.tensor([crop_box]).repeat(n_masks, 1)
        return data
