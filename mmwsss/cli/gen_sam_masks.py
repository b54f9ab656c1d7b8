"""``mmwsss-gen-masks CONFIG [--overwrite] [--work-dir DIR] [--cfg-options
k=v ...] [--launcher none|pytorch|slurm|mpi]``: SAM quasi-superpixels of
every image of a dataset (:func:`mmwsss.apis.sam_masks.generate_sam_masks`;
CONFIG e.g. ``mmwsss::sams/voc_train.py``). Exit code 0; 1 when an image
failed; 2 when the run was refused. Distributed::

    python -m torch.distributed.run --nproc_per_node GPUS \\
        -m mmwsss.cli.gen_sam_masks CONFIG --launcher pytorch
"""
import argparse
import os
import sys
from typing import Optional, Sequence

__all__ = ['parse_args', 'main', 'console']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        prog='mmwsss-gen-masks',
        description='Generate SAM quasi-superpixels (mask caches) for a '
        'dataset.')
    parser.add_argument(
        'config', help='config file or name (mmwsss::sams/voc_train.py)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='regenerate images whose cache is already valid, and replace '
        'masks of another SAM config in mask_dir')
    parser.add_argument(
        '--work-dir', help='folder for the log and the dumped config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. sam_generator.points_per_batch=64 '
        'mask_dir=work_dirs/x')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the generation.

    Returns:
        int: Exit code: 0, 1 if any image failed, 2 if the run was refused
        (empty dataset, masks of another SAM config in ``mask_dir``).
    """
    args = parse_args(argv)
    from mmwsss.apis.sam_masks import generate_sam_masks
    res = generate_sam_masks(
        args.config,
        work_dir=args.work_dir,
        overwrite=args.overwrite,
        cfg_options=args.cfg_options,
        launcher=args.launcher)
    return res['exit_code']


def console(argv: Optional[Sequence[str]] = None) -> None:
    """The command: :func:`main` with its exit code."""
    sys.exit(main(argv))


if __name__ == '__main__':
    console()
