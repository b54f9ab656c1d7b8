"""PASCAL VOC 2012 with image-level labels.

Folder layout (mmseg's, ``data_root = data/VOCdevkit/VOC2012``)::

    VOC2012/
      JPEGImages/<id>.jpg
      SegmentationClass/<id>.png        official GT (255 = boundary / void)
      SegmentationClassAug/<id>.png     SBD masks (written by the converter)
      ImageSets/Segmentation/{train,val,trainval}.txt
      ImageSets/Segmentation/{trainaug,aug}.txt   (written by the converter)

**SBD -> trainaug.** WSSS trains on the 10,582 ``trainaug`` images (VOC
train + SBD train/val, minus VOC val). Download SBD (``benchmark.tgz``) and
run mmseg's own converter (installed with mmsegmentation; do not rewrite it)::

    python <site-packages>/mmseg/.mim/tools/dataset_converters/voc_aug.py \\
        data/VOCdevkit data/VOCdevkit/VOCaug --nproc 8

where ``data/VOCdevkit/VOCaug`` holds the extracted ``benchmark_RELEASE``
content (``dataset/cls/*.mat``, ``dataset/{train,val}.txt``). It writes

- ``VOC2012/SegmentationClassAug/<id>.png``: one class-index PNG per SBD
  ``.mat`` (all 11,355 SBD images; SBD has no 255 boundaries);
- ``VOC2012/ImageSets/Segmentation/trainaug.txt`` (10,582 ids = VOC train
  + SBD train/val - VOC val) and ``aug.txt`` (trainaug - VOC train).

That folder only holds SBD's masks (a VOC train image outside SBD has
none there, and SBD's masks of VOC images differ from the official ones);
mmseg's own ``pascal_voc12_aug.py`` reads VOC train from
``SegmentationClass`` and ``aug.txt`` from ``SegmentationClassAug``. This
dataset does the same per image with ``seg_map_fallback``: the mask is taken
from ``data_prefix['seg_map_path']`` when it exists there, else from the
first fallback folder that has it (``configs/_base_/datasets/voc_wsss.py``:
``SegmentationClass`` first, ``SegmentationClassAug`` as fallback, so the
official GT wins for VOC train images). The DeepLab ``SegmentationClassAug``
download (12,031 masks incl. all VOC images) works with the same setting.

**Image-level labels** come from

- the GT masks (default): the classes with at least one pixel, 0 and 255
  excluded. Each PNG is read once (threads, progress bar), results are
  cached in memory for the process and optionally in ``label_cache`` (JSON,
  keyed by mask path with mtime and size, so stale entries are recomputed);
- or a ``label_file``: JSON ``{id: [class indices 1..20]}`` (as
  ``data/voc_mini/image_labels.json``) or the ``cls_labels.npy`` of
  CLIMS / CLIP-ES / IRN (``{id: 20-dim multi-hot}``, entry ``k`` = class
  ``k + 1``). GT masks are then optional (kept where present).
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Set

from mmengine.fileio import join_path
from mmseg.registry import DATASETS

from mmwsss.class_names import check_class_list, get_dataset_info
from .image_label import (BaseImageLabelDataset, _listing, derive_mask_labels,
                          load_label_file, read_id_list)

__all__ = ['VOCImageLabelDataset']

_VOC = get_dataset_info('voc')


def _accept_class_names(cls: type, kwargs: dict,
                        dataset: str) -> Optional[tuple]:
    """Check ``kwargs['metainfo']['classes']`` of a named dataset.

    A reordered list is an error and a renamed one (same length) a warning
    (:func:`mmwsss.class_names.check_class_list`). A renamed list is
    replaced in ``kwargs`` by the dataset's own (mmseg accepts no unknown
    names) and returned, to be set as the dataset's class names.

    Returns:
        tuple | None: The renamed class list, None if there is none.
    """
    names = (kwargs.get('metainfo') or {}).get('classes')
    own = tuple(cls.METAINFO['classes'])
    if names is None:
        return None
    check_class_list(names, dataset, f'{cls.__name__} metainfo.classes')
    if len(names) != len(own) or tuple(names) == own:
        return None
    kwargs['metainfo'] = dict(kwargs['metainfo'], classes=own)
    return tuple(names)


@DATASETS.register_module()
class VOCImageLabelDataset(BaseImageLabelDataset):
    """PASCAL VOC 2012 (and the SBD ``trainaug`` split) with image labels.

    Every data info holds ``img_path``, ``seg_map_path`` (None without GT),
    ``img_labels`` (sorted foreground indices 1..20), ``img_id``; see the
    module docstring for the layout, the trainaug conversion and the label
    sources.

    Args:
        ann_file (str): Split file (one id a line), relative to
            ``data_root``. Defaults to
            ``'ImageSets/Segmentation/train.txt'``.
        data_prefix (dict): ``img_path`` (images) and ``seg_map_path`` (GT
            masks; None or ``''`` when the split has no GT). Defaults to
            ``JPEGImages`` and ``SegmentationClass``.
        seg_map_fallback (Sequence[str]): More mask folders (relative to
            ``data_root`` unless absolute), tried in order for images that
            have no mask in ``data_prefix['seg_map_path']``. Defaults to ().
        label_file (str, optional): ``.json`` or ``.npy`` label file
            (relative to ``data_root`` unless absolute). None: labels from
            the GT masks.
        label_cache (str, optional): JSON cache of the mask-derived labels
            (absolute or relative to the working directory). Defaults to
            None (in-memory cache only).
        nproc (int): Threads decoding masks. Defaults to 4.
        img_suffix (str): Defaults to ``'.jpg'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        **kwargs: :class:`BaseImageLabelDataset` / mmseg
            ``BaseSegDataset`` arguments (``data_root``, ``pipeline``,
            ``skip_unlabeled``, ``check_files``, ``indices``, ...).
    """
    METAINFO = dict(classes=_VOC['classes'], palette=_VOC['palette'])

    def __init__(self,
                 ann_file: str = 'ImageSets/Segmentation/train.txt',
                 data_prefix: dict = dict(
                     img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 seg_map_fallback: Sequence[str] = (),
                 label_file: Optional[str] = None,
                 label_cache: Optional[str] = None,
                 nproc: int = 4,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        data_prefix = dict(data_prefix)
        if not data_prefix.get('seg_map_path'):
            data_prefix.pop('seg_map_path', None)
        if isinstance(seg_map_fallback, str):
            seg_map_fallback = [seg_map_fallback]
        self.seg_map_fallback = list(seg_map_fallback)
        self.label_file = label_file
        self.label_cache = label_cache
        self.nproc = nproc
        data_root = kwargs.get('data_root')
        if data_root:
            self.seg_map_fallback = [
                p if osp.isabs(p) else join_path(data_root, p)
                for p in self.seg_map_fallback
            ]
            if label_file and not osp.isabs(label_file):
                self.label_file = join_path(data_root, label_file)
        renamed = _accept_class_names(type(self), kwargs, 'voc')
        super().__init__(
            ann_file=ann_file,
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)
        if renamed:
            self._metainfo['classes'] = renamed

    def _resolve_seg_maps(self, ids: List[str]) -> List[Optional[str]]:
        """Per id the first mask folder that has ``<id><suffix>``."""
        dirs = [self.data_prefix.get('seg_map_path')] + self.seg_map_fallback
        dirs = [d for d in dirs if d]
        listings: List[Set[str]] = []
        for d in dirs:
            if not osp.isdir(d):
                raise FileNotFoundError(
                    f'{self._owner()}: mask folder not found: {d} (set '
                    'data_prefix.seg_map_path=None / seg_map_fallback=[] '
                    'if the split has no ground truth)')
            with os.scandir(d) as it:
                listings.append({e.name for e in it})
        out: List[Optional[str]] = []
        for i in ids:
            name = i + self.seg_map_suffix
            out.append(
                next((osp.join(d, name)
                      for d, names in zip(dirs, listings) if name in names),
                     None))
        return out

    def load_data_list(self) -> List[dict]:
        """Read the split, resolve images and masks, attach labels.

        Returns:
            list[dict]: One info per image (see the class docstring).
        """
        ids = read_id_list(self.ann_file)
        img_dir = self.data_prefix['img_path']
        img_paths = [osp.join(img_dir, i + self.img_suffix) for i in ids]
        if self.backend_args is None:
            seg_paths = self._resolve_seg_maps(ids)
        else:
            seg_dir = self.data_prefix.get('seg_map_path')
            seg_paths = [
                osp.join(seg_dir, i + self.seg_map_suffix) if seg_dir else None
                for i in ids
            ]
        self.check_paths(img_paths, [])
        num_fg = self.num_fg_classes
        if self.label_file:
            table = load_label_file(self.label_file, num_fg)
            missing = [i for i in ids if i not in table]
            if missing:
                raise KeyError(
                    f'{self._owner()}: {len(missing)} images have no entry '
                    f'in the label file {self.label_file}:{_listing(missing)}')
            labels = [table[i] for i in ids]
        else:
            no_gt = [i for i, p in zip(ids, seg_paths) if p is None]
            if no_gt:
                dirs = [self.data_prefix.get('seg_map_path')
                        ] + self.seg_map_fallback
                raise FileNotFoundError(
                    f'{self._owner()}: labels are derived from the GT masks '
                    f'but {len(no_gt)} images have no mask in '
                    f'{[d for d in dirs if d]}:{_listing(no_gt)}\n'
                    'Give a label_file, or fix the mask folders.')
            labels = derive_mask_labels(
                seg_paths,
                num_fg,
                ignore_index=self.ignore_index,
                nproc=self.nproc,
                cache_file=self.label_cache)
        data_list = [
            self.make_info(p, s, lb, i)
            for p, s, lb, i in zip(img_paths, seg_paths, labels, ids)
        ]
        return self.finalize(data_list)
