# Copyright (c) mmwsss contributors. All rights reserved.
"""Score a folder of seed PNGs (from any method) against ground truth.

Examples::

    # VOC 2012 train, GT in data/VOCdevkit/VOC2012
    python tools/eval_seeds.py work_dirs/voc_seeds/seeds --dataset voc
    # any dataset config (its `dataset` or `test_dataloader.dataset`)
    python tools/eval_seeds.py SEED_DIR --dataset configs/my_data.py \\
        --cfg-options test_dataloader.dataset.ann_file=ImageSets/x.txt

Seeds are ``<SEED_DIR>/<image stem>.png`` with class indices as pixel
values (0 background, 1..C; 255 counts as "no class"). Prints the per-class
IoU / precision / recall table and writes the JSON report (default
``<SEED_DIR>/seed_scores.json``). Missing seeds are an error listing them,
unless ``--allow-missing``.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmwsss.evaluation.seed_eval import add_dataset_arguments  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score seed PNGs against a dataset\'s ground truth')
    parser.add_argument('seed_dir', help='folder of <image stem>.png seeds')
    parser.add_argument(
        '--out',
        default=None,
        help='JSON report path (default: <seed_dir>/seed_scores.json)')
    parser.add_argument(
        '--overlay-dir',
        default=None,
        help='also write image+seed overlays (JPEG with a class legend) '
        'of the first --num-overlays images here')
    parser.add_argument('--num-overlays', type=int, default=20)
    add_dataset_arguments(parser)
    return parser.parse_args(argv)


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


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        dict: The JSON report that was written.
    """
    args = parse_args(argv)
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmengine.logging import print_log

    from mmwsss.evaluation import (BUILTIN_DATASETS, build_seed_eval_dataset,
                                   format_seed_table, score_seed_dirs)
    from mmwsss.io import dump_json_atomic
    dataset = build_seed_eval_dataset(args.dataset, args.split, args.data_root,
                                      args.cfg_options)
    name = osp.basename(osp.normpath(args.seed_dir))
    report = score_seed_dirs(
        {name: args.seed_dir},
        dataset,
        ignore_index=args.ignore_index,
        allow_missing=args.allow_missing,
        nproc=args.nproc,
        extra=dict(
            dataset=args.dataset,
            split=args.split
            or ('train' if args.dataset in BUILTIN_DATASETS else None)))[name]
    print_log(
        f'Seeds {args.seed_dir}: {report["num_images"]} images\n' +
        format_seed_table(report),
        logger='current')
    summary = '  '.join(
        f'{k}={report[k]:.2f}' if report[k] is not None else f'{k}=nan'
        for k in ('mIoU', 'mPrecision', 'mRecall', 'aAcc'))
    print_log(summary, logger='current')
    out = args.out or osp.join(args.seed_dir, 'seed_scores.json')
    dump_json_atomic(report, out)
    print_log(f'report written to {out}', logger='current')
    if args.overlay_dir:
        n = write_overlays(dataset, args.seed_dir, args.overlay_dir,
                           args.num_overlays)
        print_log(
            f'{n} overlays written to {args.overlay_dir}', logger='current')
    return report


if __name__ == '__main__':
    from mmwsss.evaluation.seed_eval import SeedEvalError
    try:
        main()
    except SeedEvalError as e:
        sys.exit(f'error: {e}')
