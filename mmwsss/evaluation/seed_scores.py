"""Seed scores from a confusion histogram: IoU, precision, recall per class.

Pure numpy/torch (no mm imports). The same functions serve
:class:`~mmwsss.evaluation.SeedMetric` (inside ``tools/test.py``) and the
command-line tools ``tools/eval_seeds.py`` / ``tools/compare_seeds.py``, so
all of them report identical numbers:

.. code-block:: python

    conf = seed_confusion(seed, gt, num_classes=21)     # (21, 22) int64
    total += conf                                        # over the images
    scores = scores_from_confusion(total)                # fractions, NaN-aware
    report = seed_report(total, class_names)             # JSON-ready, percent

Conventions follow mmseg's ``IoUMetric``: pixels whose ground truth is
``ignore_index`` are dropped; a predicted value that is not a class index
(e.g. 255, "uncertain", in some pseudo-labels) counts in no class, so it lowers
the recall of the true class and nobody's precision; a class absent from both
prediction and ground truth has NaN IoU / precision / recall and is left out
of the means (``np.nanmean``); a class predicted but absent from the ground
truth has IoU 0 and counts in mIoU.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    'seed_confusion', 'scores_from_confusion', 'seed_report',
    'format_seed_table', 'format_comparison_markdown', 'SCORE_KEYS'
]

ArrayLike = Union[np.ndarray, torch.Tensor]

#: Per-class scores reported, in table order.
SCORE_KEYS = ('IoU', 'Precision', 'Recall')


def seed_confusion(pred: ArrayLike,
                   gt: ArrayLike,
                   num_classes: int,
                   ignore_index: int = 255) -> np.ndarray:
    """Confusion histogram of a seed (or a batch of seeds) against GT.

    One ``torch.bincount`` on the tensors' device when either input is a
    tensor (the metric, on GPU during ``tools/test.py``), one
    ``np.bincount`` for numpy inputs (the tools; safe in forked workers,
    where torch's thread pool may deadlock).

    Args:
        pred (np.ndarray | torch.Tensor): Predicted class indices, any shape
            (e.g. (H, W) or (N, H, W)).
        gt (np.ndarray | torch.Tensor): Ground truth of the same shape;
            ``ignore_index`` marks pixels that are not scored.
        num_classes (int): Number of classes C (background included).
        ignore_index (int): GT value to skip. Defaults to 255.

    Returns:
        np.ndarray: (C, C + 1) int64. ``conf[g, p]`` counts the scored pixels
        of GT class ``g`` predicted as ``p``; the last column counts those
        whose prediction is not a class index (outside ``0..C-1``).

    Raises:
        ValueError: If the shapes differ or the GT holds a value that is
            neither a class index nor ``ignore_index``.
    """
    if num_classes < 1:
        raise ValueError(f'num_classes must be >= 1, got {num_classes}')
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(f'seed shape {tuple(pred.shape)} differs from '
                         f'ground-truth shape {tuple(gt.shape)}')
    c = num_classes
    if isinstance(pred, torch.Tensor) or isinstance(gt, torch.Tensor):
        gt_t = torch.as_tensor(gt).long().reshape(-1)
        pred_t = torch.as_tensor(pred).long().reshape(-1).to(gt_t.device)
        valid = gt_t != ignore_index
        bad = valid & ((gt_t < 0) | (gt_t >= c))
        if bool(bad.any()):
            _raise_bad_gt(torch.unique(gt_t[bad]).tolist(), c, ignore_index)
        gt_t, pred_t = gt_t[valid], pred_t[valid]
        pred_t = torch.where((pred_t >= 0) & (pred_t < c), pred_t,
                             torch.full_like(pred_t, c))
        conf = torch.bincount(
            gt_t * (c + 1) + pred_t, minlength=c * (c + 1)).cpu().numpy()
    else:
        gt_a = np.asarray(gt).astype(np.int64).reshape(-1)
        pred_a = np.asarray(pred).astype(np.int64).reshape(-1)
        valid = gt_a != ignore_index
        bad = valid & ((gt_a < 0) | (gt_a >= c))
        if bad.any():
            _raise_bad_gt(np.unique(gt_a[bad]).tolist(), c, ignore_index)
        gt_a, pred_a = gt_a[valid], pred_a[valid]
        pred_a = np.where((pred_a >= 0) & (pred_a < c), pred_a, c)
        conf = np.bincount(gt_a * (c + 1) + pred_a, minlength=c * (c + 1))
    return conf.reshape(c, c + 1).astype(np.int64)


def _raise_bad_gt(values: list, num_classes: int, ignore_index: int) -> None:
    raise ValueError(
        f'ground truth holds values {values[:10]} that are neither class '
        f'indices 0..{num_classes - 1} nor ignore_index {ignore_index} '
        '(wrong dataset / num_classes, or reduce_zero_label?)')


def _nan_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float('nan')


def scores_from_confusion(conf: ArrayLike) -> Dict[str, np.ndarray]:
    """IoU, precision and recall per class, and their NaN-aware means.

    Args:
        conf (np.ndarray): (C, C + 1) histogram from :func:`seed_confusion`
            (summed over images), or a square (C, C) one.

    Returns:
        dict: fractions in [0, 1] (NaN where undefined):
        ``IoU``, ``Precision``, ``Recall`` (C,) float64;
        ``mIoU``, ``mPrecision``, ``mRecall`` (float, NaN-excluding means);
        ``aAcc`` (float, pixel accuracy); ``area_intersect``,
        ``area_union``, ``area_pred``, ``area_label`` (C,) int64;
        ``num_pixels`` (int, scored pixels); ``unlabelled_pixels`` (int,
        scored pixels predicted as no class).
    """
    conf = np.asarray(conf, dtype=np.int64)
    if conf.ndim != 2 or conf.shape[1] not in (conf.shape[0],
                                               conf.shape[0] + 1):
        raise ValueError('confusion must be (C, C) or (C, C + 1), got '
                         f'{conf.shape}')
    c = conf.shape[0]
    inter = np.diagonal(conf[:, :c]).copy()
    area_label = conf.sum(axis=1)
    area_pred = conf[:, :c].sum(axis=0)
    union = area_label + area_pred - inter
    iou = _nan_div(inter, union)
    precision = _nan_div(inter, area_pred)
    recall = _nan_div(inter, area_label)
    total = int(area_label.sum())
    return dict(
        IoU=iou,
        Precision=precision,
        Recall=recall,
        mIoU=_nanmean(iou),
        mPrecision=_nanmean(precision),
        mRecall=_nanmean(recall),
        aAcc=float(inter.sum() / total) if total else float('nan'),
        area_intersect=inter,
        area_union=union,
        area_pred=area_pred,
        area_label=area_label,
        num_pixels=total,
        unlabelled_pixels=int(conf[:, c:].sum()))


def _pct(x: float) -> Optional[float]:
    """Fraction -> percent; NaN -> None (JSON has no NaN)."""
    x = float(x)
    return None if math.isnan(x) else x * 100.0


def seed_report(conf: ArrayLike,
                class_names: Sequence[str],
                ignore_index: int = 255,
                **extra) -> dict:
    """A JSON-ready report of a seed evaluation (scores in percent).

    Args:
        conf (np.ndarray): Summed (C, C + 1) confusion histogram.
        class_names (sequence[str]): C class names, background first.
        ignore_index (int): The GT ignore value that was used.
        **extra: More top-level entries (e.g. ``num_images``, ``seed_dir``).

    Returns:
        dict: ``mIoU``, ``mPrecision``, ``mRecall``, ``aAcc`` (percent, None
        when undefined), ``per_class`` ({name: {IoU, Precision, Recall,
        gt_pixels, pred_pixels}}), ``classes``, ``num_pixels``,
        ``unlabelled_pixels``, ``ignore_index``, ``confusion`` (rows = GT
        class, columns = predicted class, last column = predicted value
        that is no class) and the ``extra`` entries.
    """
    conf = np.asarray(conf, dtype=np.int64)
    if len(class_names) != conf.shape[0]:
        raise ValueError(f'{len(class_names)} class names for a '
                         f'{conf.shape[0]}-class confusion histogram')
    s = scores_from_confusion(conf)
    per_class = {}
    for i, name in enumerate(class_names):
        per_class[str(name)] = dict(
            IoU=_pct(s['IoU'][i]),
            Precision=_pct(s['Precision'][i]),
            Recall=_pct(s['Recall'][i]),
            gt_pixels=int(s['area_label'][i]),
            pred_pixels=int(s['area_pred'][i]))
    report = dict(
        mIoU=_pct(s['mIoU']),
        mPrecision=_pct(s['mPrecision']),
        mRecall=_pct(s['mRecall']),
        aAcc=_pct(s['aAcc']),
        classes=[str(n) for n in class_names],
        per_class=per_class,
        num_pixels=s['num_pixels'],
        unlabelled_pixels=s['unlabelled_pixels'],
        ignore_index=ignore_index)
    report.update(extra)
    report['confusion'] = conf.tolist()
    return report


def _fmt(x: Optional[float], digits: int) -> str:
    return '-' if x is None or (isinstance(x, float) and math.isnan(x)) \
        else f'{x:.{digits}f}'


def format_seed_table(report: dict, digits: int = 2) -> str:
    """Per-class table (IoU, precision, recall) plus a mean row.

    Args:
        report (dict): From :func:`seed_report`.
        digits (int): Decimals. Defaults to 2.

    Returns:
        str: A prettytable rendering; undefined values show as ``-``.
    """
    from prettytable import PrettyTable
    table = PrettyTable()
    table.field_names = ['Class'] + list(SCORE_KEYS)
    for name in report['classes']:
        row = report['per_class'][name]
        table.add_row([name] + [_fmt(row[k], digits) for k in SCORE_KEYS])
    table.add_row(['mean'] + [
        _fmt(report['m' + k], digits) for k in SCORE_KEYS])
    for col in SCORE_KEYS:
        table.align[col] = 'r'
    table.align['Class'] = 'l'
    return table.get_string()


def format_comparison_markdown(reports: Dict[str, dict],
                               digits: int = 1) -> str:
    """One markdown table comparing methods, as papers print it.

    Rows are methods; columns are the per-class IoU, then mIoU, mean
    precision and mean recall (all percent).

    Args:
        reports (dict[str, dict]): Method name -> :func:`seed_report` output;
            all must share the same classes.
        digits (int): Decimals. Defaults to 1.

    Returns:
        str: The markdown table (header, alignment row, one row per method).
    """
    if not reports:
        raise ValueError('no reports to compare')
    classes: List[str] = next(iter(reports.values()))['classes']
    for name, rep in reports.items():
        if rep['classes'] != classes:
            raise ValueError(f'method {name!r} was scored with other classes')
    header = ['Method'] + list(classes) + ['mIoU', 'mPrecision', 'mRecall']
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join([':---'] + ['---:'] * (len(header) - 1)) + '|'
    ]
    for name, rep in reports.items():
        cells = [name] + [
            _fmt(rep['per_class'][c]['IoU'], digits) for c in classes
        ] + [
            _fmt(rep[k], digits) for k in ('mIoU', 'mPrecision', 'mRecall')
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
