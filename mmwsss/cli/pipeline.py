"""The whole FMA-WSSS (or WeCLIP+) pipeline on a labelled image folder, one
command.

``mmwsss-pipeline DATA_DIR [--work-dir DIR] [--val-data DIR]`` (in a
clone also ``python tools/run_pipeline.py ...``, a thin wrapper)

DATA_DIR in :class:`~mmwsss.datasets.ImageLabelFolderDataset`'s layout
(``images/``, ``labels.json`` or ``labels.csv``, ``classes.txt``, optional
``masks/``) or a PASCAL VOC folder (``data/voc_mini``: what ``make demo``
runs). Stages: SAM masks -> two-phase prompts -> seeds (+ seed mIoU where
masks exist) -> stage-2 model -> test (+ SAMS TTA); see
:mod:`mmwsss.apis.pipeline`. Every stage writes the config it ran to
``<work-dir>/configs/<stage>.py`` first; rerunning resumes. At the end
``<work-dir>/report/report.html`` (``mmwsss-report``) is written and its
path printed (``--no-report`` skips it).

``--method weclip-plus`` replaces the first stage: the single-stage WeCLIP+
(frozen CLIP + frozen DINOv2, ``--weclip-config``) trains on the images,
and its online pseudo labels become the seeds that stage 2 learns from.

Weights: without any, a tiny RANDOM CLIP and weight-free (Felzenszwalb)
quasi-superpixels run, and the output says so loudly. Real models::

    MMWSSS_CLIP=ViT-B-16 MMWSSS_CLIP_PRETRAINED=/path/ViT-B-16.pt \\
    MMWSSS_SAM_TYPE=vit_h MMWSSS_SAM_CHECKPOINT=/path/sam_vit_h_4b8939.pth \\
    mmwsss-pipeline DATA_DIR

(or ``--clip``, ``--clip-pretrained``, ``--sam-type``, ``--sam-checkpoint``).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

__all__ = [
    'parse_args', 'build_runner', 'write_run_report', 'main', 'console'
]

from mmwsss.apis.pipeline import STAGES
from mmwsss.apis.stage_configs import (METHODS, SAM_GENERATOR,
                                       WEIGHT_FREE_GENERATOR, BaseConfigs)

_DEFAULTS = BaseConfigs()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments (weights default to the MMWSSS_* env vars)."""
    p = argparse.ArgumentParser(
        prog='mmwsss-pipeline',
        description='FMA-WSSS end to end on a labelled image folder '
        '(resumable).')
    p.add_argument('data_dir', help='image folder (see module docstring)')
    p.add_argument('--work-dir', help='default work_dirs/<folder name>')
    p.add_argument('--val-data', help='test folder in the same layout')
    p.add_argument(
        '--classes', help='comma-separated class names (else classes.txt)')
    p.add_argument(
        '--force', choices=STAGES, help='redo this stage and every later one')
    p.add_argument(
        '--mask-generator',
        help='quasi-superpixel config for mmwsss-gen-masks (default: '
        f'{SAM_GENERATOR} with --sam-checkpoint, else the weight-free '
        f'{WEIGHT_FREE_GENERATOR})')
    p.add_argument(
        '--method',
        choices=METHODS,
        default='fma-wsss',
        help='first stage: FMA-WSSS prompts + seeds (default), or WeCLIP+ '
        'trained on the images with its online pseudo labels as the seeds')
    p.add_argument(
        '--weclip-config',
        default=_DEFAULTS.weclip,
        help=f'WeCLIP / WeCLIP+ config of --method weclip-plus (default '
        f'{_DEFAULTS.weclip})')
    p.add_argument(
        '--weclip-iters',
        type=int,
        help='WeCLIP+ training iterations (default: the config\'s)')
    for stage in ('prompt', 'seed', 'stage2'):
        default = getattr(
            _DEFAULTS, 'prompts'
            if stage == 'prompt' else 'seeds' if stage == 'seed' else 'stage2')
        p.add_argument(
            f'--{stage}-config',
            default=default,
            help=f'base config of the {stage} stage (default {default})')
    p.add_argument(
        '--prompt-iters',
        type=int,
        nargs=2,
        metavar=('CLS', 'SEG'),
        help='phase-1 / phase-2 iterations (default: the config\'s)')
    p.add_argument('--stage2-iters', type=int, help='default: the config\'s')
    env = os.environ.get
    p.add_argument(
        '--clip',
        default=env('MMWSSS_CLIP'),
        help='open_clip model name (env MMWSSS_CLIP)')
    p.add_argument(
        '--clip-pretrained',
        default=env('MMWSSS_CLIP_PRETRAINED'),
        help="'openai' or a checkpoint (env MMWSSS_CLIP_PRETRAINED)")
    p.add_argument(
        '--sam-type',
        default=env('MMWSSS_SAM_TYPE'),
        help='vit_h / vit_l / vit_b (env MMWSSS_SAM_TYPE)')
    p.add_argument(
        '--sam-checkpoint',
        default=env('MMWSSS_SAM_CHECKPOINT'),
        help='SAM checkpoint (env MMWSSS_SAM_CHECKPOINT)')
    p.add_argument(
        '--python',
        default=sys.executable,
        help='interpreter of the stages\' child processes')
    p.add_argument(
        '--in-process',
        action='store_true',
        help='run the stages in this process instead of one child process '
        'each (faster on small data: no interpreter start per stage; '
        'memory is not given back between stages)')
    p.add_argument(
        '--no-report',
        action='store_true',
        help='do not write <work-dir>/report/report.html at the end')
    return p.parse_args(argv)


def build_runner(args: argparse.Namespace, **kwargs):
    """The :class:`~mmwsss.apis.PipelineRunner` of parsed arguments.

    Raises:
        SystemExit: With one line naming the bad input.
    """
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmwsss.apis import DataError, PipelineRunner, data_spec
    classes = [c.strip()
               for c in args.classes.split(',')] if args.classes else None
    try:
        spec = data_spec(args.data_dir, args.val_data, classes)
        spec.check()
    except DataError as e:
        raise SystemExit(f'error: {e}')
    work = args.work_dir or osp.join('work_dirs',
                                     osp.basename(osp.abspath(args.data_dir)))
    from mmwsss.apis import Weights
    from mmwsss.apis.run_guard import RunGuardError
    try:
        return PipelineRunner(
            spec,
            work,
            weights=Weights(args.clip, args.clip_pretrained, args.sam_type,
                            args.sam_checkpoint),
            configs=BaseConfigs(
                mask_generator=args.mask_generator,
                method=args.method,
                weclip=args.weclip_config,
                prompts=args.prompt_config,
                seeds=args.seed_config,
                stage2=args.stage2_config),
            force=args.force,
            prompt_iters=tuple(args.prompt_iters)
            if args.prompt_iters else None,
            stage2_iters=args.stage2_iters,
            weclip_iters=args.weclip_iters,
            python=args.python,
            **dict(dict(in_process=args.in_process), **kwargs))
    except RunGuardError as e:  # an unwritable work dir
        raise SystemExit(f'error: {e}')


def write_run_report(runner) -> str:
    """Write the HTML report of a finished run (``mmwsss-report`` on its
    work dir) and print its path.

    Args:
        runner (PipelineRunner): The runner after :meth:`run`.

    Returns:
        str: Path of ``<work_dir>/report/report.html``.
    """
    from mmwsss.evaluation.report import write_report
    path = write_report(runner.work)
    print(f'Report: {path}', flush=True)
    return path


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the pipeline (and write its report); return the results of
    every stage."""
    from mmwsss.apis.run_guard import RunGuardError
    args = parse_args(argv)
    runner = build_runner(args)
    try:
        results = runner.run()
    except RunGuardError as e:
        raise SystemExit(f'error: {e}')
    if not args.no_report:
        write_run_report(runner)
    return results


def console(argv: Optional[List[str]] = None) -> None:
    """The command ``mmwsss-pipeline`` (:func:`main`, exit code 0)."""
    main(argv)


if __name__ == '__main__':
    console()
