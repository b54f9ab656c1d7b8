"""SAM quasi-superpixels: segment-anything's automatic mask generator with
FMA-WSSS's three changes (``reference_behaviour.md`` section 1.2).

:class:`SAMQuasiSuperpixelGenerator` subclasses
:class:`segment_anything.SamAutomaticMaskGenerator` and keeps its pipeline
(crop boxes, point grids decoded in batches of ``points_per_batch`` against
one image embedding per crop, cross-crop NMS, small-region post-processing)
with these changes:

1. **Level-wise IoU threshold.** Every mask carries its *level*, the index
   of SAM's multimask output (0 sub-part, 1 part, 2 whole), tracked in the
   ``MaskData`` under ``'levels'`` so every filter keeps it aligned. A mask
   passes if ``predicted_iou + score_thresh_offset[level] > pred_iou_thresh``
   (strict), i.e. wholes need 0.76 with the defaults; and if
   ``stability_score + stability_score_bias[level] >=
   stability_score_thresh``.
2. **Wholes win the within-crop NMS.** Its scores are ``predicted_iou +
   score_nms_offset[level]`` (+1 for wholes by default). The cross-crop NMS
   and the post-processing NMS are upstream's, without offsets.
3. **Whole > part > sub-part filter** with ``t_r`` after
   ``postprocess_small_regions``
   (:func:`~.mask_filter.filter_quasi_superpixels`).

With the offsets at 0 and ``t_r=None`` the output equals upstream's on the
same image and weights. The stored ``predicted_iou`` is SAM's raw value.
"""
import hashlib
import json
import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.amg import (MaskData, area_from_rle,
                                        batch_iterator, batched_mask_to_box,
                                        calculate_stability_score,
                                        is_box_near_crop_edge,
                                        mask_to_rle_pytorch, uncrop_boxes_xyxy,
                                        uncrop_masks, uncrop_points)
from torchvision.ops.boxes import batched_nms

from mmseg.registry import MODELS
from .mask_cache import SAMMaskRecord, rle_to_dense
from .mask_filter import filter_quasi_superpixels
from .sam_builder import build_sam_model, checkpoint_identity

__all__ = ['SAMQuasiSuperpixelGenerator', 'ALGORITHM_VERSION']

#: Bumped whenever the generation changes the masks it makes for the same
#: config and weights; part of :attr:`SAMQuasiSuperpixelGenerator.fingerprint`.
ALGORITHM_VERSION = 'fma-amg-v1'

HW = Tuple[int, ...]


def _level_table(values: Sequence[float], name: str,
                 device: torch.device) -> torch.Tensor:
    table = torch.as_tensor(values, dtype=torch.float32, device=device)
    if table.shape != (3, ):
        raise ValueError(f'sam_generator.{name} must hold 3 values (sub-part,'
                         f' part, whole), got {list(values)!r}.')
    return table


@MODELS.register_module()
class SAMQuasiSuperpixelGenerator(SamAutomaticMaskGenerator):
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
        if checkpoint is None:
            print_log(
                f'SAM {model_type} has random weights (seed {seed}): masks '
                'are meaningless except for tests and benchmarks.',
                logger='current',
                level=logging.WARNING)
        if point_grids is not None:
            point_grids = [
                np.asarray(g, dtype=np.float64) for g in point_grids
            ]
            points_per_side = None
        super().__init__(
            model,
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
            output_mode='uncompressed_rle')
        dev = self.predictor.device
        self.score_thresh_offset = _level_table(score_thresh_offset,
                                                'score_thresh_offset', dev)
        self.score_nms_offset = _level_table(score_nms_offset,
                                             'score_nms_offset', dev)
        self.stability_score_bias = _level_table(stability_score_bias,
                                                 'stability_score_bias', dev)
        self.t_r = None if t_r is None else float(t_r)
        self.filter_chunk_size = int(filter_chunk_size)
        self.model_type = model_type
        self.checkpoint = checkpoint
        self._fingerprint_fields = dict(
            algorithm=ALGORITHM_VERSION,
            model_type=model_type,
            weights=(checkpoint_identity(checkpoint)
                     if checkpoint else f'random-init-seed-{seed}'),
            point_grids=hashlib.sha256(
                np.concatenate([g.ravel() for g in self.point_grids
                                ]).astype(np.float64).tobytes()).hexdigest(),
            pred_iou_thresh=float(pred_iou_thresh),
            stability_score_thresh=float(stability_score_thresh),
            stability_score_offset=float(stability_score_offset),
            box_nms_thresh=float(box_nms_thresh),
            crop_n_layers=int(crop_n_layers),
            crop_nms_thresh=float(crop_nms_thresh),
            crop_overlap_ratio=float(crop_overlap_ratio),
            min_mask_region_area=int(min_mask_region_area),
            score_thresh_offset=[float(v) for v in score_thresh_offset],
            score_nms_offset=[float(v) for v in score_nms_offset],
            stability_score_bias=[float(v) for v in stability_score_bias],
            t_r=self.t_r)
        blob = json.dumps(self._fingerprint_fields, sort_keys=True)
        self._fingerprint = (
            f'{model_type}-'
            f'{hashlib.sha256(blob.encode()).hexdigest()[:20]}')

    @property
    def fingerprint(self) -> str:
        """Identity of the config + weights; stored in every cache file.

        A hash of everything that changes the masks (algorithm version,
        architecture, checkpoint basename/size/partial hash or random seed,
        point grids, thresholds, offsets, ``t_r``), not of what only
        changes speed or memory (``points_per_batch``, device, chunk size).
        """
        return self._fingerprint

    @property
    def device(self) -> torch.device:
        """Device SAM runs on."""
        return self.predictor.device

    # ------------------------------------------------------------------
    # The three changes
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
        transformed = self.predictor.transform.apply_coords(points, im_size)
        in_points = torch.as_tensor(transformed, device=self.predictor.device)
        in_labels = torch.ones(
            in_points.shape[0], dtype=torch.int, device=in_points.device)
        masks, iou_preds, _ = self.predictor.predict_torch(
            in_points[:, None, :],
            in_labels[:, None],
            multimask_output=True,
            return_logits=True)
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
            data['masks'], self.predictor.model.mask_threshold,
            self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            stab = data['stability_score'] + self.stability_score_bias[
                data['levels']]
            data.filter(stab >= self.stability_score_thresh)

        data['masks'] = data['masks'] > self.predictor.model.mask_threshold
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
        self.predictor.set_image(cropped)

        points_scale = np.array(cropped_size)[None, ::-1]
        points_for_image = self.point_grids[crop_layer_idx] * points_scale

        data = MaskData()
        for (points, ) in batch_iterator(self.points_per_batch,
                                         points_for_image):
            data.cat(
                self._process_batch(points, cropped_size, crop_box, orig_size))
        self.predictor.reset_image()

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

    def filter_levels(self, data: MaskData) -> MaskData:
        """Change 3: the whole > part > sub-part filter, in place.

        Args:
            data (MaskData): Post-processed masks (numpy fields, ``rles``,
                ``levels``).

        Returns:
            MaskData: The kept masks, wholes first (see
            :func:`~.mask_filter.filter_quasi_superpixels`).
        """
        if self.t_r is None or len(data['rles']) == 0:
            return data
        rles = data['rles']
        h, w = rles[0]['size']
        lens = [len(r['counts']) for r in rles]
        counts = np.concatenate(
            [np.asarray(r['counts'], np.int64) for r in rles])
        offsets = np.concatenate([[0], np.cumsum(lens)])
        dense = torch.from_numpy(rle_to_dense(counts, offsets, (h, w)))
        keep = filter_quasi_superpixels(
            dense.to(self.device),
            np.asarray(data['levels']),
            t_r=self.t_r,
            chunk_size=self.filter_chunk_size)
        data.filter(torch.from_numpy(keep))
        return data

    # ------------------------------------------------------------------
    # Outputs
    # ------------------------------------------------------------------
    @torch.no_grad()
    def generate_mask_data(self, image: np.ndarray) -> MaskData:
        """Run the whole generation and return SAM's ``MaskData``.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            MaskData: numpy fields ``rles``, ``boxes`` (XYXY), ``iou_preds``,
            ``stability_score``, ``levels``, ``points``, ``crop_boxes``.
        """
        _check_image(image)
        data = self._generate_masks(image)
        if self.min_mask_region_area > 0:
            data = self.postprocess_small_regions(
                data, self.min_mask_region_area,
                max(self.box_nms_thresh, self.crop_nms_thresh))
        return self.filter_levels(data)

    def generate(self, image: np.ndarray) -> List[Dict[str, Any]]:
        """Upstream-style records (uncompressed RLE) plus ``'level'``.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            list[dict]: ``segmentation``, ``area``, ``bbox`` (XYWH),
            ``predicted_iou``, ``point_coords``, ``stability_score``,
            ``crop_box`` (XYWH), ``level`` per mask.
        """
        data = self.generate_mask_data(image)
        anns = []
        for i, rle in enumerate(data['rles']):
            box = np.asarray(data['boxes'][i], np.float64)
            crop = np.asarray(data['crop_boxes'][i], np.float64)
            anns.append(
                dict(
                    segmentation=rle,
                    area=area_from_rle(rle),
                    bbox=_xyxy_to_xywh(box).tolist(),
                    predicted_iou=float(data['iou_preds'][i]),
                    point_coords=[np.asarray(data['points'][i]).tolist()],
                    stability_score=float(data['stability_score'][i]),
                    crop_box=_xyxy_to_xywh(crop).tolist(),
                    level=int(data['levels'][i])))
        return anns

    def generate_record(self, image: np.ndarray) -> SAMMaskRecord:
        """Quasi-superpixels of one image, ready for the mask cache.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            SAMMaskRecord: RLE masks, levels, predicted IoU, stability score,
            XYWH boxes, the image size and :attr:`fingerprint`.
        """
        data = self.generate_mask_data(image)
        n = len(data['rles'])
        boxes = np.asarray(data['boxes'], np.float32).reshape(n, 4)
        return SAMMaskRecord.from_rles(
            data['rles'],
            levels=np.asarray(data['levels']).reshape(n),
            predicted_iou=np.asarray(data['iou_preds']).reshape(n),
            stability_score=np.asarray(data['stability_score']).reshape(n),
            image_size=image.shape[:2],
            fingerprint=self.fingerprint,
            bbox=_xyxy_to_xywh(boxes))


def _xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    out = np.array(boxes, copy=True)
    out[..., 2:] = out[..., 2:] - out[..., :2]
    return out


def _check_image(image: Any) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3
            and image.shape[2] == 3 and image.dtype == np.uint8):
        desc = (f'{type(image).__name__} {getattr(image, "dtype", "")} '
                f'{getattr(image, "shape", "")}')
        raise ValueError('SAM mask generation needs an HWC uint8 RGB image, '
                         f'got {desc}.')
