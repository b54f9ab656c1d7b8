"""Train any mmseg segmentor on seed maps (pseudo labels).

:class:`PseudoLabelDataset` wraps ANY image dataset config (an mmwsss
image-label dataset, mmseg's ``PascalVOCDataset``, a ``BaseSegDataset`` over
a folder...) and pairs each of its images with ``<seed_dir>/<img stem>.png``
(see :func:`mmwsss.io.seeds.seed_path`; uint8, 0 = background,
1..C classes; 255 is allowed and read as ignore by mmseg's losses). The
seed becomes the sample's ``seg_map_path``, so the standard mmseg pipeline
(``LoadImageFromFile``, ``LoadAnnotations``, augmentations,
``PackSegInputs``) trains on it. Stage 2 overrides an mmseg config's train
set like this::

    train_dataloader = dict(
        dataset=dict(
            _delete_=True,
            type='PseudoLabelDataset',
            seed_dir='work_dirs/fma_voc_seeds/seeds',
            dataset=dict(
                type='VOCImageLabelDataset',
                data_root='data/VOCdevkit/VOC2012',
                ann_file='ImageSets/Segmentation/trainaug.txt',
                seg_map_fallback=['SegmentationClassAug']),
            pipeline=train_pipeline))

``_delete_=True`` drops the inherited dataset keys (``data_root``,
``ann_file``...) that belong to the inner dataset.

Per sample the inner data info is kept, with ``seg_map_path`` = the seed,
``gt_seg_map_path`` = the inner ground truth (or None), ``img_id`` = the
image stem, ``label_map`` None and ``reduce_zero_label`` False (seeds hold
the dataset's own class indices). ``img_labels`` is kept when the inner
dataset provides it. ``metainfo`` (classes, palette) is the inner dataset's.

At load time the dataset fails with one error listing images without a seed
(first 20 and the count; ``allow_missing=True`` drops them with a warning),
and logs the **class frequencies** of the seeds: the pixel share of each
class over an evenly spaced sample of ``freq_sample`` seeds (default 100;
cheap: one PNG decode each), plus the image count per class from
``img_labels`` when available. The sampled seeds are also checked: a value
outside ``0..C`` (other than 255) or a seed whose size differs from its
image (in either orientation, as EXIF rotation may swap them) raises an
error naming the file.
"""
import copy
import logging
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmwsss.class_names import IGNORE_INDEX
from mmwsss.io import displayed_size, read_seed_png, seed_path
from .image_label import _listing

__all__ = ['PseudoLabelDataset']


@DATASETS.register_module()
class PseudoLabelDataset(BaseSegDataset):
    """The images of any dataset with seed PNGs as segmentation labels.

    See the module docstring.

    Args:
        dataset (dict | BaseDataset): The image dataset (config or built);
            its pipeline is not used.
        seed_dir (str): Folder of seed PNGs ``<seed_dir>/<img stem>.png``.
            Required; None is accepted at config time for runners that
            fill it in before building (FMATwoPhaseTrainLoop).
        pipeline (list): The training pipeline (mmseg's standard one works).
            Defaults to [].
        allow_missing (bool): Drop images without a seed (with a warning)
            instead of failing. Defaults to False.
        freq_sample (int): How many seeds (evenly spaced) to read for the
            class-frequency log and the value/size check; 0 disables both.
            Defaults to 100.
        test_mode (bool): As mmengine. Defaults to False.
        indices (int | Sequence[int], optional): As mmengine.
        serialize_data (bool): As mmengine. Defaults to True.
        lazy_init (bool): As mmengine. Defaults to False.
        max_refetch (int): As mmengine. Defaults to 1000.
        ignore_index (int): Ignore value of the seeds. Defaults to 255.
    """

    def __init__(self,
                 dataset: Union[dict, object],
                 seed_dir: Optional[str] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 allow_missing: bool = False,
                 freq_sample: int = 100,
                 test_mode: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 ignore_index: int = IGNORE_INDEX) -> None:
        if not seed_dir:
            raise ValueError(
                'PseudoLabelDataset: seed_dir is not set (the folder of seed '
                'PNGs <seed_dir>/<image stem>.png)')
        self.seed_dir = seed_dir
        self.allow_missing = allow_missing
        self.freq_sample = int(freq_sample)
        if isinstance(dataset, dict):
            cfg = copy.deepcopy(dataset)
            if 'pipeline' in cfg:  # e.g. ConcatDataset has none
                cfg['pipeline'] = []
            self.dataset = DATASETS.build(cfg)
        else:
            self.dataset = dataset
        inner_meta = copy.deepcopy(dict(self.dataset.metainfo))
        if not inner_meta.get('classes'):
            raise ValueError(
                f'PseudoLabelDataset: the inner dataset '
                f'{type(self.dataset).__name__} has no metainfo.classes')
        metainfo = dict(
            classes=tuple(inner_meta['classes']),
            palette=inner_meta.get('palette', []))
        super().__init__(
            metainfo=metainfo,
            pipeline=pipeline,
            test_mode=test_mode,
            indices=indices,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            max_refetch=max_refetch,
            ignore_index=ignore_index)

    @property
    def num_classes(self) -> int:
        """Number of classes incl. background."""
        return len(self._metainfo['classes'])

    def load_data_list(self) -> List[dict]:
        """Pair every inner sample with its seed.

        Returns:
            list[dict]: The inner data infos with ``seg_map_path`` = seed.

        Raises:
            FileNotFoundError: If the seed folder or seeds are missing
                (unless ``allow_missing``).
        """
        if not osp.isdir(self.seed_dir):
            raise FileNotFoundError(
                f'PseudoLabelDataset: seed folder not found: {self.seed_dir}')
        with os.scandir(self.seed_dir) as it:
            present = {e.name for e in it}
        inner = self.dataset
        data_list, missing = [], []
        for i in range(len(inner)):
            info = dict(inner.get_data_info(i))
            info.pop('sample_idx', None)
            if 'img_path' not in info:
                raise KeyError(f'PseudoLabelDataset: sample {i} of '
                               f'{type(inner).__name__} has no img_path')
            seed = seed_path(self.seed_dir, info['img_path'])
            if osp.basename(seed) not in present:
                missing.append(info['img_path'])
                continue
            info['gt_seg_map_path'] = info.get('seg_map_path')
            info['seg_map_path'] = seed
            info['img_id'] = osp.splitext(osp.basename(info['img_path']))[0]
            info['label_map'] = None
            info['reduce_zero_label'] = False
            info['seg_fields'] = []
            data_list.append(info)
        if missing:
            msg = (f'PseudoLabelDataset: {len(missing)} of {len(inner)} '
                   f'images have no seed in {self.seed_dir}:'
                   f'{_listing(missing)}')
            if not self.allow_missing:
                raise FileNotFoundError(
                    msg + '\nGenerate them, or set allow_missing=True to '
                    'train without these images.')
            print_log(msg + '\n(allow_missing=True: these images are left '
                      'out)', logger='current', level=logging.WARNING)
        if not data_list:
            raise ValueError(f'PseudoLabelDataset: no image of '
                             f'{type(inner).__name__} has a seed in '
                             f'{self.seed_dir}')
        self._log_class_frequencies(data_list)
        return data_list

    def _log_class_frequencies(self, data_list: List[dict]) -> None:
        """Pixel share per class over a seed sample; image counts."""
        names = self._metainfo['classes']
        c = len(names)
        lines = []
        if self.freq_sample > 0:
            n = min(self.freq_sample, len(data_list))
            picks = np.unique(
                np.linspace(0, len(data_list) - 1, n).round().astype(int))
            counts = np.zeros(256, dtype=np.int64)
            for k in picks:
                info = data_list[k]
                seed = read_seed_png(info['seg_map_path'])
                hist = np.bincount(seed.ravel(), minlength=256)
                bad = np.flatnonzero(hist[c:])
                bad = bad[bad + c != self.ignore_index] + c
                if bad.size:
                    raise ValueError(
                        f'PseudoLabelDataset: seed {info["seg_map_path"]} '
                        f'holds class id {int(bad[0])} outside the class '
                        f'list (0..{c - 1}, {self.ignore_index} = ignore)')
                try:
                    size = displayed_size(info['img_path'])
                except ValueError as e:
                    raise ValueError(f'PseudoLabelDataset: {e}') from e
                if size != seed.shape:
                    raise ValueError(
                        f'PseudoLabelDataset: seed {info["seg_map_path"]} is '
                        f'{seed.shape[1]}x{seed.shape[0]} but its image '
                        f'{info["img_path"]} is {size[1]}x{size[0]} as '
                        'displayed (EXIF orientation applied)')
                counts += hist
            total = max(int(counts.sum()), 1)
            share = counts[:c] / total
            ign = counts[self.ignore_index] / total \
                if 0 <= self.ignore_index < 256 else 0.0
            lines.append(f'pixel share over {len(picks)} seeds: ' + ', '.join(
                f'{names[i]} {100 * share[i]:.1f}%' for i in range(c)
                if counts[i]) + (f', ignore {100 * ign:.1f}%' if ign else ''))
            absent = [names[i] for i in range(1, c) if not counts[i]]
            if absent:
                lines.append(f'classes absent from the sampled seeds: '
                             f'{", ".join(absent)}')
        if all('img_labels' in d for d in data_list):
            img_counts = np.zeros(c, dtype=np.int64)
            for d in data_list:
                for lb in d['img_labels']:
                    if 0 <= lb < c:
                        img_counts[lb] += 1
            lines.append('images per class (img_labels): ' + ', '.join(
                f'{names[i]} {int(img_counts[i])}' for i in range(1, c)
                if img_counts[i]))
        print_log(
            f'PseudoLabelDataset: {len(data_list)} images with seeds from '
            f'{self.seed_dir}\n  ' + '\n  '.join(lines),
            logger='current')
