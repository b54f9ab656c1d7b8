# Copyright (c) mmwsss contributors. All rights reserved.
"""Compare several seed folders on the same split in one table.

Example::

    python tools/compare_seeds.py --dataset voc --split train \\
        --seeds CAM=work_dirs/cam/seeds CLIP-ES=work_dirs/clip_es/seeds \\
                FMA-WSSS=work_dirs/fma/seeds --out-dir work_dirs/compare

Every method is scored on the same images (ground truth read once). Writes
``seed_comparison.md`` (rows = methods; columns = per-class IoU, mIoU, mean
precision, mean recall, in percent, as in a paper) and
``seed_comparison.json`` (the full report of each method), and prints the
markdown.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmwsss.evaluation.seed_eval import add_dataset_arguments  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Compare seed folders of several methods')
    parser.add_argument(
        '--seeds',
        nargs='+',
        required=True,
        metavar='NAME=DIR',
        help='method name and seed folder (a bare DIR is named after it)')
    parser.add_argument(
        '--out-dir',
        default='.',
        help='where seed_comparison.md / .json go (default: .)')
    parser.add_argument(
        '--digits', type=int, default=1, help='decimals in the table')
    add_dataset_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        dict: ``{'markdown': str, 'reports': {name: report}, 'files':
        [md path, json path]}``.
    """
    args = parse_args(argv)
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmengine.logging import print_log

    from mmwsss.evaluation import (BUILTIN_DATASETS, build_seed_eval_dataset,
                                   format_comparison_markdown,
                                   parse_named_dirs, score_seed_dirs)
    from mmwsss.io import atomic_write_bytes, dump_json_atomic
    seed_dirs = parse_named_dirs(args.seeds)
    dataset = build_seed_eval_dataset(args.dataset, args.split, args.data_root,
                                      args.cfg_options)
    reports = score_seed_dirs(
        seed_dirs,
        dataset,
        ignore_index=args.ignore_index,
        allow_missing=args.allow_missing,
        nproc=args.nproc)
    markdown = format_comparison_markdown(reports, digits=args.digits)
    counts = {n: r['num_images'] for n, r in reports.items()}
    split = args.split or ('train'
                           if args.dataset in BUILTIN_DATASETS else None)
    note = (f'Seed quality on {args.dataset}'
            f'{" " + split if split else ""}: IoU per class, mIoU, '
            'mean precision and mean recall (%); images scored: ' +
            ', '.join(f'{n} {c}' for n, c in counts.items()) + '.')
    md_path = osp.join(args.out_dir, 'seed_comparison.md')
    json_path = osp.join(args.out_dir, 'seed_comparison.json')
    atomic_write_bytes(md_path, (note + '\n\n' + markdown + '\n').encode())
    dump_json_atomic(
        dict(
            dataset=args.dataset,
            split=split,
            methods=list(reports),
            reports=reports), json_path)
    print(markdown)
    print_log(
        f'comparison written to {md_path} and {json_path}', logger='current')
    return dict(markdown=markdown, reports=reports, files=[md_path, json_path])


if __name__ == '__main__':
    from mmwsss.evaluation.seed_eval import SeedEvalError
    try:
        main()
    except SeedEvalError as e:
        sys.exit(f'error: {e}')
