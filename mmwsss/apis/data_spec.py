"""What data the one-command pipeline runs on (``tools/run_pipeline.py``).

A :class:`DataSpec` turns a data folder into the dataset configs every stage
needs and edits the stage configs accordingly. Two layouts are recognised:

- :class:`FolderSpec`: :class:`~mmwsss.datasets.ImageLabelFolderDataset`'s
  layout (any images, any classes)::

      DATA_DIR/
        images/<name>.jpg ...       the photos
        labels.json | labels.csv    image-level labels (class names or 1..C)
        classes.txt                 one class name a line (or --classes)
        masks/<name>.png            optional ground truth (0 bg, 1..C, 255)

  ``--val-data`` names a second folder in the same layout for the stage-2
  test; without it the training images are tested.
- :class:`VOCSpec`: a PASCAL VOC folder (``JPEGImages``,
  ``SegmentationClass``, ``ImageSets/Segmentation/{train,val}.txt``), e.g.
  ``data/voc_mini``: the bundled configs' VOC datasets with their
  ``data_root`` pointed at the folder (what ``make demo`` runs).

Bad input fails before any stage with one line naming the item
(:class:`DataError`).
"""
import copy
import os
import os.path as osp
from abc import ABC, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple

from mmwsss.engine.derived_data import image_dataset, seed_dataset

__all__ = [
    'DataError', 'DataSpec', 'FolderSpec', 'VOCSpec', 'data_spec',
    'LABEL_FILES'
]

#: Label file names a folder may hold (the first one found is used).
LABEL_FILES = ('labels.json', 'labels.csv')


class DataError(ValueError):
    """Bad input data: the message is one line naming the item."""


class DataSpec(ABC):
    """Dataset configs of a data folder for every pipeline stage.

    Subclasses set :attr:`name` and implement the ``*_dataset`` methods and
    :meth:`model_classes`.
    """

    name: str = ''
    #: Images of the data folders left out, by reason (names), set by
    #: :meth:`check`.
    dropped_images: Dict[str, List[str]] = {}

    def folders(self) -> List[str]:
        """The data folders the run reads (training, then test)."""
        dirs = [getattr(self, 'data_dir', None), getattr(self, 'val_dir', None)]
        return [d for d in dirs if d]

    def files(self) -> List[str]:
        """Every file of the data folders with its size, ``'<folder
        index>/<relative path> <bytes>'``, sorted: what a run is made from
        (a changed, added or removed file changes it)."""
        out = []
        for i, folder in enumerate(self.folders()):
            for root, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
                for name in names:
                    if name.startswith('.'):
                        continue
                    path = osp.join(root, name)
                    rel = osp.relpath(path, folder)
                    out.append(f'{i}/{rel} {osp.getsize(path)}')
        return sorted(out)

    @abstractmethod
    def check(self) -> str:
        """Build the datasets once (errors surface here, not mid-run).

        Returns:
            str: A summary line (images, ground truth, classes).
        """

    @abstractmethod
    def model_classes(self, model: dict) -> None:
        """Set the prompt model's class list (in place)."""

    @abstractmethod
    def train_dataset(self, base: dict) -> dict:
        """The training dataset, given the config's own (pipeline kept)."""

    @abstractmethod
    def val_dataset(self, base: dict) -> Tuple[dict, bool]:
        """The stage-2 test dataset given the config's own, and whether
        every image has ground truth (mIoU) or not (predictions only)."""

    @abstractmethod
    def sam_dataset(self) -> dict:
        """Every image (train and val) for the mask generator."""

    @abstractmethod
    def seed_dataset(self) -> Optional[dict]:
        """The training images read for seeds, or None to keep the seed
        config's own dataset (only its ``data_root`` set)."""


def _one_line(err: Exception) -> str:
    """The first line of an error message (listings follow on others)."""
    text = str(err).strip().splitlines()
    head = text[0] if text else type(err).__name__
    if len(text) > 1 and head.endswith(':'):
        head += ' ' + text[1].strip()
    return head


def _build(cfg: dict):
    """Build a dataset config, turning data errors into :class:`DataError`.
    """
    from mmseg.registry import DATASETS
    try:
        return DATASETS.build(copy.deepcopy(cfg))
    except (ValueError, KeyError, FileNotFoundError) as e:
        raise DataError(_one_line(e)) from e


class FolderSpec(DataSpec):
    """An :class:`~mmwsss.datasets.ImageLabelFolderDataset` folder.

    Args:
        data_dir (str): The training folder.
        val_dir (str, optional): A folder in the same layout to test on.
        classes (Sequence[str], optional): Class names; default the
            folder's ``classes.txt``.
    """

    def __init__(self,
                 data_dir: str,
                 val_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None) -> None:
        self.data_dir = osp.abspath(data_dir)
        self.val_dir = osp.abspath(val_dir) if val_dir else None
        self.name = osp.basename(self.data_dir.rstrip('/'))
        self.classes = self._classes(classes)
        self.val_has_gt = False

    def _classes(self, classes: Optional[Sequence[str]]) -> List[str]:
        from mmwsss.datasets import read_class_names
        src = classes
        if src is None:
            src = osp.join(self.data_dir, 'classes.txt')
            if not osp.isfile(src):
                raise DataError(f'{self.data_dir}: no classes.txt (one class '
                                'name a line); add one or pass --classes')
        try:
            return list(read_class_names(src)[1:])
        except (ValueError, FileNotFoundError) as e:
            raise DataError(_one_line(e)) from e

    def folder_dataset(self, folder: str) -> dict:
        """Dataset config of one folder (no pipeline).

        Args:
            folder (str): A folder in the layout of the module docstring.

        Returns:
            dict: An ``ImageLabelFolderDataset`` config.
        """
        if not osp.isdir(folder):
            raise DataError(f'data folder not found: {folder}')
        labels = [f for f in LABEL_FILES if osp.isfile(osp.join(folder, f))]
        if not labels:
            raise DataError(
                f'{folder}: no label file ({" or ".join(LABEL_FILES)})')
        masks = osp.isdir(osp.join(folder, 'masks'))
        return dict(
            type='ImageLabelFolderDataset',
            data_root=folder,
            label_file=labels[0],
            classes=list(self.classes),
            data_prefix=dict(
                img_path='images', seg_map_path='masks' if masks else None))

    def check(self) -> str:
        # the command checks before it builds the runner, the runner again
        # before its stages: the folder (every image header, every mask) is
        # read once
        if getattr(self, '_checked', None) is None:
            self._checked = self._check()
        return self._checked

    def _check(self) -> str:
        train = _build(self.folder_dataset(self.data_dir))
        n_gt = sum(1 for i in range(len(train))
                   if train.get_data_info(i)['seg_map_path'])
        line = (f'{self.data_dir}: {len(train)} images ({n_gt} with masks), '
                f'classes {self.classes}')
        folder = self.val_dir or self.data_dir
        val = _build(self.folder_dataset(folder)) if self.val_dir else train
        self.val_has_gt = all(
            val.get_data_info(i)['seg_map_path'] for i in range(len(val)))
        if self.val_dir:
            line += f'; test on {self.val_dir}: {len(val)} images'
        else:
            line += '; no --val-data: stage 2 is tested on the training images'
        if not self.val_has_gt:
            line += ' (not all have masks: predictions only, no mIoU)'
        self.dropped_images = {
            f'{name}: {reason}': names
            for name, ds in (('train', train), ('val', val))
            for reason, names in getattr(ds, 'dropped_images', {}).items()
        } if self.val_dir else {
            f'train: {reason}': names
            for reason, names in getattr(train, 'dropped_images', {}).items()
        }
        if self.dropped_images:
            line += '; left out: ' + ', '.join(
                f'{len(v)} ({k})' for k, v in self.dropped_images.items())
        return line

    def model_classes(self, model: dict) -> None:
        model['dataset'] = None
        model['classes'] = list(self.classes)

    def train_dataset(self, base: dict) -> dict:
        out = self.folder_dataset(self.data_dir)
        if base.get('pipeline') is not None:
            out['pipeline'] = copy.deepcopy(base['pipeline'])
        return out

    def val_dataset(self, base: dict) -> Tuple[dict, bool]:
        out = self.folder_dataset(self.val_dir or self.data_dir)
        out['pipeline'] = copy.deepcopy(base.get('pipeline', []))
        out['test_mode'] = True
        return out, self.val_has_gt

    def sam_dataset(self) -> dict:
        sets = [image_dataset(self.folder_dataset(self.data_dir))]
        if self.val_dir:
            sets.append(image_dataset(self.folder_dataset(self.val_dir)))
        for s in sets:
            s['pipeline'] = []
        if len(sets) == 1:
            return sets[0]
        return dict(type='ConcatDataset', datasets=sets)

    def seed_dataset(self) -> dict:
        """The training images read for seeds (full size, GT if any)."""
        return seed_dataset(self.folder_dataset(self.data_dir))


class VOCSpec(DataSpec):
    """A PASCAL VOC folder: the bundled configs' own VOC datasets with
    ``data_root`` set to the folder (train / val splits from ImageSets).

    Args:
        data_dir (str): The VOC folder (``data/voc_mini``).
    """

    def __init__(self, data_dir: str) -> None:
        self.name = data_dir.rstrip('/')
        self.data_dir = osp.abspath(data_dir)
        self.val_has_gt = True

    def check(self) -> str:
        from mmwsss.class_names import VOC_CLASSES
        return (f'{self.name}: PASCAL VOC layout, {len(VOC_CLASSES) - 1} '
                'classes')

    def model_classes(self, model: dict) -> None:
        pass  # the configs' VOC tables

    def _rooted(self, base: dict) -> dict:
        out = copy.deepcopy(dict(base))
        inner = out.get('dataset')
        (inner if isinstance(inner, dict) else out)['data_root'] = \
            self.data_dir
        return out

    def train_dataset(self, base: dict) -> dict:
        return self._rooted(base)

    def val_dataset(self, base: dict) -> Tuple[dict, bool]:
        return self._rooted(base), True

    def sam_dataset(self) -> dict:
        split = dict(
            type='PascalVOCDataset',
            data_root=self.data_dir,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'),
            pipeline=[])
        return dict(
            type='ConcatDataset',
            datasets=[
                dict(split, ann_file=f'ImageSets/Segmentation/{s}.txt')
                for s in ('train', 'val')
            ])

    def seed_dataset(self) -> Optional[dict]:
        """None: the seed config's own VOC dataset (root set by caller)."""
        return None


def data_spec(data_dir: str,
              val_dir: Optional[str] = None,
              classes: Optional[Sequence[str]] = None) -> DataSpec:
    """The spec of a data folder, by its layout.

    Args:
        data_dir (str): The folder.
        val_dir (str, optional): Test folder (folder layout only).
        classes (Sequence[str], optional): Class names (folder layout).

    Returns:
        DataSpec: :class:`VOCSpec` for a VOC folder, else
        :class:`FolderSpec`.

    Raises:
        DataError: If the folder does not exist or is empty.
    """
    if not osp.isdir(data_dir):
        raise DataError(f'data folder not found: {data_dir}')
    voc = osp.isdir(osp.join(data_dir, 'JPEGImages')) and osp.isfile(
        osp.join(data_dir, 'ImageSets', 'Segmentation', 'train.txt'))
    if voc:
        if val_dir or classes:
            raise DataError(f'{data_dir}: a VOC folder uses its own val split '
                            'and classes (no --val-data / --classes)')
        return VOCSpec(data_dir)
    if not osp.isdir(osp.join(data_dir, 'images')):
        raise DataError(f'{data_dir}: no images/ folder (layout: images/, '
                        'labels.json or labels.csv, classes.txt, optional '
                        'masks/)')
    return FolderSpec(data_dir, val_dir, classes)
