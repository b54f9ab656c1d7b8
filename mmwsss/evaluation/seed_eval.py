"""Score folders of seed PNGs against a dataset's ground truth.

The engine of ``tools/eval_seeds.py`` and ``tools/compare_seeds.py``. It
needs only the dataset's file list (``img_path``, ``seg_map_path``): no
images are decoded and no pipeline runs, so any dataset config works,
whatever its transforms.

Datasets are named either by a built-in short name or by a config file:

* ``'voc'``: PASCAL VOC 2012 (mmseg's ``PascalVOCDataset``) under
  ``data/VOCdevkit/VOC2012`` (``--data-root`` to change): images in
  ``JPEGImages``, split list ``ImageSets/Segmentation/<split>.txt``, GT in
  ``SegmentationClass`` -- or ``SegmentationClassAug`` for the splits
  ``trainaug`` / ``aug`` written by mmseg's ``voc_aug.py`` converter.
* ``'coco'``: MS COCO 2014 object classes (81, background first) under
  ``data/coco2014``: images ``<split>2014/*.jpg``, GT class-index PNGs
  ``SegmentationClass/<split>2014/*.png``, image list
  ``ImageSets/<split>.txt`` when that file exists (else all images of the
  folder).
* a config file (``.py``): its ``dataset`` dict, else
  ``test_dataloader.dataset``, built through mmseg's DATASETS registry (any
  registered type, wrappers included); ``--cfg-options`` apply to the config
  (e.g. ``test_dataloader.dataset.ann_file=...``).

GT maps are read as mmseg's ``LoadAnnotations`` reads them (pixel values of
palette / grey PNGs, ``reduce_zero_label`` and ``label_map`` of the sample
honoured).
"""
import copy
import multiprocessing
import os.path as osp
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from PIL import Image

from mmwsss.class_names import check_class_list, get_dataset_info
from mmwsss.utils.progress import Progress
from mmwsss.io import read_seed_png, seed_path
from .seed_scores import scores_from_confusion, seed_confusion, seed_report

__all__ = [
    'SeedEvalError', 'GTItem', 'BUILTIN_DATASETS', 'builtin_dataset_cfg',
    'load_dataset_cfg', 'build_seed_eval_dataset', 'collect_gt_items',
    'load_gt', 'find_missing_seeds', 'score_seed_dirs', 'parse_named_dirs'
]

#: Built-in dataset short names (see the module docstring).
BUILTIN_DATASETS = ('voc', 'coco')

_MAX_LISTED = 20


class SeedEvalError(RuntimeError):
    """Bad input to the seed evaluation (dataset spec, missing files...)."""


@dataclass
class GTItem:
    """What is needed to score one image.

    Args:
        img_path (str): The image (its stem names the seed file).
        seg_map_path (str, optional): Ground-truth PNG; None if none.
        reduce_zero_label (bool): As mmseg's ``LoadAnnotations``.
        label_map (dict, optional): As mmseg's ``LoadAnnotations``.
    """
    img_path: str
    seg_map_path: Optional[str]
    reduce_zero_label: bool = False
    label_map: Optional[dict] = None


def add_dataset_arguments(parser, required: bool = True) -> None:
    """The dataset and scoring options shared by ``tools/eval_seeds.py``,
    ``tools/compare_seeds.py`` and ``tools/report.py`` (``--dataset``,
    ``--split``, ``--data-root``, ``--ignore-index``, ``--allow-missing``,
    ``--nproc``, ``--cfg-options``).

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        required (bool): Whether ``--dataset`` must be given. Defaults to
            True.
    """
    from mmengine.config import DictAction
    parser.add_argument(
        '--dataset',
        required=required,
        help='built-in name (voc, coco) or a config file whose `dataset` '
        'or `test_dataloader.dataset` defines the dataset')
    parser.add_argument(
        '--split',
        default=None,
        help='split of a built-in dataset (default: train)')
    parser.add_argument('--data-root', default=None, help='dataset root')
    parser.add_argument(
        '--ignore-index', type=int, default=255, help='GT ignore value')
    parser.add_argument(
        '--allow-missing',
        action='store_true',
        help='score the images that have a seed instead of failing')
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, xxx=yyy (for a built-in dataset the '
        'keys start with `dataset.`)')


def builtin_dataset_cfg(name: str,
                        split: str = 'train',
                        data_root: Optional[str] = None) -> dict:
    """Dataset config of a built-in short name.

    Args:
        name (str): ``'voc'`` or ``'coco'``.
        split (str): VOC: ``train``, ``val``, ``trainval``, ``trainaug``,
            ``aug`` (any ``ImageSets/Segmentation/<split>.txt``); COCO:
            ``train`` or ``val``.
        data_root (str, optional): Dataset root; see the module docstring
            for the defaults.

    Returns:
        dict: A config for mmseg's DATASETS registry (empty pipeline).

    Raises:
        SeedEvalError: Unknown name, or the split list / folders are
            missing (the message names the path).
    """
    if name == 'voc':
        root = data_root or 'data/VOCdevkit/VOC2012'
        gt_dir = ('SegmentationClassAug'
                  if split in ('trainaug', 'aug') else 'SegmentationClass')
        ann = osp.join('ImageSets', 'Segmentation', f'{split}.txt')
        cfg = dict(
            type='PascalVOCDataset',
            data_root=root,
            data_prefix=dict(img_path='JPEGImages', seg_map_path=gt_dir),
            ann_file=ann,
            pipeline=[])
        needed = [ann, 'JPEGImages', gt_dir]
    elif name == 'coco':
        root = data_root or 'data/coco2014'
        info = get_dataset_info('coco')
        img_dir = f'{split}2014'
        gt_dir = osp.join('SegmentationClass', f'{split}2014')
        ann = osp.join('ImageSets', f'{split}.txt')
        cfg = dict(
            type='BaseSegDataset',
            data_root=root,
            metainfo=dict(classes=info['classes'], palette=info['palette']),
            data_prefix=dict(img_path=img_dir, seg_map_path=gt_dir),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            ann_file=ann if osp.isfile(osp.join(root, ann)) else '',
            pipeline=[])
        needed = [img_dir, gt_dir]
    else:
        raise SeedEvalError(
            f'unknown dataset {name!r}: use one of {BUILTIN_DATASETS} or a '
            'config file (.py) defining `dataset` or `test_dataloader`')
    for rel in needed:
        if not osp.exists(osp.join(root, rel)):
            raise SeedEvalError(
                f'{name} {split}: {osp.join(root, rel)} not found (set '
                '--data-root, or pass a dataset config)')
    return cfg


def load_dataset_cfg(dataset: str,
                     split: Optional[str] = None,
                     data_root: Optional[str] = None,
                     cfg_options: Optional[dict] = None) -> dict:
    """Resolve a short name or a config file to a dataset config dict.

    Args:
        dataset (str): ``'voc'``, ``'coco'`` or a config file path.
        split (str, optional): Split of a built-in dataset (default
            ``'train'``). Not allowed with a config file (choose the split
            in the config or with ``cfg_options``).
        data_root (str, optional): Overrides the dataset's ``data_root``.
        cfg_options (dict, optional): Config overrides
            (``Config.merge_from_dict``); for a short name they apply to
            the key ``dataset`` (e.g. ``{'dataset.ann_file': ...}``).

    Returns:
        dict: The dataset config (pipeline emptied).
    """
    if dataset in BUILTIN_DATASETS:
        ds = builtin_dataset_cfg(dataset, split or 'train', data_root)
        cfg = Config(dict(dataset=ds))
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        ds = cfg.dataset
    else:
        if not osp.isfile(dataset):
            raise SeedEvalError(
                f'dataset {dataset!r} is neither a built-in name '
                f'{BUILTIN_DATASETS} nor an existing config file')
        if split is not None:
            raise SeedEvalError(
                f'--split {split} applies to built-in datasets only; choose '
                f'the split in {dataset} or with --cfg-options')
        cfg = Config.fromfile(dataset)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        if cfg.get('dataset') is not None:
            ds = cfg.dataset
        elif cfg.get('test_dataloader') is not None and \
                cfg.test_dataloader.get('dataset') is not None:
            ds = cfg.test_dataloader.dataset
        else:
            raise SeedEvalError(f'{dataset} defines neither `dataset` nor '
                                '`test_dataloader.dataset`')
        if data_root is not None:
            ds['data_root'] = data_root
    ds = copy.deepcopy(ds.to_dict() if isinstance(ds, ConfigDict) else ds)
    if 'pipeline' in ds:
        ds['pipeline'] = []  # only the file list is used
    return ds


def build_seed_eval_dataset(dataset: str,
                            split: Optional[str] = None,
                            data_root: Optional[str] = None,
                            cfg_options: Optional[dict] = None):
    """Build the dataset whose GT the seeds are scored against.

    Args: as :func:`load_dataset_cfg`.

    Returns:
        mmengine.dataset.BaseDataset: The built (fully initialised) dataset.
    """
    from mmengine.registry import init_default_scope

    from mmseg.registry import DATASETS
    cfg = load_dataset_cfg(dataset, split, data_root, cfg_options)
    init_default_scope('mmseg')
    try:
        ds = DATASETS.build(cfg)
    except (AssertionError, FileNotFoundError) as e:
        raise SeedEvalError(
            f'cannot build dataset {cfg.get("type")} from {dataset}: '
            f'{e!r}') from e
    if hasattr(ds, 'full_init'):
        ds.full_init()
    return ds


def collect_gt_items(dataset) -> List[GTItem]:
    """The scoring items of a dataset, from its data infos (no pipeline).

    Args:
        dataset: A built dataset with ``__len__`` and ``get_data_info``.

    Returns:
        list[GTItem]: One per sample, in dataset order.
    """
    items = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'img_path' not in info:
            raise SeedEvalError(
                f'sample {i} of {type(dataset).__name__} has no img_path')
        items.append(
            GTItem(
                img_path=info['img_path'],
                seg_map_path=info.get('seg_map_path'),
                reduce_zero_label=bool(info.get('reduce_zero_label', False)),
                label_map=info.get('label_map')))
    return items


def load_gt(item: GTItem) -> np.ndarray:
    """Read a GT map as mmseg's ``LoadAnnotations`` would.

    Args:
        item (GTItem): The sample.

    Returns:
        np.ndarray: (H, W) uint8 class indices (255 = ignore).
    """
    path = item.seg_map_path
    try:
        with Image.open(path) as img:
            gt = np.array(img)
    except Exception as e:
        raise SeedEvalError(f'cannot read ground truth {path}: {e}') from e
    gt = np.squeeze(gt).astype(np.uint8)
    if gt.ndim != 2:
        raise SeedEvalError(f'ground truth {path} is not a single-channel '
                            f'label map (shape {gt.shape})')
    if item.reduce_zero_label:
        gt[gt == 0] = 255
        gt = gt - 1
        gt[gt == 254] = 255
    if item.label_map:
        src = gt.copy()
        for old, new in item.label_map.items():
            gt[src == old] = new
    return gt


def _listing(paths: Sequence[str]) -> str:
    shown = '\n  '.join(paths[:_MAX_LISTED])
    more = (f'\n  ... and {len(paths) - _MAX_LISTED} more'
            if len(paths) > _MAX_LISTED else '')
    return f'\n  {shown}{more}'


def find_missing_seeds(seed_dir: str, items: Sequence[GTItem]) -> List[str]:
    """Seed files that the items need but that do not exist.

    Args:
        seed_dir (str): Folder of seeds.
        items (sequence[GTItem]): Images to score.

    Returns:
        list[str]: Missing seed paths, in item order.
    """
    return [
        p for p in (seed_path(seed_dir, it.img_path) for it in items)
        if not osp.isfile(p)
    ]


def _score_item(item: GTItem, seed_dirs: Dict[str, str], num_classes: int,
                ignore_index: int) -> Dict[str, Optional[np.ndarray]]:
    """Confusion of each method's seed of one image (None if missing)."""
    gt = load_gt(item)
    out = {}
    for name, folder in seed_dirs.items():
        path = seed_path(folder, item.img_path)
        if not osp.isfile(path):
            out[name] = None
            continue
        seed = read_seed_png(path)
        if seed.shape != gt.shape:
            raise SeedEvalError(
                f'seed {path} is {seed.shape[0]}x{seed.shape[1]} but the '
                f'ground truth {item.seg_map_path} is '
                f'{gt.shape[0]}x{gt.shape[1]}')
        try:
            out[name] = seed_confusion(seed, gt, num_classes, ignore_index)
        except ValueError as e:
            raise SeedEvalError(f'{item.seg_map_path} / {path}: {e}') from e
    return out


def _check_seed_dirs(seed_dirs: Dict[str, str]) -> None:
    """Fail unless at least one seed folder is given and all exist."""
    if not seed_dirs:
        raise SeedEvalError('no seed folder given')
    for name, folder in seed_dirs.items():
        if not osp.isdir(folder):
            raise SeedEvalError(f'seed folder of {name!r} not found: {folder}')


def _items_with_gt(dataset) -> Tuple[List[GTItem], int]:
    """The dataset's images that have a ground-truth file to score against.

    Returns:
        tuple[list[GTItem], int]: The items with GT, and how many items
        have none (logged, not scored).

    Raises:
        SeedEvalError: No item has GT, or a GT file is missing.
    """
    items = collect_gt_items(dataset)
    scored = [it for it in items if it.seg_map_path]
    no_gt = len(items) - len(scored)
    if no_gt:
        print_log(
            f'{no_gt} of {len(items)} images have no ground truth; they are '
            'not scored',
            logger='current')
    if not scored:
        raise SeedEvalError('the dataset has no image with ground truth')
    gt_missing = [
        it.seg_map_path for it in scored if not osp.isfile(it.seg_map_path)
    ]
    if gt_missing:
        raise SeedEvalError(
            f'{len(gt_missing)} ground-truth files are missing:' +
            _listing(gt_missing))
    return scored, no_gt


def _missing_seeds(seed_dirs: Dict[str, str], scored: Sequence[GTItem],
                   allow_missing: bool) -> Dict[str, List[str]]:
    """Seed files each method lacks; fail on any unless ``allow_missing``.
    """
    missing = {
        name: find_missing_seeds(folder, scored)
        for name, folder in seed_dirs.items()
    }
    for name, paths in missing.items():
        if paths and not allow_missing:
            raise SeedEvalError(
                f'{len(paths)} of {len(scored)} seeds missing in '
                f'{seed_dirs[name]} ({name}); pass --allow-missing to score '
                'the others:' + _listing(paths))
        if paths:
            print_log(
                f'{name}: {len(paths)} of {len(scored)} seeds missing; '
                'scoring the others',
                logger='current')
    return missing


def _sum_confusions(
    seed_dirs: Dict[str, str],
    scored: Sequence[GTItem],
    num_classes: int,
    ignore_index: int,
    nproc: int,
    show_progress: bool,
    per_image: bool = False
) -> Tuple[Dict[str, np.ndarray], Dict[str, int], Dict[str, Dict[str, dict]]]:
    """Confusion histograms summed over the images, per method.

    Returns:
        tuple[dict, dict, dict]: Method name -> (C, C + 1) summed
        confusion; method name -> number of images whose seed was found;
        method name -> {image stem: :func:`_image_scores`} of those images
        (empty unless ``per_image``).
    """
    conf = {
        name: np.zeros((num_classes, num_classes + 1), np.int64)
        for name in seed_dirs
    }
    counted = {name: 0 for name in seed_dirs}
    images: Dict[str, Dict[str, dict]] = {name: {} for name in seed_dirs}
    work = partial(
        _score_item,
        seed_dirs=dict(seed_dirs),
        num_classes=num_classes,
        ignore_index=ignore_index)
    bar = Progress(len(scored), 'scoring seeds') if show_progress else None
    pool = multiprocessing.Pool(nproc) if nproc > 1 else None
    try:
        results = (
            pool.imap(work, scored, chunksize=8) if pool is not None else map(
                work, scored))
        for item, res in zip(scored, results):
            for name, c in res.items():
                if c is not None:
                    conf[name] += c
                    counted[name] += 1
                    if per_image:
                        stem = osp.splitext(osp.basename(item.img_path))[0]
                        images[name][stem] = _image_scores(c)
            if bar is not None:
                bar.update()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if bar is not None:
        bar.close()
    return conf, counted, images


def _image_scores(conf: np.ndarray) -> dict:
    """One image's own mIoU (percent, None when undefined) and scored
    pixels, from its confusion (:func:`scores_from_confusion`)."""
    s = scores_from_confusion(conf)
    miou = s['mIoU']
    return dict(
        mIoU=None if np.isnan(miou) else float(miou) * 100.0,
        num_pixels=int(s['num_pixels']))


def score_seed_dirs(seed_dirs: Dict[str, str],
                    dataset,
                    ignore_index: int = 255,
                    allow_missing: bool = False,
                    nproc: int = 1,
                    show_progress: bool = True,
                    extra: Optional[dict] = None,
                    per_image: bool = False) -> Dict[str, dict]:
    """Score one or more seed folders on the same dataset, GT read once.

    Args:
        seed_dirs (dict[str, str]): Method name -> folder of seed PNGs
            (``<folder>/<image stem>.png``).
        dataset: A built dataset (see :func:`build_seed_eval_dataset`);
            ``dataset.metainfo['classes']`` names the classes.
        ignore_index (int): GT value not scored. Defaults to 255.
        allow_missing (bool): Skip images without a seed (counted in the
            report) instead of failing. Defaults to False.
        nproc (int): Worker processes reading the PNGs. Defaults to 1.
        show_progress (bool): Show a progress bar. Defaults to True.
        extra (dict, optional): Entries added to every report.
        per_image (bool): Also report each image's own scores, as
            ``per_image`` ({image stem: {``mIoU`` (percent, None when
            undefined), ``num_pixels``}}, in dataset order). Defaults to
            False.

    Returns:
        dict[str, dict]: Method name -> :func:`seed_report` dict, with
        ``seed_dir``, ``num_images``, ``num_images_without_gt`` and
        ``num_missing_seeds`` added (and ``per_image`` if asked).

    Raises:
        SeedEvalError: Missing seeds (listed) unless ``allow_missing``;
            missing GT files; size mismatches; nothing to score.
    """
    _check_seed_dirs(seed_dirs)
    classes = list(dataset.metainfo['classes'])
    try:
        check_class_list(classes, owner=f'{type(dataset).__name__} '
                         'metainfo.classes')
    except ValueError as err:
        raise SeedEvalError(str(err)) from err
    scored, no_gt = _items_with_gt(dataset)
    missing = _missing_seeds(seed_dirs, scored, allow_missing)
    conf, counted, images = _sum_confusions(seed_dirs, scored, len(classes),
                                            ignore_index, nproc, show_progress,
                                            per_image)
    reports = {}
    for name, folder in seed_dirs.items():
        if counted[name] == 0:
            raise SeedEvalError(f'no seed of {name!r} found in {folder}')
        reports[name] = seed_report(
            conf[name],
            classes,
            ignore_index=ignore_index,
            seed_dir=osp.abspath(folder),
            num_images=counted[name],
            num_images_without_gt=no_gt,
            num_missing_seeds=len(missing[name]),
            **(extra or {}))
        if per_image:
            reports[name]['per_image'] = images[name]
    return reports


def parse_named_dirs(specs: Sequence[str]) -> Dict[str, str]:
    """Parse ``NAME=DIR`` arguments (a bare ``DIR`` is named after itself).

    Args:
        specs (sequence[str]): The arguments.

    Returns:
        dict[str, str]: Name -> folder, in argument order.
    """
    out: Dict[str, str] = {}
    for spec in specs:
        name, sep, folder = spec.partition('=')
        if not sep:
            folder = spec
            name = osp.basename(osp.normpath(spec))
        if not name or not folder:
            raise SeedEvalError(f'bad --seeds entry {spec!r}: use NAME=DIR')
        if name in out:
            raise SeedEvalError(f'method name {name!r} given twice')
        out[name] = folder
    return out
