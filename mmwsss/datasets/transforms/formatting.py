"""Packing transforms of the WSSS datasets."""
from typing import Sequence

import torch
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from .sam_masks import split_sam_masks

__all__ = ['PackWSSSInputs']


@TRANSFORMS.register_module()
class PackWSSSInputs(PackSegInputs):
    """mmseg's :class:`PackSegInputs` that also packs the image-level labels.

    ``img_labels`` (list[int], foreground class indices 1..C) and ``img_id``
    (file stem) of the data info go into the data sample's metainfo, where
    models read them (``data_sample.img_labels``). ``gt_sem_seg`` is packed
    exactly as :class:`PackSegInputs` does when the pipeline loaded a
    ``gt_seg_map`` (``LoadAnnotations``); without it the sample has none.
    SAM masks stacked by :class:`~mmwsss.datasets.transforms.LoadSAMMasks`
    are split off into ``data_sample.sam_masks`` ((S, H, W) bool) and the
    metainfo ``sam_levels``.
    Keys missing from the results are skipped, so the transform also works
    on datasets without image labels.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults
            to PackSegInputs' keys plus ``img_labels``, ``img_id`` and
            ``gt_seg_map_path`` (the real GT of a
            :class:`~mmwsss.datasets.PseudoLabelDataset` sample).
    """

    def __init__(self,
                 meta_keys: Sequence[str] = (
                     'img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                     'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                     'reduce_zero_label', 'img_labels', 'img_id',
                     'gt_seg_map_path')
                 ) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        """Pack like PackSegInputs; ``img_labels`` as a list of ints.

        Args:
            results (dict): Pipeline results.

        Returns:
            dict: ``inputs`` (C, H, W) tensor and ``data_samples``
            (SegDataSample with the metainfo above).
        """
        if 'img_labels' in results:
            results['img_labels'] = [int(i) for i in results['img_labels']]
        results = split_sam_masks(results)
        packed = super().transform(results)
        if 'sam_masks' in results:
            sample = packed['data_samples']
            sample.set_metainfo(
                dict(sam_levels=[int(v) for v in results['sam_levels']]))
            sample.sam_masks = PixelData(
                data=torch.from_numpy(results['sam_masks']))
        return packed
