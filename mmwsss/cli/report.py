"""Command line of the HTML report: ``tools/report.py`` and the
``mmwsss-report`` entry point (:func:`run`).

See tools/report.py for examples. :func:`main` returns the path of the
written ``report.html``; :func:`run` is :func:`main` with a bad input (a
:class:`~mmwsss.evaluation.SeedEvalError`) turned into a one-line exit
message.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmwsss.evaluation.seed_eval import SeedEvalError, add_dataset_arguments

__all__ = ['parse_args', 'build_inputs', 'main', 'run']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='HTML report of seeds, CAMs and training')
    parser.add_argument(
        'work_dir',
        nargs='?',
        help='pipeline work dir (else --seeds and --dataset)')
    parser.add_argument(
        '--seeds',
        nargs='+',
        default=[],
        metavar='NAME=DIR',
        help='seed folders (with a work dir: baselines shown beside its '
        'coarse and fine seeds); a bare DIR is named after itself')
    parser.add_argument(
        '--out', help='output folder (default: <work_dir>/report)')
    parser.add_argument(
        '--rank-by',
        help='seed set whose per-image mIoU picks the worst / best images '
        '(default: the last one: the fine seeds of a work dir)')
    parser.add_argument(
        '--num-images',
        type=int,
        default=4,
        help='worst and best images shown (each)')
    parser.add_argument(
        '--no-cams',
        action='store_true',
        help='do not recompute CAMs for the strips')
    parser.add_argument('--cam-config', help='seed config of the CAM model')
    parser.add_argument('--cam-checkpoint', help='its prompt checkpoint')
    parser.add_argument('--device', default='cpu', help='CAM model device')
    parser.add_argument(
        '--embed',
        action='store_true',
        help='embed the figures in report.html (one file)')
    add_dataset_arguments(parser, required=False)
    return parser.parse_args(argv)


def build_inputs(args: argparse.Namespace):
    """The :class:`~mmwsss.evaluation.report.ReportInputs` of the
    arguments.

    Raises:
        SeedEvalError: Neither a work dir nor ``--seeds`` with
            ``--dataset``.
    """
    from mmwsss.evaluation.seed_eval import parse_named_dirs
    from mmwsss.evaluation.report.inputs import ReportInputs, inputs_from_work_dir
    seeds = parse_named_dirs(args.seeds)
    if args.work_dir:
        inputs = inputs_from_work_dir(
            args.work_dir, seeds, cams=not args.no_cams)
    elif seeds and args.dataset:
        cams = args.cam_config and args.cam_checkpoint and not args.no_cams
        inputs = ReportInputs(
            seed_dirs=seeds,
            dataset=args.dataset,
            split=args.split,
            data_root=args.data_root,
            cfg_options=args.cfg_options,
            cam_config=args.cam_config if cams else None,
            cam_checkpoint=args.cam_checkpoint if cams else None,
            settings=[('dataset', f'{args.dataset} '
                       f'({args.split or "default split"})')] +
            [(f'seeds: {k}', v) for k, v in seeds.items()],
            title='Seed report: ' + ', '.join(seeds))
    else:
        raise SeedEvalError('give a pipeline work dir, or --seeds and '
                            '--dataset')
    inputs.ignore_index = args.ignore_index
    inputs.nproc = args.nproc
    inputs.rank_set = args.rank_by
    return inputs


def main(argv: Optional[List[str]] = None) -> str:
    """Run the tool.

    Args:
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).

    Returns:
        str: Path of the written ``report.html``.
    """
    args = parse_args(argv)
    from mmengine.logging import print_log

    from mmwsss.evaluation.report.writer import write_report
    out = args.out or (osp.join(args.work_dir, 'report')
                       if args.work_dir else 'work_dirs/seed_report')
    path = write_report(
        build_inputs(args),
        out,
        num_images=args.num_images,
        embed_images=args.embed,
        device=args.device)
    print_log(f'report written to {path}', logger='current')
    return path


def run() -> None:
    """Entry point (``mmwsss-report``): :func:`main` on ``sys.argv``; a bad
    input exits with one line naming it."""
    try:
        main()
    except SeedEvalError as e:
        sys.exit(f'error: {e}')
