"""SAM quasi-superpixels that follow a training crop (the paper's joint form).

The online coarse seed D_C of the joint phase (eq. 11) needs the SAM masks
of the *augmented crop*. mmcv's ``Resize`` and ``RandomFlip`` only transform
``gt_seg_map``, so :class:`LoadSAMMasks` stacks the masks as extra channels
of ``gt_seg_map`` (channel 0 keeps the label map, zeros when there is
none); every geometric transform then moves them with the label, nearest
neighbour for resizing. :class:`PackWSSSInputs` splits them off again into
``data_sample.sam_masks`` ((S, H, W) bool) and the metainfo ``sam_levels``.
Put ``LoadSAMMasks`` right after ``LoadImageFromFile`` (and
``LoadAnnotations``), and do not use ``RandomCrop(cat_max_ratio<1)`` with it
(that ratio would count the mask channels).
"""
import logging
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmwsss.io.mask_cache import rle_to_dense
from mmwsss.io.mask_source import SAMMaskSource
from mmwsss.utils import print_log_once

__all__ = ['LoadSAMMasks', 'split_sam_masks']

#: OpenCV resizes at most 512 channels; one is the label map.
MAX_MASKS = 511


@TRANSFORMS.register_module()
class LoadSAMMasks(BaseTransform):
    """Load an image's cached SAM quasi-superpixels into ``gt_seg_map``.

    Args:
        mask_dir (str): Cache folder of ``tools/gen_sam_masks.py``.
        fingerprint (str, optional): Expected SAM fingerprint.
        max_masks (int): Keep at most this many masks (wholes first, then
            parts, then sub-parts). Defaults to 511 (OpenCV's limit).

    Required keys: ``img``, ``img_path``; optional ``gt_seg_map``.
    Modified keys: ``gt_seg_map`` ((H, W, 1 + S) uint8), ``seg_fields``.
    Added keys: ``sam_levels`` (S,) int.
    """

    def __init__(self,
                 mask_dir: str,
                 fingerprint: Optional[str] = None,
                 max_masks: int = MAX_MASKS) -> None:
        self.mask_dir = mask_dir
        self.masks = SAMMaskSource(mask_dir, fingerprint, owner='LoadSAMMasks')
        self.max_masks = min(int(max_masks), MAX_MASKS)

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        record = self.masks.get(results['img_path'], (h, w))
        masks = rle_to_dense(record.counts, record.offsets, (h, w))
        levels = np.asarray(record.levels, np.int64)
        if len(levels) > self.max_masks:
            keep = np.argsort(-levels, kind='stable')[:self.max_masks]
            keep.sort()
            print_log_once(
                f'LoadSAMMasks: {results["img_path"]} has {len(levels)} '
                f'masks, keeping {self.max_masks} (wholes first; said for '
                'the first such image of the run only)',
                key=('LoadSAMMasks max_masks', self.max_masks),
                level=logging.INFO)
            masks, levels = masks[keep], levels[keep]
        label = results.get('gt_seg_map')
        if label is None:
            label = np.zeros((h, w), np.uint8)
        stack = np.concatenate([
            label[..., None].astype(np.uint8),
            masks.transpose(1, 2, 0).astype(np.uint8)
        ],
                               axis=2)
        results['gt_seg_map'] = stack
        results['sam_levels'] = levels
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mask_dir={self.mask_dir!r}, '
                f'max_masks={self.max_masks})')


def split_sam_masks(results: dict) -> dict:
    """Undo :class:`LoadSAMMasks`' stacking after the augmentations.

    ``gt_seg_map`` becomes the (H, W) label map again and ``sam_masks`` the
    (S, H, W) bool masks. No-op without ``sam_levels``.
    """
    if 'sam_levels' not in results:
        return results
    stack = results['gt_seg_map']
    n = len(results['sam_levels'])
    if stack.ndim == 2:  # OpenCV drops a single channel
        stack = stack[..., None]
    results['gt_seg_map'] = np.ascontiguousarray(stack[..., 0])
    results['sam_masks'] = np.ascontiguousarray(stack[..., 1:1 + n].transpose(
        2, 0, 1)).astype(bool)
    return results
