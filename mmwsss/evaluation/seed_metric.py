"""SeedMetric: score seeds (``pred_sem_seg``) against ground truth.

Use it as the ``test_evaluator`` of a seed-making config, so that
``tools/test.py`` writes the seeds and scores them in one distributed pass:

.. code-block:: python

    test_evaluator = dict(
        type='SeedMetric',
        seed_dir='work_dirs/voc_seeds/seeds',    # optional: write seed PNGs
        output_file='work_dirs/voc_seeds/seed_scores.json')
"""
import os.path as osp
from collections import OrderedDict
from logging import WARNING
from typing import Any, Dict, List, Optional, Sequence

import mmcv
import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmseg.registry import METRICS
from mmwsss.class_names import check_class_list
from mmwsss.io import (dump_json_atomic, finished_seed, is_done,
                       read_seed_png, seed_path, write_seed_overlay,
                       write_seed_png)
from .seed_scores import format_seed_table, seed_confusion, seed_report

__all__ = ['SeedMetric']

#: The result of an image without ground truth. Not None: mmengine's
#: ``collect_results`` drops None entries when it gathers the ranks'.
NO_GT = 'no ground truth'


def _field(sample: Any, key: str) -> Any:
    """``sample[key]`` for dicts (what the Evaluator passes) and data
    elements (``SegDataSample``) alike; None when absent."""
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None) if key in sample else None


def _pixel_data(sample: Any, key: str) -> Optional[torch.Tensor]:
    """The (H, W) tensor of a PixelData field, or None when absent."""
    field = _field(sample, key)
    if field is None:
        return None
    data = field.get('data') if isinstance(field, dict) else getattr(
        field, 'data', None)
    if data is None:
        return None
    data = torch.as_tensor(data)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    return data


@METRICS.register_module()
class SeedMetric(BaseMetric):
    """Seed quality: mIoU, per-class IoU, precision and recall.

    Like mmseg's ``IoUMetric`` it accumulates a per-image confusion
    histogram (one ``torch.bincount``; stored sparsely, so memory stays small
    for COCO's 81 classes), and reports the NaN-aware means over classes.
    Images whose data sample carries no ``gt_sem_seg`` are skipped and
    counted. Prints a per-class table through the current mmengine logger
    and, when ``output_file`` or ``out_dir`` is set, writes the full report
    (see :func:`~mmwsss.evaluation.seed_report`) as JSON. Optionally writes
    each prediction as a seed PNG (``seed_dir``).

    Args:
        ignore_index (int): GT value that is not scored. Defaults to 255.
        output_file (str, optional): JSON report path.
        out_dir (str, optional): Folder for the JSON report
            (``<out_dir>/seed_scores.json``) when ``output_file`` is None.
        seed_dir (str, optional): If set, every ``pred_sem_seg`` is written
            to ``<seed_dir>/<image stem>.png`` (palette PNG, atomic); a seed
            finished there (:func:`mmwsss.io.finished_seed`) is kept and
            scored instead.
        overlay_dir (str, optional): If set, also writes
            ``<overlay_dir>/<image stem>.jpg``: the image with the seed
            blended in and a legend of the classes present (atomic).
        overwrite (bool): Rewrite existing seed PNGs / overlays. Defaults
            to False.
        format_only (bool): Only write seeds, do not score (e.g. a split
            without GT). Defaults to False.
        collect_device (str): 'cpu' or 'gpu' for collecting results across
            ranks. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names.

    The number of classes and their names come from ``dataset_meta``
    (``classes``, background first); ``palette`` colours the seed PNGs.
    After :meth:`compute_metrics`, :attr:`report` holds the full report.
    """

    # Bare metric names ('mIoU', as IoUMetric's), which tools/ and the loops
    # read; a set (empty) prefix also spares mmengine's per-instance
    # "prefix is not set" warning.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 ignore_index: int = 255,
                 output_file: Optional[str] = None,
                 out_dir: Optional[str] = None,
                 seed_dir: Optional[str] = None,
                 overlay_dir: Optional[str] = None,
                 overwrite: bool = False,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.output_file = output_file
        if output_file is None and out_dir is not None:
            self.output_file = osp.join(out_dir, 'seed_scores.json')
        self.seed_dir = seed_dir
        self.overlay_dir = overlay_dir
        self.overwrite = overwrite
        self.format_only = format_only
        self.report: Optional[dict] = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Meta info of the dataset (set by the Runner)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """Set the meta info; a reordered VOC / COCO class list fails here,
        before any image is processed."""
        if dataset_meta and dataset_meta.get('classes'):
            check_class_list(
                dataset_meta['classes'],
                owner='SeedMetric: the test dataset\'s metainfo.classes')
        self._dataset_meta = dataset_meta

    def _classes(self) -> Sequence[str]:
        meta = self.dataset_meta or {}
        if not meta.get('classes'):
            raise ValueError(
                'SeedMetric needs dataset_meta["classes"] (the Runner sets it '
                'from the dataset; set metric.dataset_meta when calling it '
                'directly)')
        return meta['classes']

    def _write_overlay(self, img_path: str, pred: torch.Tensor,
                       gt: Optional[torch.Tensor] = None) -> None:
        """``<overlay_dir>/<stem>.jpg``: image | seed | ground truth (when
        the sample has one) with the legend of the classes present."""
        stem = osp.splitext(osp.basename(img_path))[0]
        path = osp.join(self.overlay_dir, stem + '.jpg')
        if not self.overwrite and is_done(path):
            return
        image = mmcv.imread(img_path, channel_order='rgb')
        if image is None:
            raise FileNotFoundError(f'SeedMetric overlay: cannot read the '
                                    f'image {img_path}')
        write_seed_overlay(
            path,
            image,
            pred.cpu().numpy().astype(np.uint8),
            self._classes(),
            palette=(self.dataset_meta or {}).get('palette'),
            overwrite=self.overwrite,
            gt=None if gt is None else gt.cpu().numpy().astype(np.uint8))

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Accumulate the confusion histograms of a batch.

        Args:
            data_batch: The data batch (unused).
            data_samples (Sequence[dict | SegDataSample]): Model outputs with
                ``pred_sem_seg`` (the seed), ``gt_sem_seg`` (optional) and
                ``img_path``.
        """
        num_classes = len(self._classes())
        for sample in data_samples:
            img_path = _field(sample, 'img_path') or '<unknown image>'
            pred = _pixel_data(sample, 'pred_sem_seg')
            if pred is None:
                raise KeyError(f'SeedMetric: data sample of {img_path} has '
                               'no pred_sem_seg')
            if self.seed_dir is not None:
                done = finished_seed(self.seed_dir, img_path, self.overwrite)
                if done is not None:
                    # a finished seed is kept, so it is what gets scored
                    pred = torch.from_numpy(read_seed_png(done).astype(
                        np.int64))
                else:
                    write_seed_png(
                        seed_path(self.seed_dir, img_path),
                        pred,
                        palette=(self.dataset_meta or {}).get('palette'),
                        overwrite=self.overwrite)
            if self.overlay_dir is not None:
                self._write_overlay(img_path, pred,
                                    _pixel_data(sample, 'gt_sem_seg'))
            if self.format_only:
                continue
            gt = _pixel_data(sample, 'gt_sem_seg')
            if gt is None:
                self.results.append(NO_GT)
                continue
            try:
                conf = seed_confusion(pred, gt, num_classes,
                                      self.ignore_index)
            except ValueError as e:
                raise ValueError(f'SeedMetric, image {img_path}: {e}') from e
            flat = conf.reshape(-1)
            idx = np.flatnonzero(flat)
            self.results.append((idx.astype(np.int32), flat[idx]))

    def compute_metrics(self, results: List[Any]) -> Dict[str, float]:
        """Sum the histograms, log the table, write the JSON report.

        Args:
            results (list): What :meth:`process` stored, from all ranks.

        Returns:
            dict[str, float]: ``mIoU``, ``mPrecision``, ``mRecall``, ``aAcc``
            in percent (2 decimals, as mmseg's IoUMetric); empty when
            nothing was scored.
        """
        classes = self._classes()
        if self.format_only:
            print_log(f'SeedMetric: seeds written to {self.seed_dir}; '
                      'format_only, not scored', logger='current')
            return OrderedDict()
        scored = [r for r in results if r is not None and r != NO_GT]
        no_gt = len(results) - len(scored)
        if no_gt:
            print_log(
                f'SeedMetric: {no_gt} of {len(results)} images have no '
                'ground truth and were not scored', logger='current',
                level=WARNING)
        if not scored:
            print_log('SeedMetric: no image with ground truth, nothing to '
                      'score', logger='current', level=WARNING)
            return OrderedDict()
        c = len(classes)
        idx = np.concatenate([r[0] for r in scored]).astype(np.int64)
        counts = np.concatenate([r[1] for r in scored])
        conf = np.zeros(c * (c + 1), dtype=np.int64)
        np.add.at(conf, idx, counts.astype(np.int64))
        conf = conf.reshape(c, c + 1)
        self.report = seed_report(
            conf,
            classes,
            ignore_index=self.ignore_index,
            num_images=len(scored),
            num_images_without_gt=no_gt)
        print_log(
            f'Seed scores over {len(scored)} images:\n' +
            format_seed_table(self.report),
            logger='current')
        if self.output_file:
            dump_json_atomic(self.report, self.output_file)
            print_log(f'Seed scores written to {self.output_file}',
                      logger='current')
        out = OrderedDict()
        for key in ('mIoU', 'mPrecision', 'mRecall', 'aAcc'):
            value = self.report[key]
            out[key] = float('nan') if value is None else round(value, 2)
        return out
