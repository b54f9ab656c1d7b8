# Copyright (c) mmwsss contributors. All rights reserved.
"""Stage 0: SAM quasi-superpixels for every image of a dataset.

``python tools/gen_sam_masks.py CONFIG [--overwrite] [--work-dir DIR]
[--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]``

The config holds

- ``sam_generator``: a ``SAMQuasiSuperpixelGenerator`` config dict
  (see ``configs/sams/sam_vit_h.py``) or the weight-free
  ``FelzenszwalbQuasiSuperpixelGenerator`` (``configs/sams/felzenszwalb.py``);
- ``dataset``: ANY registered dataset whose data infos carry ``img_path``
  (mmseg's ``PascalVOCDataset``, mmwsss's ``VOCImageLabelDataset``, ...);
- ``mask_dir``: where ``<image stem>.npz`` files go (format:
  :mod:`mmwsss.models.sams.mask_cache`).

Every image gets one cache file, written atomically. A rerun skips images
whose cache exists and validates (same generator fingerprint and image
size) and regenerates unreadable or foreign ones; ``--overwrite`` redoes all.
An image that fails is logged with its path and the run goes on; the exit
code is 1 when any image failed. Distributed
(``bash tools/dist_gen_sam_masks.sh CONFIG GPUS``): rank ``r`` of ``w``
takes images ``r, r + w, ...`` on ``cuda:LOCAL_RANK`` (gloo on CPU-only
machines), so no two ranks write the same file; the summary (images done /
skipped / failed, masks per image by level) is gathered over all ranks.
"""
import argparse
import os
import os.path as osp
import sys
import time
import traceback
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

LEVEL_NAMES = ('sub-part', 'part', 'whole')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Generate SAM quasi-superpixels (mask caches) for a '
        'dataset.')
    parser.add_argument('config', help='config file (configs/sams/*.py)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='regenerate images whose cache is already valid')
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


def shard_indices(num: int, rank: int, world_size: int) -> List[int]:
    """Indices of the images rank ``rank`` of ``world_size`` processes.

    Args:
        num (int): Number of images.
        rank (int): This process's rank.
        world_size (int): Number of processes.

    Returns:
        list[int]: ``rank, rank + world_size, ...`` below ``num``.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f'rank {rank} outside world size {world_size}')
    return list(range(rank, num, world_size))


def cache_paths(img_paths: Sequence[str], mask_dir: str) -> List[str]:
    """Cache file of every image; two images may not share one.

    Raises:
        ValueError: Two images have the same file stem.
    """
    from mmwsss.models.sams import mask_cache_path
    paths = [mask_cache_path(mask_dir, p) for p in img_paths]
    first: Dict[str, str] = {}
    for img, path in zip(img_paths, paths):
        if path in first:
            raise ValueError(
                f'Images {first[path]} and {img} would share the SAM mask '
                f'cache {path}: cache files are named by image stem, so a '
                'dataset with repeated stems needs one mask_dir per subset.')
        first[path] = img
    return paths


def _init_distributed(launcher: str) -> None:
    import torch
    import torch.distributed as torch_dist
    from mmengine.dist import init_dist
    if launcher == 'none':
        return
    if torch.cuda.is_available():
        init_dist(launcher, backend='nccl')
    elif launcher == 'pytorch':
        torch_dist.init_process_group(backend='gloo')
    else:
        raise RuntimeError(
            f'--launcher {launcher} needs CUDA devices; on a CPU-only '
            'machine use --launcher pytorch (gloo) or none.')


def _level_stats(counts: np.ndarray) -> str:
    lines = []
    if len(counts) == 0:
        return '  (no image has masks)'
    for k in range(counts.shape[1] - 1, -1, -1):
        c = counts[:, k]
        lines.append(f'  {LEVEL_NAMES[k]:>8}: mean {c.mean():.1f}  '
                     f'min {c.min()}  max {c.max()}')
    tot = counts.sum(1)
    lines.append(f'  {"all":>8}: mean {tot.mean():.1f}  min {tot.min()}  '
                 f'max {tot.max()}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the generation; returns the exit code (1 if any image failed)."""
    args = parse_args(argv)

    import mmcv
    import torch
    from mmengine.config import Config
    from mmengine.dist import all_gather_object, get_dist_info
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmengine.utils import ProgressBar, mkdir_or_exist

    import mmwsss  # noqa: F401  (stack fixes + registries)
    from mmseg.registry import DATASETS, MODELS
    from mmwsss.models.sams import MaskCacheError, load_masks, save_masks

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    for key in ('sam_generator', 'dataset', 'mask_dir'):
        if not cfg.get(key):
            raise KeyError(f'{args.config}: config key "{key}" is missing '
                           '(see configs/sams/voc_train.py).')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    work_dir = (
        args.work_dir or cfg.get('work_dir')
        or osp.join('work_dirs', 'sam_masks',
                    osp.splitext(osp.basename(args.config))[0]))

    _init_distributed(args.launcher)
    rank, world_size = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', 0))

    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    if rank == 0:
        mkdir_or_exist(work_dir)
        cfg.dump(osp.join(work_dir, osp.basename(args.config)))
    logger = MMLogger.get_instance(
        f'gen_sam_masks_{time.time_ns()}',
        logger_name='mmwsss',
        log_file=osp.join(work_dir, f'gen_sam_masks_{timestamp}.log')
        if rank == 0 else None,
        log_level='INFO')

    dataset = DATASETS.build(cfg.dataset)
    img_paths = [
        dataset.get_data_info(i)['img_path'] for i in range(len(dataset))
    ]
    out_paths = cache_paths(img_paths, cfg.mask_dir)

    gen_cfg = dict(cfg.sam_generator)
    if world_size > 1 and torch.cuda.is_available():
        gen_cfg['device'] = f'cuda:{local_rank}'
    generator = MODELS.build(gen_cfg)
    fingerprint = generator.fingerprint
    mkdir_or_exist(cfg.mask_dir)

    mine = shard_indices(len(img_paths), rank, world_size)
    logger.info(
        f'{len(img_paths)} images, {world_size} process(es); rank {rank} '
        f'takes {len(mine)} on {generator.device}. {gen_cfg["type"]} '
        f'{gen_cfg.get("model_type", "")}, fingerprint {fingerprint}, '
        f'masks -> {cfg.mask_dir}'
        f'{" (overwrite)" if args.overwrite else ""}')

    status: Counter = Counter()
    level_counts: List[List[int]] = []
    failed: List[str] = []
    progress = ProgressBar(len(mine)) if rank == 0 and mine else None
    for idx in mine:
        img_path, out = img_paths[idx], out_paths[idx]
        try:
            img = mmcv.imread(img_path, channel_order='rgb')
            if img is None:
                raise ValueError('the file is not a readable image')
            record = None
            if not args.overwrite and osp.exists(out):
                try:
                    record = load_masks(out, fingerprint, img.shape[:2])
                    status['skipped'] += 1
                except MaskCacheError as err:
                    logger.info(f'Regenerating: {err}')
            if record is None:
                record = generator.generate_record(img)
                save_masks(out, record)
                status['done'] += 1
            level_counts.append(
                np.bincount(record.levels.astype(np.int64),
                            minlength=3)[:3].tolist())
        except Exception as err:  # one bad image must not stop the run
            status['failed'] += 1
            failed.append(img_path)
            logger.error(f'Failed on {img_path}: {type(err).__name__}: '
                         f'{err}')
            logger.info(traceback.format_exc())
        if progress is not None:
            progress.update()

    # gather over ranks
    gathered = all_gather_object(
        dict(status=dict(status), levels=level_counts, failed=failed))
    total: Counter = Counter()
    all_levels: List[List[int]] = []
    all_failed: List[str] = []
    for part in gathered:
        total.update(part['status'])
        all_levels += part['levels']
        all_failed += part['failed']
    if rank == 0:
        if progress is not None:
            sys.stdout.write('\n')
        counts = np.asarray(all_levels, np.int64).reshape(-1, 3)
        summary = (f'SAM masks in {cfg.mask_dir}: {len(img_paths)} images, '
                   f'{total["done"]} generated, {total["skipped"]} skipped '
                   f'(valid cache), {total["failed"]} failed.')
        lines = [summary, 'Masks per image by level:', _level_stats(counts)]
        if all_failed:
            lines.append('Failed images (first 20 of '
                         f'{len(all_failed)}): ' + ', '.join(all_failed[:20]))
        logger.info('\n'.join(lines))
    return 1 if total['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
