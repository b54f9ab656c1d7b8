"""MS COCO 2014 with image-level labels (81 classes incl. background).

Folder layout (``data_root = data/coco2014``)::

    coco2014/
      train2014/COCO_train2014_<12 digits>.jpg
      val2014/COCO_val2014_<12 digits>.jpg
      annotations/instances_{train,val}2014.json
      SegmentationClass/{train,val}2014/<image stem>.png   (optional GT)

The GT PNGs are written by the converter (class index 0..80 per pixel, 255
ignore; rule in :mod:`mmwsss.datasets.coco_masks`)::

    python tools/dataset_converters/coco_to_masks.py \\
        data/coco2014/annotations/instances_train2014.json \\
        data/coco2014/SegmentationClass/train2014 --nproc 8

**Labels** come from the instances JSON (read with pycocotools): every
category with an annotation, crowd annotations included by default
(``crowd_labels``). Images without any annotation (702 in train2014, 367 in
val2014) are skipped by default (``skip_unlabeled=True``), as WSSS works do
(82,081 train / 40,137 val images). Parsing ``instances_train2014.json``
takes tens of seconds and several GB; the labels are cached in memory for
the process and, with ``label_cache``, in a small JSON file that later runs
read instead of the annotation file (invalidated when the annotation file's
size or mtime changes).
"""
import json
import logging
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from mmwsss.class_names import get_dataset_info
from mmwsss.io import dump_json_atomic
from .coco_masks import coco_image_labels
from .image_label import (BaseImageLabelDataset, _listing, file_signature,
                          read_id_list)
from .voc import _accept_class_names

__all__ = ['COCOImageLabelDataset', 'load_coco_image_labels']

_COCO = get_dataset_info('coco')

#: (abs ann file, mtime_ns, size, crowd_labels) -> [(file_name, id, labels)]
_COCO_LABEL_CACHE: Dict[tuple, List[Tuple[str, int, List[int]]]] = {}


def load_coco_image_labels(
        ann_file: str,
        crowd_labels: bool = True,
        cache_file: Optional[str] = None
) -> List[Tuple[str, int, List[int]]]:
    """Image list and image-level labels of a COCO instances file.

    Args:
        ann_file (str): ``instances_*.json``.
        crowd_labels (bool): Count crowd annotations. Defaults to True.
        cache_file (str, optional): JSON cache of the result, used when its
            recorded annotation-file signature and ``crowd_labels`` match;
            (re)written atomically otherwise.

    Returns:
        list[tuple[str, int, list[int]]]: ``(file_name, coco image id,
        labels 1..80)`` per image (unlabeled ones included), sorted by file
        name.

    Raises:
        FileNotFoundError: If ``ann_file`` does not exist.
        ValueError: If it cannot be parsed or names an unknown category.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'COCO annotation file not found: {ann_file}')
    sig = list(file_signature(ann_file))
    key = (osp.abspath(ann_file), *sig, bool(crowd_labels))
    if key in _COCO_LABEL_CACHE:
        return _COCO_LABEL_CACHE[key]
    if cache_file and osp.isfile(cache_file):
        try:
            with open(cache_file, encoding='utf-8') as f:
                cached = json.load(f)
            if (cached.get('signature') == sig
                    and cached.get('crowd_labels') == bool(crowd_labels)):
                result = [(str(n), int(i), list(lb))
                          for n, i, lb in cached['images']]
                _COCO_LABEL_CACHE[key] = result
                return result
        except (json.JSONDecodeError, KeyError, TypeError, ValueError,
                AttributeError):
            print_log(f'COCO label cache {cache_file} is unreadable; '
                      'rebuilding', logger='current', level=logging.WARNING)
    from pycocotools.coco import COCO
    try:
        coco = COCO(ann_file)
    except Exception as e:
        raise ValueError(
            f'cannot read COCO annotation file {ann_file}: {e}') from e
    result = []
    for img_id in sorted(coco.imgs):
        img = coco.imgs[img_id]
        anns = coco.imgToAnns.get(img_id, [])
        labels = coco_image_labels(
            anns, crowd_labels, where=f'{ann_file}: image {img["file_name"]}')
        result.append((img['file_name'], int(img_id), labels))
    result.sort(key=lambda r: r[0])
    if cache_file:
        dump_json_atomic(
            dict(
                version=1,
                source=osp.abspath(ann_file),
                signature=sig,
                crowd_labels=bool(crowd_labels),
                images=[list(r) for r in result]),
            cache_file,
            indent=0)
    _COCO_LABEL_CACHE[key] = result
    return result


@DATASETS.register_module()
class COCOImageLabelDataset(BaseImageLabelDataset):
    """MS COCO 2014 with image-level labels (background + 80 classes).

    Data infos hold ``img_path``, ``seg_map_path`` (None when no GT folder
    is set), ``img_labels`` (1..80), ``img_id`` (file stem) and
    ``coco_id`` (COCO's integer image id). See the module docstring for the
    layout, the label rule and the GT converter.

    Args:
        ann_file (str): COCO instances JSON, relative to ``data_root``.
            Defaults to ``'annotations/instances_train2014.json'``.
        data_prefix (dict): ``img_path`` (image folder) and ``seg_map_path``
            (GT PNG folder of the converter, or None). Defaults to
            ``train2014`` and None.
        split_file (str, optional): A list of image stems (one a line) to
            keep, in that order; relative to ``data_root``. Defaults to None
            (all images of ``ann_file``).
        crowd_labels (bool): Crowd annotations count for the image labels.
            Defaults to True.
        label_cache (str, optional): JSON cache of the labels (see
            :func:`load_coco_image_labels`). Defaults to None.
        seg_map_suffix (str): Defaults to ``'.png'``.
        **kwargs: :class:`BaseImageLabelDataset` / mmseg
            ``BaseSegDataset`` arguments (``data_root``, ``pipeline``,
            ``skip_unlabeled`` (default True), ``check_files``, ...).
    """
    METAINFO = dict(classes=_COCO['classes'], palette=_COCO['palette'])

    def __init__(self,
                 ann_file: str = 'annotations/instances_train2014.json',
                 data_prefix: dict = dict(
                     img_path='train2014', seg_map_path=None),
                 split_file: Optional[str] = None,
                 crowd_labels: bool = True,
                 label_cache: Optional[str] = None,
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        data_prefix = dict(data_prefix)
        if not data_prefix.get('seg_map_path'):
            data_prefix.pop('seg_map_path', None)
        data_root = kwargs.get('data_root')
        if split_file and data_root and not osp.isabs(split_file):
            split_file = join_path(data_root, split_file)
        self.split_file = split_file
        self.crowd_labels = crowd_labels
        self.label_cache = label_cache
        renamed = _accept_class_names(type(self), kwargs, 'coco')
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)
        if renamed:
            self._metainfo['classes'] = renamed

    def load_data_list(self) -> List[dict]:
        """Read labels from the annotation file (or cache), build infos.

        Returns:
            list[dict]: One info per kept image.
        """
        if not self.ann_file:
            raise ValueError(f'{type(self).__name__}: ann_file (COCO '
                             'instances JSON) is required')
        records = load_coco_image_labels(self.ann_file, self.crowd_labels,
                                         self.label_cache)
        if self.split_file:
            by_stem = {osp.splitext(r[0])[0]: r for r in records}
            wanted = read_id_list(self.split_file)
            missing = [s for s in wanted if s not in by_stem]
            if missing:
                raise KeyError(
                    f'{self._owner()}: {len(missing)} ids of {self.split_file}'
                    f' are not in the annotation file:{_listing(missing)}')
            records = [by_stem[s] for s in wanted]
        if not records:
            raise ValueError(f'{self._owner()}: the annotation file lists no '
                             'images')
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix.get('seg_map_path')
        data_list = []
        for file_name, coco_id, labels in records:
            stem = osp.splitext(file_name)[0]
            seg = osp.join(seg_dir, stem + self.seg_map_suffix) \
                if seg_dir else None
            data_list.append(
                self.make_info(
                    osp.join(img_dir, file_name),
                    seg,
                    labels,
                    stem,
                    coco_id=coco_id))
        if self.skip_unlabeled:
            # Check only the images that are kept.
            to_check = [d for d in data_list if d['img_labels']]
        else:
            to_check = data_list
        self.check_paths(
            [d['img_path'] for d in to_check],
            [d['seg_map_path'] for d in to_check],
            seg_hint='Write them with tools/dataset_converters/'
            f'coco_to_masks.py {self.ann_file} {seg_dir}, or set '
            'data_prefix.seg_map_path=None (no ground truth).')
        return self.finalize(data_list)
