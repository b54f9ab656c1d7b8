"""``mmwsss-compare-seeds --dataset voc --seeds NAME=DIR ... [--out-dir
DIR]``: compare several seed folders on the same split in one table
(:func:`mmwsss.apis.seed_scoring.compare_seed_folders`).

Example::

    mmwsss-compare-seeds --dataset voc --split train \\
        --seeds CAM=work_dirs/cam/seeds CLIP-ES=work_dirs/clip_es/seeds \\
                FMA-WSSS=work_dirs/fma/seeds --out-dir work_dirs/compare

Every method is scored on the same images (ground truth read once). Writes
``seed_comparison.md`` (rows = methods; columns = per-class IoU, mIoU, mean
precision, mean recall, in percent, as in a paper) and
``seed_comparison.json`` (the full report of each method), and prints the
markdown.
"""
import argparse
from typing import List, Optional

__all__ = ['parse_args', 'main', 'console']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmwsss.evaluation.seed_eval import add_dataset_arguments
    parser = argparse.ArgumentParser(
        prog='mmwsss-compare-seeds',
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
    """Run the command.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        dict: ``{'markdown': str, 'reports': {name: report}, 'files':
        [md path, json path]}``.
    """
    args = parse_args(argv)
    from mmwsss.apis.seed_scoring import compare_seed_folders
    from mmwsss.evaluation import parse_named_dirs
    return compare_seed_folders(
        parse_named_dirs(args.seeds),
        dataset=args.dataset,
        split=args.split,
        data_root=args.data_root,
        cfg_options=args.cfg_options,
        ignore_index=args.ignore_index,
        allow_missing=args.allow_missing,
        nproc=args.nproc,
        out_dir=args.out_dir,
        digits=args.digits)


def console(argv: Optional[List[str]] = None) -> None:
    """:func:`main` with a bad input ending the process in one line."""
    from mmwsss.evaluation.seed_eval import SeedEvalError

    from ._mm import one_line_errors
    one_line_errors(main, argv, (SeedEvalError, ))


if __name__ == '__main__':
    console()
