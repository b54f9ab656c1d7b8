"""The numbers of a report, JSON-ready: seed scores from the seed-scoring
tool's own function (:func:`~mmwsss.evaluation.score_seed_dirs`, which
``tools/eval_seeds.py`` and ``tools/compare_seeds.py`` call), pixel shares,
the worst / best images, training curves from mmengine's scalar logs and
stage times."""
from typing import Dict, List, Optional, Tuple

from ..pipeline_stats import CAL_LOSS_KEYS, read_scalars
from ..seed_eval import (build_seed_eval_dataset, collect_gt_items,
                         score_seed_dirs)
from .inputs import STAGE2_CURVE, WECLIP_CURVE, ReportInputs

__all__ = [
    'score_seed_sets', 'pixel_shares', 'rank_images', 'read_scalars',
    'training_curves', 'report_data'
]

#: Curve name -> (scalar keys whose records belong to it, keys plotted).
CURVES = {
    'phase 1 (cls prompts, MCL loss)': (('loss_mcl', ), ('loss_mcl', )),
    'phase 2 (seg prompts, CAL loss)':
    (CAL_LOSS_KEYS, ('loss', ) + CAL_LOSS_KEYS),
}
#: The loss terms of :data:`WECLIP_CURVE`.
WECLIP_KEYS = ('loss', 'loss_seg', 'loss_dice', 'loss_aff', 'loss_mutual')


def score_seed_sets(inputs: ReportInputs) -> Tuple[Dict[str, dict], object]:
    """Score every seed set with :func:`score_seed_dirs`, per image too.

    Args:
        inputs (ReportInputs): Seed folders and their ground truth.

    Returns:
        tuple[dict, Dataset]: Seed set name -> the seed-scoring tool's
        report (with ``per_image``; empty when no image has ground truth),
        and the ground-truth dataset.
    """
    dataset = build_seed_eval_dataset(inputs.dataset, inputs.split,
                                      inputs.data_root, inputs.cfg_options)
    if not any(it.seg_map_path for it in collect_gt_items(dataset)):
        return {}, dataset
    reports = score_seed_dirs(
        inputs.seed_dirs,
        dataset,
        ignore_index=inputs.ignore_index,
        allow_missing=inputs.allow_missing,
        nproc=inputs.nproc,
        show_progress=False,
        per_image=True)
    return reports, dataset


def pixel_shares(report: dict) -> Dict[str, float]:
    """Share of the scored pixels a seed set labels background, leaves as
    no class (ignore, e.g. 255) or gives a foreground class.

    Args:
        report (dict): A :func:`~mmwsss.evaluation.seed_report` dict.

    Returns:
        dict: ``background``, ``ignore``, ``foreground`` fractions (sum 1;
        NaN-free: all 0 when no pixel was scored).
    """
    total = report['num_pixels']
    if not total:
        return dict(background=0.0, ignore=0.0, foreground=0.0)
    bg = report['per_class'][report['classes'][0]]['pred_pixels'] / total
    ignore = report['unlabelled_pixels'] / total
    return dict(background=bg, ignore=ignore, foreground=1.0 - bg - ignore)


def rank_images(per_image: Dict[str, dict],
                num: int) -> Tuple[List[str], List[str]]:
    """The worst and best images by their own mIoU.

    Args:
        per_image (dict): Image stem -> ``{'mIoU': percent or None}``
            (``score_seed_dirs(..., per_image=True)``).
        num (int): Images in each list; with fewer than ``2 * num`` scored
            images the two lists split them and do not overlap.

    Returns:
        tuple[list[str], list[str]]: Worst first, best first.
    """
    stems = [
        stem for _, stem in sorted((v['mIoU'], stem)
                                   for stem, v in per_image.items()
                                   if v['mIoU'] is not None)
    ]
    if len(stems) < 2:
        return stems, []
    k = min(num, len(stems) // 2)
    return stems[:k], stems[::-1][:k]


def _series(records: List[dict], needed: Tuple[str, ...],
            keys: Tuple[str, ...]) -> Optional[Dict[str, list]]:
    """``step``, ``lr`` and ``keys`` of the records that hold ``needed``."""
    rows = [r for r in records if all(k in r for k in needed)]
    if not rows:
        return None
    out = {'step': [r.get('step', r.get('iter')) for r in rows]}
    for key in ('lr', ) + tuple(keys):
        if all(key in r for r in rows):
            out[key] = [float(r[key]) for r in rows]
    return out


def training_curves(scalar_runs: Dict[str, str]) -> Dict[str, dict]:
    """Loss and learning-rate curves of the prompt phases and stage 2.

    Args:
        scalar_runs (dict[str, str]): ``'prompts'`` and / or ``'stage2'``
            -> the run's work dir.

    Returns:
        dict[str, dict]: Curve name -> ``{'step': [...], 'lr': [...],
        <loss key>: [...]}``; a curve without records is left out.
    """
    curves = {}
    if 'prompts' in scalar_runs:
        records = read_scalars(scalar_runs['prompts'])
        for name, (needed, keys) in CURVES.items():
            series = _series(records, needed, keys)
            if series is not None:
                curves[name] = series
        series = _series(records, ('loss_seg', 'loss_aff'), WECLIP_KEYS)
        if series is not None:
            curves[WECLIP_CURVE] = series
    if 'stage2' in scalar_runs:
        series = _series(
            read_scalars(scalar_runs['stage2']), ('loss', ),
            ('loss', 'decode.loss_ce', 'aux.loss_ce'))
        if series is not None:
            curves[STAGE2_CURVE] = series
    return curves


def report_data(inputs: ReportInputs,
                num_images: int = 4) -> Tuple[dict, object]:
    """All numbers of a report.

    Args:
        inputs (ReportInputs): What to report.
        num_images (int): Worst and best images shown. Defaults to 4.

    Returns:
        tuple[dict, Dataset]: JSON-ready data (``title``, ``settings``,
        ``notes``, ``classes``, ``seed_sets`` (name -> seed-scoring
        report), ``pixel_shares``, ``rank_set``, ``worst``, ``best``,
        ``curves``, ``missing_curves`` (expected but nothing logged),
        ``phase_split``, ``stage_seconds``) and the ground-truth dataset.
    """
    reports, dataset = score_seed_sets(inputs)
    notes = list(inputs.notes)
    rank_set, worst, best = None, [], []
    if reports:
        rank_set = inputs.rank_set or list(reports)[-1]
        if rank_set not in reports:
            raise ValueError(f'rank_set {rank_set!r} is not one of the seed '
                             f'sets {list(reports)}')
        worst, best = rank_images(reports[rank_set]['per_image'], num_images)
    else:
        notes.append('No image of the seed dataset has ground truth: the '
                     'seeds are not scored and no image is ranked.')
    curves = training_curves(inputs.scalar_runs)
    data = dict(
        title=inputs.title,
        settings=[list(s) for s in inputs.settings],
        notes=notes,
        classes=[str(c) for c in dataset.metainfo['classes']],
        seed_sets=reports,
        pixel_shares={
            k: pixel_shares(r)
            for k, r in reports.items()
        },
        rank_set=rank_set,
        worst=worst,
        best=best,
        curves=curves,
        missing_curves=[
            n for n in (inputs.expected_curves or (*CURVES, STAGE2_CURVE))
            if inputs.scalar_runs and n not in curves
        ],
        phase_split=inputs.phase_split,
        stage_seconds=dict(inputs.stage_seconds))
    return data, dataset
