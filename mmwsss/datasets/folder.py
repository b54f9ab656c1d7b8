"""Any folder of images with image-level labels in a JSON or CSV file.

Layout (all paths relative to ``data_root`` unless absolute)::

    my_data/
      images/<name>.<jpg|jpeg|png|bmp|tif|tiff|webp>
      masks/<name>.png          optional GT (class index per pixel, 255 ignore)
      labels.json | labels.csv
      classes.txt               optional, one class name a line

**Classes**: a list in the config (``classes=['cat', 'dog']``) or a text
file with one name a line. Index 0 is background: if the first name is not
``background`` (any case), ``'background'`` is put in front, so
``['cat', 'dog']`` gives ``background=0, cat=1, dog=2``.

**Labels file** (keys / first column: the image's file name or its stem):

- JSON: ``{"img_001": ["cat", "dog"], "img_002.jpg": [2], ...}``: class
  names or indices into the class list (1..C);
- CSV: ``image,labels`` rows, labels separated by ``;`` or (when the field
  holds no ``;``) by spaces, e.g. ``img_001,cat;dog`` or ``img_001,1 2``. A
  first row ``image,labels`` is taken as a header. Class names containing
  spaces need ``;`` as separator.

Names match exactly, else case-insensitively; ``background`` / 0 in a label
list is dropped (it is always implied). Images are the ones the label file
lists (images in the folder without a label entry are ignored, and counted
in the log); every listed image must exist.
"""
import csv
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmseg.registry import DATASETS
from PIL import Image

from mmwsss.class_names import read_classes_txt, voc_colormap
from .image_label import (BaseImageLabelDataset, _listing, label_file_format,
                          list_stems, read_json_labels)

__all__ = [
    'ImageLabelFolderDataset', 'read_class_names', 'read_label_entries',
    'IMG_EXTENSIONS', 'check_mask_sizes'
]

#: Image file extensions the folder dataset picks up (lower case).
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def read_class_names(classes: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """Class names with background at index 0.

    Args:
        classes (str | Sequence[str]): Names, or a text file with one name
            a line (blank lines skipped).

    Returns:
        tuple[str, ...]: ``('background', ...)``; background is added in
        front when the first name is not ``background`` (any case).

    Raises:
        FileNotFoundError: If a file path does not exist.
        ValueError: If there is no foreground class or a name repeats.
    """
    src = 'classes'
    if isinstance(classes, str):
        src = classes
        names = list(read_classes_txt(classes))
    else:
        names = [str(c).strip() for c in classes]
    if names and names[0].lower() != 'background':
        names = ['background'] + names
    if len(names) < 2:
        raise ValueError(f'{src}: no foreground class names')
    lower = [n.lower() for n in names]
    dup = sorted({n for n, lo in zip(names, lower) if lower.count(lo) > 1})
    if dup:
        raise ValueError(f'{src}: repeated class name "{dup[0]}" (names '
                         'must be unique, case-insensitively)')
    return tuple(names)


def read_label_entries(path: str) -> List[Tuple[str, List[Union[str, int]]]]:
    """Raw ``(image key, labels)`` entries of a JSON or CSV label file.

    Args:
        path (str): ``.json`` or ``.csv`` file (format in the module
            docstring).

    Returns:
        list[tuple[str, list[str | int]]]: Entries in file order; labels
        are names (str) or indices (int; digit strings in CSV become int).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is malformed (the message names the file/row).
    """
    ext = label_file_format(path)
    entries: List[Tuple[str, List[Union[str, int]]]] = []
    if ext == '.json':
        raw = read_json_labels(path, '{image: [class names or indices]}')
        for key, labels in raw.items():
            if isinstance(labels, (str, int)):
                labels = [labels]
            if not isinstance(labels, list):
                raise ValueError(f'label file {path}: image {key}: expected '
                                 f'a list of classes, got {labels!r}')
            entries.append((str(key), list(labels)))
    elif ext == '.csv':
        with open(path, encoding='utf-8', newline='') as f:
            rows = [
                r for r in csv.reader(f) if r and any(c.strip() for c in r)
            ]
        if rows and [c.strip().lower() for c in rows[0][:2]] == [
                'image', 'labels'
        ]:
            rows = rows[1:]
        for row in rows:
            if len(row) > 2:
                raise ValueError(
                    f'label file {path}: row {row!r} has {len(row)} fields; '
                    'expected image,labels (separate labels with ";" or '
                    'spaces, not commas, or quote the field)')
            field = row[1].strip() if len(row) > 1 else ''
            parts = field.split(';') if ';' in field else field.split()
            labels = [p.strip() for p in parts if p.strip()]
            entries.append((row[0].strip(), [
                int(p) if p.isdigit() else p for p in labels
            ]))
    else:
        raise ValueError(f'label file {path}: unknown format {ext!r}; use '
                         '.json or .csv')
    return entries


def check_mask_sizes(infos: Sequence[dict], owner: str) -> None:
    """Raise on the first GT mask whose size differs from its image's.

    Only the file headers are read. Either orientation is accepted, as
    EXIF rotation may swap the image's sides.

    Args:
        infos (Sequence[dict]): Data infos (``img_path``, ``seg_map_path``).
        owner (str): Dataset name for the message.

    Raises:
        ValueError: Naming the mask, the image and both sizes.
    """
    for info in infos:
        mask = info.get('seg_map_path')
        if not mask:
            continue
        with Image.open(mask) as m, Image.open(info['img_path']) as im:
            ms, ims = m.size, im.size
        if ms != ims and ms != ims[::-1]:
            raise ValueError(
                f'{owner}: mask {mask} is {ms[0]}x{ms[1]} but its image '
                f'{info["img_path"]} is {ims[0]}x{ims[1]} (masks must have '
                'their image\'s size)')


@DATASETS.register_module()
class ImageLabelFolderDataset(BaseImageLabelDataset):
    """A folder of images + a JSON/CSV file of image-level labels.

    See the module docstring for the formats. Data infos hold ``img_path``,
    ``seg_map_path`` (None without a mask), ``img_labels`` and ``img_id``.

    Args:
        label_file (str): JSON or CSV label file (relative to
            ``data_root`` unless absolute).
        classes (str | Sequence[str], optional): Class names or a text file
            of them (relative to ``data_root`` unless absolute); background
            is added at 0 when missing. May instead be given as
            ``metainfo=dict(classes=...)``.
        data_prefix (dict): ``img_path`` (image folder) and optional
            ``seg_map_path`` (GT masks named ``<stem><seg_map_suffix>``;
            images without one get ``seg_map_path`` None). Defaults to
            ``dict(img_path='images')``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        **kwargs: :class:`BaseImageLabelDataset` / mmseg
            ``BaseSegDataset`` arguments (``data_root``, ``pipeline``,
            ``metainfo`` (e.g. a ``palette``), ``skip_unlabeled``, ...).
    """

    def __init__(self,
                 label_file: str,
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 data_prefix: dict = dict(img_path='images'),
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        data_root = kwargs.get('data_root')

        def rooted(p: str) -> str:
            return p if (osp.isabs(p) or not data_root) else join_path(
                data_root, p)

        metainfo = dict(kwargs.pop('metainfo', None) or {})
        if classes is None:
            classes = metainfo.get('classes')
        if classes is None:
            raise ValueError(
                'ImageLabelFolderDataset: give `classes` (names or a text '
                'file) or metainfo.classes')
        if isinstance(classes, str):
            classes = rooted(classes)
        names = read_class_names(classes)
        metainfo['classes'] = names
        if not metainfo.get('palette'):
            if len(names) > 256:
                raise ValueError('ImageLabelFolderDataset: more than 256 '
                                 'classes need an explicit metainfo.palette')
            metainfo['palette'] = voc_colormap(len(names))
        data_prefix = dict(data_prefix)
        if not data_prefix.get('seg_map_path'):
            data_prefix.pop('seg_map_path', None)
        self.label_file = rooted(label_file)
        super().__init__(
            metainfo=metainfo,
            data_prefix=data_prefix,
            img_suffix='',
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _owner(self) -> str:
        return f'{type(self).__name__} ({self.label_file})'

    def _class_index(self, label: Union[str, int], key: str) -> int:
        """Index of a label (name or int) in the class list, 0 = bg."""
        names = self._metainfo['classes']
        if isinstance(label, int) and not isinstance(label, bool):
            if not 0 <= label < len(names):
                raise ValueError(
                    f'{self._owner()}: sample {key}: class id {label} is '
                    f'outside the class list (0..{len(names) - 1})')
            return label
        if not isinstance(label, str):
            raise ValueError(f'{self._owner()}: sample {key}: label '
                             f'{label!r} is neither a class name nor an index')
        if label in names:
            return names.index(label)
        lower = [n.lower() for n in names]
        if label.lower() in lower:
            return lower.index(label.lower())
        raise ValueError(
            f'{self._owner()}: sample {key}: class {label!r} is not in the '
            f'class list {list(names)}')

    def _image_files(self, img_dir: str) -> Dict[str, str]:
        """Image file name per stem in ``img_dir`` (image extensions only).

        Raises:
            ValueError: If the folder holds no image.
        """
        files = {
            stem: name
            for stem, name in list_stems(img_dir).items()
            if osp.splitext(name)[1].lower() in IMG_EXTENSIONS
        }
        if not files:
            raise ValueError(f'{self._owner()}: no images in the image '
                             f'folder {img_dir} (extensions {IMG_EXTENSIONS})')
        return files

    def _mask_files(self, seg_dir: Optional[str]) -> Dict[str, str]:
        """Mask file name per stem in ``seg_dir`` (``{}`` without one)."""
        if not seg_dir:
            return {}
        return {
            stem: name
            for stem, name in list_stems(seg_dir).items()
            if name.endswith(self.seg_map_suffix)
        }

    def _match_entries(self, entries: Sequence[Tuple[str, list]],
                       img_dir: str, seg_dir: Optional[str],
                       files: Dict[str, str],
                       masks: Dict[str, str]) -> Tuple[List[dict], set]:
        """One data info per label entry, matched with its image and mask.

        Returns:
            tuple[list[dict], set]: The infos and the stems seen.

        Raises:
            ValueError: If an image is listed twice.
            FileNotFoundError: If labelled images are not in ``img_dir``.
        """
        data_list, missing, seen = [], [], set()
        for key, labels in entries:
            stem = key
            if osp.splitext(key)[1].lower() in IMG_EXTENSIONS:
                stem = osp.splitext(key)[0]
            if stem in seen:
                raise ValueError(f'{self._owner()}: image {stem} is listed '
                                 'twice')
            seen.add(stem)
            if stem not in files:
                missing.append(key)
                continue
            ids = [self._class_index(lb, key) for lb in labels]
            data_list.append(
                self.make_info(
                    osp.join(img_dir, files[stem]),
                    osp.join(seg_dir, masks[stem]) if stem in masks else None,
                    [i for i in ids if i != 0], stem))
        if missing:
            raise FileNotFoundError(
                f'{self._owner()}: {len(missing)} labelled images are not in '
                f'{img_dir}:{_listing(missing)}')
        return data_list, seen

    def load_data_list(self) -> List[dict]:
        """Match label entries with image files; resolve classes and masks.

        Returns:
            list[dict]: One info per labelled image.
        """
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix.get('seg_map_path')
        entries = read_label_entries(self.label_file)
        if not entries:
            raise ValueError(f'{self._owner()}: the label file lists no '
                             'images')
        files = self._image_files(img_dir)
        masks = self._mask_files(seg_dir)
        data_list, seen = self._match_entries(entries, img_dir, seg_dir,
                                              files, masks)
        check_mask_sizes(data_list, self._owner())
        unlabelled = len(set(files) - seen)
        if unlabelled:
            print_log(
                f'{self._owner()}: {unlabelled} images in {img_dir} have no '
                'label entry and are not used', logger='current')
        return self.finalize(data_list)
