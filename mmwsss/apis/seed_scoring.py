"""Seed scoring as library functions: one folder
(:func:`score_seed_folder`, ``mmwsss-eval-seeds``) or several on the same
images (:func:`compare_seed_folders`, ``mmwsss-compare-seeds``). Both
return their reports as data and write them as JSON.
"""
import os.path as osp
from typing import Dict, Optional

__all__ = ['score_seed_folder', 'compare_seed_folders', 'write_overlays']


def write_overlays(dataset, seed_dir: str, out_dir: str, num: int) -> int:
    """Write overlays of the first ``num`` images that have a seed.

    Returns:
        int: Number of overlays written.
    """
    import cv2

    from mmwsss.evaluation import collect_gt_items
    from mmwsss.io import read_seed_png, seed_path, write_seed_overlay
    meta = dataset.metainfo
    done = 0
    for item in collect_gt_items(dataset):
        if done >= num:
            break
        path = seed_path(seed_dir, item.img_path)
        if not osp.isfile(path):
            continue
        image = cv2.imread(item.img_path, cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'cannot read image {item.img_path}')
        stem = osp.splitext(osp.basename(item.img_path))[0]
        write_seed_overlay(
            osp.join(out_dir, stem + '.jpg'),
            image[..., ::-1].copy(),
            read_seed_png(path),
            meta['classes'],
            meta.get('palette'),
            overwrite=True)
        done += 1
    return done


def score_seed_folder(seed_dir: str,
                      dataset: str = 'voc',
                      split: Optional[str] = None,
                      data_root: Optional[str] = None,
                      cfg_options: Optional[dict] = None,
                      ignore_index: int = 255,
                      allow_missing: bool = False,
                      nproc: int = 1,
                      out: Optional[str] = None,
                      overlay_dir: Optional[str] = None,
                      num_overlays: int = 20) -> dict:
    """Score ``<seed_dir>/<image stem>.png`` against a dataset's GT.

    Args:
        seed_dir (str): The seeds (0 background, 1..C; 255 no class).
        dataset (str): ``voc``, ``coco`` or a config file whose ``dataset``
            or ``test_dataloader.dataset`` defines the images.
        split (str, optional): Split of a built-in dataset (default train).
        data_root (str, optional): Dataset root.
        cfg_options (dict, optional): Overrides of the dataset config.
        ignore_index (int): GT ignore value.
        allow_missing (bool): Score the images that have a seed instead of
            failing (:class:`~mmwsss.evaluation.SeedEvalError`).
        nproc (int): Worker processes.
        out (str, optional): JSON report (default
            ``<seed_dir>/seed_scores.json``).
        overlay_dir (str, optional): Also write overlays of the first
            ``num_overlays`` images here.
        num_overlays (int): See ``overlay_dir``.

    Returns:
        dict: The report (``mIoU``, ``mPrecision``, ``mRecall``, ``aAcc``
        in percent, per-class rows, ``num_images``, ...).
    """
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmengine.logging import print_log

    from mmwsss.evaluation import (BUILTIN_DATASETS, build_seed_eval_dataset,
                                   format_seed_table, score_seed_dirs)
    from mmwsss.io import dump_json_atomic
    ds = build_seed_eval_dataset(dataset, split, data_root, cfg_options)
    name = osp.basename(osp.normpath(seed_dir))
    report = score_seed_dirs(
        {name: seed_dir},
        ds,
        ignore_index=ignore_index,
        allow_missing=allow_missing,
        nproc=nproc,
        extra=dict(
            dataset=dataset,
            split=split
            or ('train' if dataset in BUILTIN_DATASETS else None)))[name]
    print_log(
        f'Seeds {seed_dir}: {report["num_images"]} images\n' +
        format_seed_table(report),
        logger='current')
    summary = '  '.join(
        f'{k}={report[k]:.2f}' if report[k] is not None else f'{k}=nan'
        for k in ('mIoU', 'mPrecision', 'mRecall', 'aAcc'))
    print_log(summary, logger='current')
    out = out or osp.join(seed_dir, 'seed_scores.json')
    dump_json_atomic(report, out)
    print_log(f'report written to {out}', logger='current')
    if overlay_dir:
        n = write_overlays(ds, seed_dir, overlay_dir, num_overlays)
        print_log(f'{n} overlays written to {overlay_dir}', logger='current')
    return report


def compare_seed_folders(seed_dirs: Dict[str, str],
                         dataset: str = 'voc',
                         split: Optional[str] = None,
                         data_root: Optional[str] = None,
                         cfg_options: Optional[dict] = None,
                         ignore_index: int = 255,
                         allow_missing: bool = False,
                         nproc: int = 1,
                         out_dir: str = '.',
                         digits: int = 1) -> dict:
    """Score several seed folders on the same images, in one table.

    Writes ``<out_dir>/seed_comparison.md`` (rows = methods; per-class IoU,
    mIoU, mean precision, mean recall in percent) and
    ``seed_comparison.json`` (the full report of each method).

    Args:
        seed_dirs (dict[str, str]): Method name -> seed folder.
        dataset, split, data_root, cfg_options, ignore_index,
            allow_missing, nproc: As :func:`score_seed_folder`.
        out_dir (str): Folder of the two files.
        digits (int): Decimals in the table.

    Returns:
        dict: ``{'markdown': str, 'reports': {name: report}, 'files':
        [md path, json path]}``.
    """
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmengine.logging import print_log

    from mmwsss.evaluation import (BUILTIN_DATASETS, build_seed_eval_dataset,
                                   format_comparison_markdown,
                                   score_seed_dirs)
    from mmwsss.io import atomic_write_bytes, dump_json_atomic
    ds = build_seed_eval_dataset(dataset, split, data_root, cfg_options)
    reports = score_seed_dirs(
        seed_dirs,
        ds,
        ignore_index=ignore_index,
        allow_missing=allow_missing,
        nproc=nproc)
    markdown = format_comparison_markdown(reports, digits=digits)
    counts = {n: r['num_images'] for n, r in reports.items()}
    split = split or ('train' if dataset in BUILTIN_DATASETS else None)
    note = (f'Seed quality on {dataset}'
            f'{" " + split if split else ""}: IoU per class, mIoU, '
            'mean precision and mean recall (%); images scored: ' +
            ', '.join(f'{n} {c}' for n, c in counts.items()) + '.')
    md_path = osp.join(out_dir, 'seed_comparison.md')
    json_path = osp.join(out_dir, 'seed_comparison.json')
    atomic_write_bytes(md_path, (note + '\n\n' + markdown + '\n').encode())
    dump_json_atomic(
        dict(
            dataset=dataset,
            split=split,
            methods=list(reports),
            reports=reports), json_path)
    print(markdown)
    print_log(
        f'comparison written to {md_path} and {json_path}', logger='current')
    return dict(markdown=markdown, reports=reports, files=[md_path, json_path])
