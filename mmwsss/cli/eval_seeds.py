"""``mmwsss-eval-seeds SEED_DIR --dataset voc|coco|CONFIG [--split S]
[--out FILE] [--overlay-dir DIR] ...``: score a folder of seed PNGs (from
any method) against ground truth
(:func:`mmwsss.apis.seed_scoring.score_seed_folder`).

Examples::

    # VOC 2012 train, GT in data/VOCdevkit/VOC2012
    mmwsss-eval-seeds work_dirs/voc_seeds/seeds --dataset voc
    # any dataset config (its `dataset` or `test_dataloader.dataset`)
    mmwsss-eval-seeds SEED_DIR --dataset my_data.py \\
        --cfg-options test_dataloader.dataset.ann_file=ImageSets/x.txt

Seeds are ``<SEED_DIR>/<image stem>.png`` with class indices as pixel
values (0 background, 1..C; 255 counts as "no class"). Prints the per-class
IoU / precision / recall table and writes the JSON report (default
``<SEED_DIR>/seed_scores.json``). Missing seeds are an error listing them,
unless ``--allow-missing``.
"""
import argparse
from typing import List, Optional

__all__ = ['parse_args', 'main', 'console']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmwsss.evaluation.seed_eval import add_dataset_arguments
    parser = argparse.ArgumentParser(
        prog='mmwsss-eval-seeds',
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


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the command.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        dict: The JSON report that was written.

    Raises:
        SeedEvalError: Bad input (:func:`console` makes it one line).
    """
    args = parse_args(argv)
    from mmwsss.apis.seed_scoring import score_seed_folder
    return score_seed_folder(
        args.seed_dir,
        dataset=args.dataset,
        split=args.split,
        data_root=args.data_root,
        cfg_options=args.cfg_options,
        ignore_index=args.ignore_index,
        allow_missing=args.allow_missing,
        nproc=args.nproc,
        out=args.out,
        overlay_dir=args.overlay_dir,
        num_overlays=args.num_overlays)


def console(argv: Optional[List[str]] = None) -> None:
    """:func:`main` with a bad input ending the process in one line."""
    from mmwsss.evaluation.seed_eval import SeedEvalError

    from ._mm import one_line_errors
    one_line_errors(main, argv, (SeedEvalError, ))


if __name__ == '__main__':
    console()
