"""The automatic-mask-generation pipeline with FMA-WSSS's three changes,
shared by every promptable SAM-family model (SAM, SAM-HQ, SAM 2).

:class:`LevelledMaskGenerator` keeps segment-anything's AMG pipeline
(crop boxes, point grids decoded in batches of ``points_per_batch`` against
one image embedding per crop, cross-crop NMS, small-region
post-processing) and adds the three changes of ``reference_behaviour.md``
section 1.2:

1. **Level-wise IoU threshold.** Every mask carries its *level*, the index
   of the model's multimask output (0 sub-part, 1 part, 2 whole), tracked in
   the ``MaskData`` under ``'levels'`` so every filter keeps it aligned. A
   mask passes if ``predicted_iou + score_thresh_offset[level] >
   pred_iou_thresh`` (strict), i.e. wholes need 0.76 with the defaults; and
   if ``stability_score + stability_score_bias[level] >=
   stability_score_thresh``.
2. **Wholes win the within-crop NMS.** Its scores are ``predicted_iou +
   score_nms_offset[level]`` (+1 for wholes by default). The cross-crop NMS
   and the post-processing NMS are upstream's, without offsets.
3. **Whole > part > sub-part filter** with ``t_r`` after
   ``postprocess_small_regions``
   (:func:`~.mask_filter.filter_quasi_superpixels`).

A model family plugs in through four hooks, the only places that touch the
model: :meth:`_embed` (one image embedding per crop), :meth:`_release`,
:meth:`_predict_levels` (point prompts -> three levels of mask logits at
crop size and their predicted IoUs) and :attr:`mask_threshold`. With the
offsets at 0 and ``t_r=None`` a subclass's output equals its family's own
automatic mask generator on the same image and weights (tested for SAM and
SAM 2). The stored ``predicted_iou`` is the model's raw value.

The pipeline, by job: :mod:`.amg_crops` decodes the crops and point batches
(the hooks, changes 1 and 2); :mod:`.mask_data` holds the level filter
(change 3) and turns the result into annotations or a mask cache record;
this module holds the configuration, its fingerprint and the generation.
"""
import hashlib
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from segment_anything.utils.amg import MaskData, build_all_layer_point_grids

from mmwsss.io.mask_cache import SAMMaskRecord, config_fingerprint
from .amg_crops import LevelledCropAMG
from .mask_data import (check_rgb_image, filter_mask_data_levels,
                        mask_data_annotations, mask_data_record,
                        xyxy_to_xywh)

__all__ = [
    'LevelledMaskGenerator', 'ALGORITHM_VERSION', 'check_rgb_image',
    'make_point_grids', 'xyxy_to_xywh'
]

#: Bumped whenever the generation changes the masks it makes for the same
#: config and weights; part of :attr:`LevelledMaskGenerator.fingerprint`.
ALGORITHM_VERSION = 'fma-amg-v1'

#: Multimask levels a promptable model answers each point with.
NUM_LEVELS = 3

#: Per-level offsets by name (``score_thresh_offset``, ...), as configured.
LevelOffsets = Dict[str, Sequence[float]]


def _level_table(values: Sequence[float], name: str,
                 device: torch.device) -> torch.Tensor:
    table = torch.as_tensor(values, dtype=torch.float32, device=device)
    if table.shape != (NUM_LEVELS, ):
        raise ValueError(f'sam_generator.{name} must hold 3 values (sub-part,'
                         f' part, whole), got {list(values)!r}.')
    return table


def make_point_grids(point_grids: Optional[List[Any]],
                     points_per_side: Optional[int], crop_n_layers: int,
                     crop_n_points_downscale_factor: int) -> List[np.ndarray]:
    """The normalised (x, y) prompt grid of every crop layer.

    Args:
        point_grids (list, optional): Explicit grids, one per crop layer
            (float64 copies are returned).
        points_per_side (int, optional): Side of the layer-0 grid, used
            when ``point_grids`` is None (upstream's layer grids).
        crop_n_layers (int): Crop layers; one grid each plus the image's.
        crop_n_points_downscale_factor (int): Grid downscale per layer.

    Returns:
        list[np.ndarray]: (N_i, 2) grids.

    Raises:
        ValueError: Neither argument, or fewer grids than layers.
    """
    if point_grids is not None:
        grids = [np.asarray(g, dtype=np.float64) for g in point_grids]
    elif points_per_side is not None:
        grids = build_all_layer_point_grids(points_per_side, crop_n_layers,
                                            crop_n_points_downscale_factor)
    else:
        raise ValueError('sam_generator needs points_per_side or '
                         'point_grids.')
    if len(grids) < crop_n_layers + 1:
        raise ValueError(f'sam_generator.point_grids has {len(grids)} '
                         f'grid(s); crop_n_layers={crop_n_layers} needs '
                         f'{crop_n_layers + 1}.')
    return grids


class LevelledMaskGenerator(LevelledCropAMG):
    """AMG + FMA-WSSS's three changes for any promptable SAM-family model.

    Subclasses build their model and predictor, call this ``__init__`` with
    the predictor, and implement the hooks of
    :class:`~.amg_crops.LevelledCropAMG` (which decodes the crops and point
    batches, changes 1 and 2). This class holds the configuration and its
    fingerprint, the level filter (change 3) and the outputs.

    Args:
        predictor (Any): The family's predictor (kept as ``self.predictor``).
        model_type (str): Architecture name (fingerprint, logs).
        weights (str): Identity of the weights (checkpoint identity or
            ``random-init-seed-N``).
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
        extra_fingerprint (dict, optional): Family-specific fields that
            change the masks; when given they enter the fingerprint, whose
            prefix then names the family.

    Defaults are the authors' config ``l2_nmsf_s1_rsw3``.
    """

    #: Family name: fingerprint prefix (except for plain SAM, whose
    #: fingerprints predate the other families) and log messages.
    family = 'sam'

    def __init__(self,
                 predictor: Any,
                 model_type: str,
                 weights: str,
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
                 filter_chunk_size: int = 50,
                 extra_fingerprint: Optional[Dict[str, Any]] = None) -> None:
        self.point_grids = make_point_grids(point_grids, points_per_side,
                                            crop_n_layers,
                                            crop_n_points_downscale_factor)
        self.predictor = predictor
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        self.box_nms_thresh = float(box_nms_thresh)
        self.crop_n_layers = int(crop_n_layers)
        self.crop_nms_thresh = float(crop_nms_thresh)
        self.crop_overlap_ratio = float(crop_overlap_ratio)
        self.crop_n_points_downscale_factor = int(
            crop_n_points_downscale_factor)
        self.min_mask_region_area = int(min_mask_region_area)
        self.output_mode = 'uncompressed_rle'

        dev = self.device
        self.score_thresh_offset = _level_table(score_thresh_offset,
                                                'score_thresh_offset', dev)
        self.score_nms_offset = _level_table(score_nms_offset,
                                             'score_nms_offset', dev)
        self.stability_score_bias = _level_table(stability_score_bias,
                                                 'stability_score_bias', dev)
        self.t_r = None if t_r is None else float(t_r)
        self.filter_chunk_size = int(filter_chunk_size)
        self.model_type = model_type
        offsets = dict(
            score_thresh_offset=score_thresh_offset,
            score_nms_offset=score_nms_offset,
            stability_score_bias=stability_score_bias)
        self._set_fingerprint(weights, offsets, extra_fingerprint)

    def _set_fingerprint(self, weights: str, offsets: LevelOffsets,
                         extra: Optional[Dict[str, Any]]) -> None:
        """Hash everything that changes the masks into :attr:`fingerprint`.

        Args:
            weights (str): Identity of the weights.
            offsets (dict): The per-level offsets as given (their float
                values enter the hash, not the float32 tables).
            extra (dict, optional): Family-specific fields; when given, the
                family enters the fields and the prefix.
        """
        fields = dict(
            algorithm=ALGORITHM_VERSION,
            model_type=self.model_type,
            weights=weights,
            point_grids=hashlib.sha256(
                np.concatenate([g.ravel() for g in self.point_grids
                                ]).astype(np.float64).tobytes()).hexdigest(),
            pred_iou_thresh=self.pred_iou_thresh,
            stability_score_thresh=self.stability_score_thresh,
            stability_score_offset=self.stability_score_offset,
            box_nms_thresh=self.box_nms_thresh,
            crop_n_layers=self.crop_n_layers,
            crop_nms_thresh=self.crop_nms_thresh,
            crop_overlap_ratio=self.crop_overlap_ratio,
            min_mask_region_area=self.min_mask_region_area,
            **{
                name: [float(v) for v in values]
                for name, values in offsets.items()
            },
            t_r=self.t_r)
        prefix = self.model_type
        if extra:
            fields.update(family=self.family, **extra)
            prefix = f'{self.family}-{self.model_type}'
        self._fingerprint_fields = fields
        self._fingerprint = config_fingerprint(prefix, fields)

    @property
    def fingerprint(self) -> str:
        """Identity of the config + weights; stored in every cache file.

        A hash of everything that changes the masks (algorithm version,
        family, architecture, checkpoint basename/size/partial hash or
        random seed, point grids, thresholds, offsets, ``t_r``), not of what
        only changes speed or memory (``points_per_batch``, device, chunk
        size).
        """
        return self._fingerprint

    def filter_levels(self, data: MaskData) -> MaskData:
        """Change 3: the whole > part > sub-part filter, in place
        (:func:`~.mask_data.filter_mask_data_levels`; nothing when ``t_r`` is
        None).

        Args:
            data (MaskData): Post-processed masks (numpy fields, ``rles``,
                ``levels``).

        Returns:
            MaskData: The kept masks, wholes first.
        """
        if self.t_r is None:
            return data
        return filter_mask_data_levels(data, self.t_r, self.device,
                                       self.filter_chunk_size)

    # ------------------------------------------------------------------
    # Outputs
    # ------------------------------------------------------------------
    @torch.no_grad()
    def generate_mask_data(self, image: np.ndarray) -> MaskData:
        """Run the whole generation and return the ``MaskData``.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            MaskData: numpy fields ``rles``, ``boxes`` (XYXY), ``iou_preds``,
            ``stability_score``, ``levels``, ``points``, ``crop_boxes``.
        """
        check_rgb_image(image)
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
            ``crop_box`` (XYWH), ``level`` per mask
            (:func:`~.mask_data.mask_data_annotations`).
        """
        return mask_data_annotations(self.generate_mask_data(image))

    def generate_record(self, image: np.ndarray) -> SAMMaskRecord:
        """Quasi-superpixels of one image, ready for the mask cache.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            SAMMaskRecord: RLE masks, levels, predicted IoU, stability score,
            XYWH boxes, the image size and :attr:`fingerprint`.
        """
        return mask_data_record(
            self.generate_mask_data(image), image.shape[:2], self.fingerprint)
