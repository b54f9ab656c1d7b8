"""Stage 0: SAM quasi-superpixels for every image of a dataset.

:func:`generate_sam_masks` (library; returns the numbers as a dict and
writes them to ``<work_dir>/sam_masks_results.json``); the command
``mmwsss-gen-masks CONFIG [--overwrite] [--work-dir DIR] [--cfg-options
k=v ...] [--launcher none|pytorch|slurm|mpi]`` (:mod:`mmwsss.cli.gen_sam_masks`,
also ``python tools/gen_sam_masks.py`` in a clone); CONFIG may be an
``mmwsss::sams/...`` name.

The config holds

- ``sam_generator``: a ``SAMQuasiSuperpixelGenerator`` config dict
  (see ``configs/sams/sam_vit_h.py``) or the weight-free
  ``FelzenszwalbQuasiSuperpixelGenerator`` (``configs/sams/felzenszwalb.py``);
- ``dataset``: ANY registered dataset whose data infos carry ``img_path``
  (mmseg's ``PascalVOCDataset``, mmwsss's ``VOCImageLabelDataset``, ...);
- ``mask_dir``: where ``<image stem>.npz`` files go (format:
  :mod:`mmwsss.io.mask_cache`).

Every image gets one cache file, written atomically. A rerun skips images
whose cache exists and validates (same generator fingerprint and image
size) and regenerates unreadable ones; ``--overwrite`` redoes all. A
``mask_dir`` that holds masks of another SAM config (another fingerprint)
is refused, naming both fingerprints, unless ``--overwrite``.
An image that fails is logged with its path and the run goes on; the exit
code is 1 when any image failed. Distributed
(``bash tools/dist_gen_sam_masks.sh CONFIG GPUS``, or
``python -m torch.distributed.run --nproc_per_node GPUS -m
mmwsss.cli.gen_sam_masks CONFIG --launcher pytorch``): rank ``r`` of ``w``
takes images ``r, r + w, ...`` on ``cuda:LOCAL_RANK`` (gloo on CPU-only
machines), so no two ranks write the same file; the summary (images done /
skipped / failed, masks per image by level) is gathered over all ranks.
"""
import os
import os.path as osp
import time
import traceback
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

LEVEL_NAMES = ('sub-part', 'part', 'whole')


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
    from mmwsss.io import mask_cache_path
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


class RefusedError(RuntimeError):
    """The run would give wrong or mixed results; nothing was generated."""


def load_generator_config(config, cfg_options: Optional[dict] = None):
    """The config (Config, dict, file or ``mmwsss::`` name) with the
    overrides merged and its keys checked."""
    from .stage_io import load_config
    cfg = load_config(config, cfg_options)
    for key in ('sam_generator', 'dataset', 'mask_dir'):
        if not cfg.get(key):
            raise KeyError(f'{_name(config)}: config key "{key}" is missing '
                           '(see configs/sams/voc_train.py).')
    return cfg


def _name(config) -> str:
    return config if isinstance(config, str) else (
        getattr(config, 'filename', None) or 'config')


def setup_logger(config: str, cfg, work_dir: str, rank: int):
    """Dump the config and make the run's logger (log file on rank 0)."""
    from mmengine.logging import MMLogger
    from mmengine.utils import mkdir_or_exist
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    if rank == 0:
        mkdir_or_exist(work_dir)
        cfg.dump(osp.join(work_dir, osp.basename(config)))
    return MMLogger.get_instance(
        f'gen_sam_masks_{time.time_ns()}',
        logger_name='mmwsss',
        log_file=osp.join(work_dir, f'gen_sam_masks_{timestamp}.log')
        if rank == 0 else None,
        log_level='INFO')


def _ann_files(dataset_cfg: Any, key: str = 'dataset') -> List[Tuple[str,
                                                                      str]]:
    """(config key, path) of every ``ann_file`` in a dataset config,
    wrappers (``ConcatDataset.datasets``, ``dataset``) included."""
    out: List[Tuple[str, str]] = []
    if not isinstance(dataset_cfg, dict):
        return out
    ann = dataset_cfg.get('ann_file')
    if ann:
        root = dataset_cfg.get('data_root') or ''
        out.append((f'{key}.ann_file',
                    ann if osp.isabs(ann) else osp.join(root, ann)))
    for i, sub in enumerate(dataset_cfg.get('datasets') or []):
        out += _ann_files(sub, f'{key}.datasets[{i}]')
    if isinstance(dataset_cfg.get('dataset'), dict):
        out += _ann_files(dataset_cfg['dataset'], f'{key}.dataset')
    return out


def _empty_splits(dataset_cfg: Any) -> List[str]:
    """``key = path`` of the split files that list no image."""
    empty = []
    for key, path in _ann_files(dataset_cfg):
        if osp.isfile(path):
            with open(path) as f:
                if not any(line.strip() for line in f):
                    empty.append(f'{key} = {path}')
    return empty


def build_image_paths(config: str, cfg) -> List[str]:
    """Image paths of ``cfg.dataset``.

    Raises:
        RefusedError: The dataset (or one of its splits) has no image.
    """
    from mmseg.registry import DATASETS
    empty = _empty_splits(cfg.dataset)
    if empty:  # mmseg reads a blank line as an image named ''
        raise RefusedError(f'{config}: no images to process (empty split '
                           f'file {", ".join(empty)}).')
    try:
        dataset = DATASETS.build(cfg.dataset)
    except ValueError as err:
        # mmengine's serialisation of an empty data list
        if 'need at least one array to concatenate' not in str(err):
            raise
        dataset = None
    if dataset is None or len(dataset) == 0:
        raise RefusedError(f'{config}: no images to process (dataset of '
                           f'type {cfg.dataset.get("type")}).')
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def build_generator(cfg, world_size: int, local_rank: int) -> Any:
    """The SAM generator of the config, on this rank's GPU if distributed."""
    import torch
    from mmseg.registry import MODELS
    gen_cfg = dict(cfg.sam_generator)
    if world_size > 1 and torch.cuda.is_available():
        gen_cfg['device'] = f'cuda:{local_rank}'
    return MODELS.build(gen_cfg)


def foreign_caches(paths: Sequence[str],
                   fingerprint: str) -> Dict[str, List[str]]:
    """Existing cache files made with another SAM config.

    Args:
        paths (Sequence[str]): Cache files to look at (missing and
            unreadable ones are not foreign: a run regenerates them).
        fingerprint (str): This run's generator fingerprint.

    Returns:
        dict[str, list[str]]: Other fingerprint -> its files.
    """
    from mmwsss.io.mask_cache import read_fingerprint
    out: Dict[str, List[str]] = {}
    for path in paths:
        if osp.isfile(path):
            found = read_fingerprint(path)
            if found is not None and found != fingerprint:
                out.setdefault(found, []).append(path)
    return out


def check_mask_dir(mask_dir: str, paths: Sequence[str], fingerprint: str,
                   overwrite: bool) -> int:
    """Refuse to mix masks of two SAM configs in one folder.

    Every rank looks at its own files; the result is gathered over ranks.

    Returns:
        int: Number of foreign files (replaced: ``overwrite`` is set).

    Raises:
        RefusedError: Foreign files exist and ``overwrite`` is not set.
    """
    from mmengine.dist import all_gather_object
    found: Dict[str, List[str]] = {}
    for part in all_gather_object(foreign_caches(paths, fingerprint)):
        for fp, files in part.items():
            found.setdefault(fp, []).extend(files)
    num = sum(len(v) for v in found.values())
    if num and not overwrite:
        others = ', '.join(f'{fp!r} ({len(v)} files, e.g. {v[0]})'
                           for fp, v in sorted(found.items()))
        raise RefusedError(
            f'mask_dir {mask_dir} holds SAM masks of another config: '
            f'fingerprint {others}; this config\'s fingerprint is '
            f'{fingerprint!r}. Pass --overwrite to replace them, or set '
            'mask_dir to another folder.')
    return num


def generate_masks(generator: Any, img_paths: Sequence[str],
                   out_paths: Sequence[str], indices: Sequence[int],
                   overwrite: bool, logger: Any,
                   show_progress: bool) -> Dict[str, Any]:
    """Generate (or validate) the cache of the images ``indices``.

    An image that fails is logged with its path and the loop goes on.

    Returns:
        dict: ``status`` (done / skipped / failed counts), ``levels``
        (masks per level of each image) and ``failed`` (image paths).
    """
    import mmcv

    from mmwsss.io import load_masks, MaskCacheError, save_masks
    from mmwsss.utils.progress import Progress
    status: Counter = Counter()
    levels: List[List[int]] = []
    failed: List[str] = []
    progress = Progress(len(indices), 'SAM masks', logger=logger) \
        if show_progress and indices else None
    for idx in indices:
        img_path, out = img_paths[idx], out_paths[idx]
        try:
            img = mmcv.imread(img_path, channel_order='rgb')
            if img is None:
                raise ValueError('the file is not a readable image')
            record = None
            if not overwrite and osp.exists(out):
                try:
                    record = load_masks(out, generator.fingerprint,
                                        img.shape[:2])
                    status['skipped'] += 1
                except MaskCacheError as err:
                    logger.info(f'Regenerating {out}: {err}')
            if record is None:
                record = generator.generate_record(img)
                save_masks(out, record)
                status['done'] += 1
            levels.append(
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
    if progress is not None:
        progress.close()
    return dict(status=dict(status), levels=levels, failed=failed)


def summarise_data(parts: Sequence[Dict[str, Any]], num_images: int,
                   mask_dir: str) -> Dict[str, Any]:
    """The numbers of all ranks' :func:`generate_masks` results as data.
    """
    total: Counter = Counter()
    levels: List[List[int]] = []
    failed: List[str] = []
    for part in parts:
        total.update(part['status'])
        levels += part['levels']
        failed += part['failed']
    counts = np.asarray(levels, np.int64).reshape(-1, 3)
    return dict(
        mask_dir=mask_dir,
        images=num_images,
        generated=total['done'],
        skipped=total['skipped'],
        failed=total['failed'],
        failed_images=failed,
        masks_per_image={
            LEVEL_NAMES[k]: float(counts[:, k].mean()) if len(counts) else None
            for k in range(3)
        })


def summarise(parts: Sequence[Dict[str, Any]], num_images: int,
              mask_dir: str) -> Tuple[str, int]:
    """The summary of all ranks' :func:`generate_masks` results.

    Returns:
        tuple[str, int]: The summary text and the number of failed images.
    """
    total: Counter = Counter()
    all_levels: List[List[int]] = []
    all_failed: List[str] = []
    for part in parts:
        total.update(part['status'])
        all_levels += part['levels']
        all_failed += part['failed']
    counts = np.asarray(all_levels, np.int64).reshape(-1, 3)
    lines = [
        f'SAM masks in {mask_dir}: {num_images} images, {total["done"]} '
        f'generated, {total["skipped"]} skipped (valid cache), '
        f'{total["failed"]} failed.', 'Masks per image by level:',
        _level_stats(counts)
    ]
    if all_failed:
        lines.append(f'Failed images (first 20 of {len(all_failed)}): ' +
                     ', '.join(all_failed[:20]))
    return '\n'.join(lines), total['failed']


def generate_sam_masks(config,
                       work_dir: Optional[str] = None,
                       overwrite: bool = False,
                       cfg_options: Optional[dict] = None,
                       launcher: str = 'none',
                       results_file: Optional[str] = None) -> Dict[str, Any]:
    """Generate (or validate) the mask cache of every image of the config's
    ``dataset``.

    Args:
        config (Config | dict | str): Config with ``sam_generator``,
            ``dataset`` and ``mask_dir`` (a file or ``mmwsss::`` name).
        work_dir (str, optional): Log, dumped config and results; default
            the config's ``work_dir``, else
            ``work_dirs/sam_masks/<config name>``.
        overwrite (bool): Regenerate valid caches; replace masks of another
            SAM config.
        cfg_options (dict, optional): Config overrides.
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``.
        results_file (str, optional): The results JSON (default
            ``<work_dir>/sam_masks_results.json``; ``''``: none).

    Returns:
        dict: ``mask_dir``, ``images``, ``generated``, ``skipped``,
        ``failed``, ``failed_images``, ``masks_per_image`` (mean per level),
        ``refused`` (why nothing was generated, or None), ``exit_code``
        (0; 1 if an image failed; 2 if refused), ``work_dir``,
        ``seconds``.
    """
    from mmengine.registry import init_default_scope

    from .mm_tools import finish_distributed
    from .stage_io import results_path, write_results
    t0 = time.time()
    cfg = load_generator_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    name = _name(config)
    work_dir = osp.abspath(
        work_dir or cfg.get('work_dir')
        or osp.join('work_dirs', 'sam_masks',
                    osp.splitext(osp.basename(name.split('::')[-1]))[0]))
    _init_distributed(launcher)
    try:
        res = _run(name, cfg, work_dir, overwrite)
    finally:
        finish_distributed()
    res.update(work_dir=work_dir, seconds=round(time.time() - t0, 1))
    from mmengine.dist import is_main_process
    path = results_path(results_file, work_dir, 'sam_masks_results.json')
    return write_results(res, path if is_main_process() else None)


def _run(config: str, cfg: Any, work_dir: str,
         overwrite: bool) -> Dict[str, Any]:
    """Generate this rank's share of the masks; see
    :func:`generate_sam_masks`."""
    from mmengine.dist import all_gather_object, get_dist_info
    from mmengine.utils import mkdir_or_exist

    rank, world_size = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    logger = setup_logger(config, cfg, work_dir, rank)

    refusal = None
    try:
        img_paths = build_image_paths(config, cfg)
        out_paths = cache_paths(img_paths, cfg.mask_dir)
        mine = shard_indices(len(img_paths), rank, world_size)
        generator = build_generator(cfg, world_size, local_rank)
        replaced = check_mask_dir(cfg.mask_dir, [out_paths[i] for i in mine],
                                  generator.fingerprint, overwrite)
    except RefusedError as err:
        refusal = str(err)
    # every rank sees its own shard only: refuse on all ranks if any refused,
    # so that no rank waits for the others' summary forever
    refusals = [r for r in all_gather_object(refusal) if r is not None]
    if refusals:
        if refusal is not None or rank == 0:
            logger.error(refusal or refusals[0])
        return dict(
            mask_dir=cfg.mask_dir, refused=refusal or refusals[0],
            exit_code=2)
    mkdir_or_exist(cfg.mask_dir)
    logger.info(
        f'{len(img_paths)} images, {world_size} process(es); rank {rank} '
        f'takes {len(mine)} on {generator.device}. '
        f'{cfg.sam_generator.get("type", "")} '
        f'{cfg.sam_generator.get("model_type", "")}, fingerprint '
        f'{generator.fingerprint}, masks -> {cfg.mask_dir}'
        f'{" (overwrite)" if overwrite else ""}' +
        (f'; replacing {replaced} masks of another SAM config'
         if replaced else ''))

    part = generate_masks(generator, img_paths, out_paths, mine, overwrite,
                          logger, show_progress=rank == 0)
    parts = all_gather_object(part)
    summary, num_failed = summarise(parts, len(img_paths), cfg.mask_dir)
    if rank == 0:
        logger.info(summary)
    return dict(
        summarise_data(parts, len(img_paths), cfg.mask_dir),
        fingerprint=generator.fingerprint,
        replaced=replaced,
        refused=None,
        exit_code=1 if num_failed else 0)
