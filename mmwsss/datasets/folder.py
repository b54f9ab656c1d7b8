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
  holds no ``;``) by spaces, e.g. ``img_001,cat;dog`` or ``img_001,1 2``;
  or one label a column (``img_001,cat,dog``). As spreadsheets save it too:
  ``;`` or tab as the field separator (then ``,`` separates labels inside
  a field: ``img_001;cat,dog``), UTF-8 with a BOM, CRLF line ends, a header
  row (first cell ``image``, ``file``, ``filename``, ``name``, ``id``...),
  empty trailing columns. Class names containing spaces need ``;`` (or
  their own column).

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
from PIL import Image, UnidentifiedImageError

from mmwsss.class_names import read_classes_txt, voc_colormap
from mmwsss.io import displayed_size, exif_orientation
from .image_label import (BaseImageLabelDataset, _listing, derive_mask_labels,
                          label_file_format, list_stems, read_json_labels)

__all__ = [
    'ImageLabelFolderDataset', 'read_class_names', 'read_label_entries',
    'IMG_EXTENSIONS', 'check_image_files'
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


#: First cells of a CSV header row (lower case), e.g. ``image,labels``.
CSV_HEADER_KEYS = ('image', 'images', 'img', 'image_id', 'id', 'file',
                   'filename', 'file_name', 'name')


def _csv_delimiter(lines: Sequence[str]) -> str:
    """The field delimiter of a label CSV: tab, or whichever of ``,`` and
    ``;`` first follows the image name on the first line that has one
    (``img,cat;dog`` is comma-separated, ``img;cat,dog`` semicolon-separated,
    as spreadsheets in many locales save it)."""
    for line in lines:
        if '\t' in line:
            return '\t'
        hits = [i for i in (line.find(','), line.find(';')) if i >= 0]
        if hits:
            return line[min(hits)]
    return ','


def _split_labels(fields: Sequence[str], delimiter: str) -> List[str]:
    """Label names of a CSV row's label fields: one field holds several
    labels separated by the other separator (``;`` / ``,``) or by spaces;
    several fields (one label a column) hold one label each."""
    fields = [f.strip() for f in fields if f.strip()]
    if len(fields) > 1:
        return fields
    if not fields:
        return []
    other = ',' if delimiter == ';' else ';'
    if delimiter == '\t' and ',' in fields[0]:
        other = ','
    parts = fields[0].split(other) if other in fields[0] else fields[0].split()
    return [p.strip() for p in parts if p.strip()]


def _read_csv_entries(path: str) -> List[Tuple[str, List[Union[str, int]]]]:
    """Entries of a CSV label file, as spreadsheets save them too: UTF-8
    with or without BOM, LF or CRLF, ``,``/``;``/tab separated, an optional
    header row, trailing empty columns, one or several label columns."""
    try:
        with open(path, encoding='utf-8-sig', newline='') as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f'label file {path} is not UTF-8 text ({e.reason} '
                         f'at byte {e.start}); save it as UTF-8 CSV') from e
    lines = [ln for ln in text.splitlines() if ln.strip()]
    delimiter = _csv_delimiter(lines)
    rows = [
        r for r in csv.reader(lines, delimiter=delimiter)
        if r and any(c.strip() for c in r)
    ]
    if rows and rows[0][0].strip().lower() in CSV_HEADER_KEYS:
        rows = rows[1:]
    entries: List[Tuple[str, List[Union[str, int]]]] = []
    for row in rows:
        labels = _split_labels(row[1:], delimiter)
        entries.append((row[0].strip(),
                        [int(p) if p.isdigit() else p for p in labels]))
    return entries


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
        entries = _read_csv_entries(path)
    else:
        raise ValueError(f'label file {path}: unknown format {ext!r}; use '
                         '.json or .csv')
    return entries


def check_image_files(infos: Sequence[dict], owner: str,
                      num_fg: int) -> None:
    """Check the files of a folder before any stage uses them: every image
    decodes (its header), every GT mask has its image's displayed size and
    holds only ``0..C`` and 255.

    Masks belong to the image *as displayed* (:mod:`mmwsss.io.images`): a
    mask that has only the stored size of an EXIF-rotated photo is refused
    with the way forward. Mask values are read once per process (and cached
    with the image-label derivation).

    Args:
        infos (Sequence[dict]): Data infos (``img_path``, ``seg_map_path``).
        owner (str): Dataset name for the message.
        num_fg (int): Number of foreground classes ``C``.

    Raises:
        ValueError: One line naming the first bad file and what is wrong.
    """
    masks = []
    for info in infos:
        img = info['img_path']
        try:
            h, w = displayed_size(img)
        except ValueError as e:
            raise ValueError(f'{owner}: {e} (not an image?)') from e
        mask = info.get('seg_map_path')
        if not mask:
            continue
        try:
            with Image.open(mask) as m:
                mw, mh = m.size
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f'{owner}: cannot decode mask {mask}: {e}') from e
        masks.append(mask)
        if (mh, mw) == (h, w):
            continue
        if (mh, mw) == (w, h) and exif_orientation(img) != 1:
            raise ValueError(
                f'{owner}: mask {mask} is {mw}x{mh}, the stored size of '
                f'{img}, but that photo is displayed rotated (EXIF '
                f'orientation {exif_orientation(img)}) as {w}x{h}; mmwsss '
                'uses images as displayed, so draw the mask on the displayed '
                'image (or rotate it, or strip the orientation tag from the '
                'photo)')
        raise ValueError(
            f'{owner}: mask {mask} is {mw}x{mh} but its image {img} is '
            f'{w}x{h} (masks must have their image\'s size)')
    try:
        derive_mask_labels(masks, num_fg)
    except ValueError as e:
        raise ValueError(f'{owner}: {e}') from e


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
        if self.check_files and self.backend_args is None:
            check_image_files(data_list, self._owner(), self.num_fg_classes)
        unlabelled = sorted(set(files) - seen)
        kept = self.finalize(data_list)
        if unlabelled:
            self.dropped_images['no label entry'] = unlabelled
            print_log(
                f'{self._owner()}: {len(unlabelled)} images in {img_dir} have '
                f'no label entry and are not used:{_listing(unlabelled)}',
                logger='current')
        return kept
