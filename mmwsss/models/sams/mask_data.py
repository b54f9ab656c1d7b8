"""The generation's ``MaskData`` after the crops: FMA-WSSS's level filter
(change 3) and the outputs (upstream-style annotations, the mask cache's
:class:`~mmwsss.io.mask_cache.SAMMaskRecord`).
"""
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
from segment_anything.utils.amg import MaskData, area_from_rle

from mmwsss.functional.mask_filter import filter_quasi_superpixels
from mmwsss.io.mask_cache import SAMMaskRecord, rle_to_dense

__all__ = [
    'filter_mask_data_levels', 'mask_data_annotations', 'mask_data_record',
    'check_rgb_image', 'xyxy_to_xywh'
]


def filter_mask_data_levels(data: MaskData, t_r: float,
                            device: torch.device,
                            chunk_size: int) -> MaskData:
    """Change 3: the whole > part > sub-part filter, in place.

    Args:
        data (MaskData): Post-processed masks (numpy fields, ``rles``,
            ``levels``).
        t_r (float): Occupation threshold.
        device (torch.device): Where the intersections are computed.
        chunk_size (int): Masks per intersection product (memory only).

    Returns:
        MaskData: The kept masks, wholes first (see
        :func:`~mmwsss.functional.mask_filter.filter_quasi_superpixels`).
    """
    if len(data['rles']) == 0:
        return data
    rles = data['rles']
    h, w = rles[0]['size']
    lens = [len(r['counts']) for r in rles]
    counts = np.concatenate([np.asarray(r['counts'], np.int64) for r in rles])
    offsets = np.concatenate([[0], np.cumsum(lens)])
    dense = torch.from_numpy(rle_to_dense(counts, offsets, (h, w)))
    keep = filter_quasi_superpixels(
        dense.to(device),
        np.asarray(data['levels']),
        t_r=t_r,
        chunk_size=chunk_size)
    data.filter(torch.from_numpy(keep))
    return data


def mask_data_annotations(data: MaskData) -> List[Dict[str, Any]]:
    """Upstream-style records (uncompressed RLE) plus ``'level'``.

    Args:
        data (MaskData): The generation's output (numpy fields).

    Returns:
        list[dict]: ``segmentation``, ``area``, ``bbox`` (XYWH),
        ``predicted_iou``, ``point_coords``, ``stability_score``,
        ``crop_box`` (XYWH), ``level`` per mask.
    """
    anns = []
    for i, rle in enumerate(data['rles']):
        box = np.asarray(data['boxes'][i], np.float64)
        crop = np.asarray(data['crop_boxes'][i], np.float64)
        anns.append(
            dict(
                segmentation=rle,
                area=area_from_rle(rle),
                bbox=xyxy_to_xywh(box).tolist(),
                predicted_iou=float(data['iou_preds'][i]),
                point_coords=[np.asarray(data['points'][i]).tolist()],
                stability_score=float(data['stability_score'][i]),
                crop_box=xyxy_to_xywh(crop).tolist(),
                level=int(data['levels'][i])))
    return anns


def mask_data_record(data: MaskData, image_size: Tuple[int, int],
                     fingerprint: str) -> SAMMaskRecord:
    """The generation's output as a mask cache record.

    Args:
        data (MaskData): The generation's output (numpy fields).
        image_size (tuple[int, int]): Image (H, W).
        fingerprint (str): The generator's fingerprint.

    Returns:
        SAMMaskRecord: RLE masks, levels, predicted IoU, stability score,
        XYWH boxes, the image size and the fingerprint.
    """
    n = len(data['rles'])
    boxes = np.asarray(data['boxes'], np.float32).reshape(n, 4)
    return SAMMaskRecord.from_rles(
        data['rles'],
        levels=np.asarray(data['levels']).reshape(n),
        predicted_iou=np.asarray(data['iou_preds']).reshape(n),
        stability_score=np.asarray(data['stability_score']).reshape(n),
        image_size=image_size,
        fingerprint=fingerprint,
        bbox=xyxy_to_xywh(boxes))


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """XYXY boxes (..., 4) -> XYWH, as a new array."""
    out = np.array(boxes, copy=True)
    out[..., 2:] = out[..., 2:] - out[..., :2]
    return out


def check_rgb_image(image: Any) -> None:
    """Raise ValueError unless ``image`` is an HWC uint8 RGB array."""
    if not (isinstance(image, np.ndarray) and image.ndim == 3
            and image.shape[2] == 3 and image.dtype == np.uint8):
        desc = (f'{type(image).__name__} {getattr(image, "dtype", "")} '
                f'{getattr(image, "shape", "")}')
        raise ValueError('SAM mask generation needs an HWC uint8 RGB image, '
                         f'got {desc}.')
