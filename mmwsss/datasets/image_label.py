"""Shared base and helpers of the image-level-label datasets.

Every mmwsss image-label dataset is an mmseg :class:`BaseSegDataset` whose
data infos carry, besides mmseg's usual keys:

- ``img_labels`` (list[int]): sorted foreground class indices in ``1..C``
  (index 0 is background; ``C`` = number of foreground classes);
- ``img_id`` (str): the image file stem;
- ``seg_map_path`` (str | None): the ground-truth mask, or None when the
  sample has none (seeds can then not be scored, training still works).

:class:`mmwsss.datasets.transforms.PackWSSSInputs` puts ``img_labels`` and
``img_id`` into the data sample's metainfo, where models read them.

The helpers here (split lists, label files, labels derived from masks with
an in-memory and an optional JSON cache, existence checks that list the
missing files) are shared by the VOC, COCO and folder datasets.
"""
import json
import logging
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from PIL import Image

from mmwsss.class_names import IGNORE_INDEX
from mmwsss.io import dump_json_atomic
from mmwsss.utils.progress import Progress

__all__ = [
    'BaseImageLabelDataset', 'read_id_list', 'load_label_file',
    'labels_from_mask', 'derive_mask_labels', 'check_files_exist',
    'list_stems', 'file_signature', 'MAX_LISTED'
]

#: How many offending items an error message lists before "... and N more".
MAX_LISTED = 20

#: Labels derived from masks in this process: (abs path, mtime_ns, size,
#: num_fg, ignore_index) -> labels. Building the same split twice (train and
#: seed dataloaders, phase 2) reads every mask only once.
_MASK_LABEL_CACHE: Dict[tuple, Tuple[int, ...]] = {}


def _listing(items: Sequence[str]) -> str:
    """First :data:`MAX_LISTED` items, one a line, plus a count."""
    shown = '\n  '.join(str(i) for i in items[:MAX_LISTED])
    more = (f'\n  ... and {len(items) - MAX_LISTED} more'
            if len(items) > MAX_LISTED else '')
    return f'\n  {shown}{more}'


def file_signature(path: str) -> Tuple[int, int]:
    """(mtime_ns, size) of a file, used to tell stale caches apart.

    Args:
        path (str): An existing file.

    Returns:
        tuple[int, int]: Modification time in ns and size in bytes.
    """
    st = os.stat(path)
    return int(st.st_mtime_ns), int(st.st_size)


def read_id_list(path: str) -> List[str]:
    """Read a split file: one image id (file stem) per line.

    Blank lines are skipped; only the first whitespace-separated token of a
    line is used (so ``2007_000032 1`` style lists work too).

    Args:
        path (str): The split ``.txt`` file.

    Returns:
        list[str]: The ids, in file order.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it holds no id.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path, encoding='utf-8') as f:
        ids = [line.split()[0] for line in f if line.strip()]
    if not ids:
        raise ValueError(f'split file {path} is empty (no image ids)')
    return ids


def list_stems(folder: str) -> Dict[str, str]:
    """File stem -> file name of the plain files in a folder (one listing).

    Args:
        folder (str): The folder.

    Returns:
        dict[str, str]: Maps each stem to its file name. Hidden files are
        skipped.

    Raises:
        FileNotFoundError: If the folder does not exist.
        ValueError: If two files share a stem (e.g. ``a.jpg`` and ``a.png``).
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'folder not found: {folder}')
    out: Dict[str, str] = {}
    with os.scandir(folder) as it:
        for entry in it:
            if entry.name.startswith('.') or not entry.is_file():
                continue
            stem = osp.splitext(entry.name)[0]
            if stem in out:
                raise ValueError(
                    f'{folder}: two files share the stem {stem!r} '
                    f'({out[stem]}, {entry.name}); image ids must be unique')
            out[stem] = entry.name
    return out


def check_files_exist(paths: Iterable[str],
                      what: str,
                      owner: str,
                      hint: str = '') -> None:
    """Raise one error listing every missing file.

    Files of one folder are checked against a single directory listing,
    which is much cheaper than one ``stat`` per file on large splits.

    Args:
        paths (Iterable[str]): Files that must exist.
        what (str): What they are, for the message (``'images'``).
        owner (str): Who needs them (dataset class and split file).
        hint (str): A last line for the message (how to fix it).

    Raises:
        FileNotFoundError: Listing the first missing files and their count.
    """
    by_dir: Dict[str, List[str]] = {}
    for p in paths:
        by_dir.setdefault(osp.dirname(p), []).append(p)
    missing: List[str] = []
    for folder, files in by_dir.items():
        try:
            with os.scandir(folder or '.') as it:
                present = {e.name for e in it}
        except FileNotFoundError:
            present = set()
        missing.extend(p for p in files if osp.basename(p) not in present)
    if missing:
        raise FileNotFoundError(
            f'{owner}: {len(missing)} {what} not found:{_listing(missing)}'
            + (f'\n{hint}' if hint else ''))


def _check_fg_ids(ids: Iterable[int], num_fg: int, sample: str,
                  source: str) -> List[int]:
    """Sorted unique foreground ids, each checked to lie in ``1..num_fg``."""
    out = set()
    for i in ids:
        if isinstance(i, (bool, np.bool_)) or not isinstance(
                i, (int, np.integer)):
            raise ValueError(f'{source}: sample {sample}: class id {i!r} is '
                             'not an integer')
        if not 1 <= int(i) <= num_fg:
            raise ValueError(
                f'{source}: sample {sample}: class id {int(i)} is outside '
                f'the foreground classes 1..{num_fg}')
        out.add(int(i))
    return sorted(out)


def label_file_format(path: str) -> str:
    """The lower-case extension of a label file that must exist.

    Args:
        path (str): The label file.

    Returns:
        str: Its extension with the dot, e.g. ``'.json'``.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    return osp.splitext(path)[1].lower()


def read_json_labels(path: str, layout: str) -> dict:
    """The JSON object of a label file.

    Args:
        path (str): A ``.json`` label file.
        layout (str): What the object should look like, for the message,
            e.g. ``'{image id: [class indices]}'``.

    Returns:
        dict: The parsed object.

    Raises:
        ValueError: If the file is not valid JSON or not a JSON object.
    """
    try:
        with open(path, encoding='utf-8') as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f'label file {path} is not valid JSON: {e}')
    if not isinstance(raw, dict):
        raise ValueError(f'label file {path} must hold a JSON object {layout}')
    return raw


def load_label_file(path: str, num_fg: int) -> Dict[str, List[int]]:
    """Read image-level labels of a VOC-style dataset from a file.

    Two formats are accepted:

    - ``.json``: ``{"<img id>": [class indices in 1..C], ...}`` (like
      ``data/voc_mini/image_labels.json``; index 0 = background may appear
      and is dropped);
    - ``.npy``: the ``cls_labels.npy`` of CLIMS / CLIP-ES / IRN, a pickled
      dict ``{"<img id>": C-dim multi-hot array}`` over the foreground
      classes (entry ``k`` = class ``k + 1``). Its keys may be VOC ids with or
      without the underscore (IRN stores ``2007000032`` as an int); both
      spellings of an id are entered.

    Args:
        path (str): The label file.
        num_fg (int): Number of foreground classes ``C``.

    Returns:
        dict[str, list[int]]: Image id -> sorted foreground class indices.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: Unknown format, malformed entries, or an id outside
            ``1..C`` (the message names the file, sample and id).
    """
    ext = label_file_format(path)
    out: Dict[str, List[int]] = {}
    if ext == '.json':
        raw = read_json_labels(path, '{image id: [class indices]}')
        for key, ids in raw.items():
            if not isinstance(ids, list):
                raise ValueError(f'label file {path}: sample {key}: expected '
                                 f'a list of class indices, got {ids!r}')
            ids = [i for i in ids if not (isinstance(i, int) and i == 0)]
            out[str(key)] = _check_fg_ids(ids, num_fg, str(key), path)
    elif ext == '.npy':
        try:
            raw = np.load(path, allow_pickle=True)
            raw = raw.item() if raw.dtype == object and raw.ndim == 0 else raw
        except Exception as e:
            raise ValueError(f'cannot read label file {path}: {e}') from e
        if not isinstance(raw, dict):
            raise ValueError(
                f'label file {path} must hold a pickled dict {{image id: '
                f'{num_fg}-dim multi-hot}} (cls_labels.npy), got '
                f'{type(raw).__name__}')
        for key, vec in raw.items():
            vec = np.asarray(vec).reshape(-1)
            if vec.shape[0] != num_fg:
                raise ValueError(
                    f'label file {path}: sample {key}: multi-hot vector has '
                    f'{vec.shape[0]} entries, expected {num_fg} (one per '
                    'foreground class)')
            ids = (np.flatnonzero(vec > 0) + 1).tolist()
            key = str(key)
            out[key] = ids
            if key.isdigit() and len(key) == 10:  # IRN int ids: 2007000032
                out.setdefault(f'{key[:4]}_{key[4:]}', ids)
    else:
        raise ValueError(f'label file {path}: unknown format {ext!r}; use '
                         '.json ({id: [indices]}) or .npy (cls_labels.npy)')
    return out


def labels_from_mask(path: str, num_fg: int,
                     ignore_index: int = IGNORE_INDEX) -> List[int]:
    """Foreground classes present in a ground-truth mask.

    Args:
        path (str): A class-index PNG (palette or grey).
        num_fg (int): Number of foreground classes ``C``.
        ignore_index (int): Value to skip besides background 0.
            Defaults to 255.

    Returns:
        list[int]: Sorted classes in ``1..C`` with at least one pixel.

    Raises:
        ValueError: If the mask cannot be read, is not single-channel, or
            holds a value outside ``0..C`` other than ``ignore_index``.
    """
    try:
        with Image.open(path) as img:
            arr = np.asarray(img)
    except Exception as e:
        raise ValueError(f'cannot read mask {path}: {e}') from e
    if arr.ndim != 2:
        raise ValueError(f'mask {path} is not a single-channel class-index '
                         f'map (shape {arr.shape})')
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f'mask {path} holds values outside 0..255')
        arr = arr.astype(np.uint8)
    counts = np.bincount(arr.ravel(), minlength=256)
    counts[0] = 0
    if 0 <= ignore_index < 256:
        counts[ignore_index] = 0
    present = np.flatnonzero(counts)
    bad = present[present > num_fg]
    if bad.size:
        raise ValueError(
            f'mask {path}: class id {int(bad[0])} is outside the class list '
            f'(0..{num_fg}, {ignore_index} = ignore)')
    return present.tolist()


def label_components(label_map: np.ndarray,
                     min_area: int,
                     ignore_index: int = IGNORE_INDEX) -> List[np.ndarray]:
    """Connected regions of each label of a class-index map.

    Args:
        label_map (np.ndarray): (H, W) class indices, e.g. a GT mask.
        min_area (int): Smallest region kept, in pixels.
        ignore_index (int): Label that has no regions. Defaults to 255.

    Returns:
        list[np.ndarray]: (H, W) bool masks by increasing label, each
        label's regions in ``cv2.connectedComponents`` order
        (8-connectivity).
    """
    import cv2
    regions = []
    for k in np.unique(label_map):
        if k == ignore_index:
            continue
        n, comp = cv2.connectedComponents((label_map == k).astype(np.uint8))
        for c in range(1, n):
            m = comp == c
            if m.sum() >= min_area:
                regions.append(m)
    return regions


def _mask_labels_cached(path: str, num_fg: int,
                        ignore_index: int) -> List[int]:
    key = (osp.abspath(path), *file_signature(path), num_fg, ignore_index)
    hit = _MASK_LABEL_CACHE.get(key)
    if hit is None:
        hit = tuple(labels_from_mask(path, num_fg, ignore_index))
        _MASK_LABEL_CACHE[key] = hit
    return list(hit)


def _read_label_cache(cache_file: Optional[str],
                      ignore_index: int) -> Dict[str, list]:
    """The ``masks`` entries of a JSON label cache; ``{}`` when absent,
    unreadable (with a warning) or made for another ``ignore_index``."""
    disk: Dict[str, list] = {}
    if cache_file and osp.isfile(cache_file):
        try:
            with open(cache_file, encoding='utf-8') as f:
                stored = json.load(f)
            if stored.get('ignore_index') == ignore_index:
                disk = dict(stored['masks'])
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError,
                ValueError):
            print_log(f'label cache {cache_file} is unreadable; rebuilding',
                      logger='current', level=logging.WARNING)
            disk = {}
    return disk


def _cached_mask_labels(
        paths: Sequence[str], num_fg: int, ignore_index: int,
        disk: Dict[str, list],
        cache_name: str) -> Tuple[List[Optional[List[int]]], List[int]]:
    """Labels found in memory or in the disk cache (for unchanged masks).

    Returns:
        tuple: Labels per mask (``None`` where not cached) and the indices
        of the masks still to decode.
    """
    results: List[Optional[List[int]]] = [None] * len(paths)
    todo: List[int] = []
    for i, p in enumerate(paths):
        ap = osp.abspath(p)
        sig = file_signature(p)
        key = (ap, *sig, num_fg, ignore_index)
        mem = _MASK_LABEL_CACHE.get(key)
        if mem is not None:
            results[i] = list(mem)
            continue
        ent = disk.get(ap)
        if (isinstance(ent, list) and len(ent) == 3
                and list(ent[:2]) == list(sig)):
            labels = _check_fg_ids(ent[2], num_fg, osp.basename(p),
                                   cache_name)
            _MASK_LABEL_CACHE[key] = tuple(labels)
            results[i] = labels
            continue
        todo.append(i)
    return results, todo


def _decode_mask_labels(paths: Sequence[str], todo: Sequence[int],
                        results: List[Optional[List[int]]], num_fg: int,
                        ignore_index: int, nproc: int) -> None:
    """Fill ``results[i]`` for each ``i`` in ``todo`` from its PNG, in
    ``nproc`` threads, with a progress bar from 100 masks on."""
    bar = Progress(len(todo), 'image labels from masks') \
        if len(todo) >= 100 else None

    def work(i: int) -> List[int]:
        return _mask_labels_cached(paths[i], num_fg, ignore_index)

    if nproc > 1 and len(todo) > 1:
        with ThreadPoolExecutor(max_workers=nproc) as ex:
            done = zip(todo, ex.map(work, todo))
            for i, labels in done:
                results[i] = labels
                if bar is not None:
                    bar.update()
    else:
        for i in todo:
            results[i] = work(i)
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()


def _write_label_cache(cache_file: str, paths: Sequence[str],
                       results: Sequence[Optional[List[int]]],
                       disk: Dict[str, list], ignore_index: int) -> None:
    """Enter every mask's labels in ``disk`` and write the cache atomically."""
    for i in range(len(paths)):
        disk[osp.abspath(paths[i])] = [*file_signature(paths[i]), results[i]]
    dump_json_atomic(
        dict(version=1, ignore_index=ignore_index, masks=disk),
        cache_file,
        indent=0)


def derive_mask_labels(paths: Sequence[str],
                       num_fg: int,
                       ignore_index: int = IGNORE_INDEX,
                       nproc: int = 4,
                       cache_file: Optional[str] = None) -> List[List[int]]:
    """Image-level labels of many masks, each PNG read once.

    Results are kept in memory for this process (keyed by path, mtime and
    size) and, with ``cache_file``, in a JSON file that later runs read
    instead of the masks (entries whose mask changed are recomputed).
    PNG decoding runs in ``nproc`` threads with a progress bar.

    Args:
        paths (Sequence[str]): Mask files.
        num_fg (int): Number of foreground classes.
        ignore_index (int): Value to skip besides 0. Defaults to 255.
        nproc (int): Decoding threads. Defaults to 4.
        cache_file (str, optional): JSON label cache
            (``{"ignore_index": 255, "masks": {abs mask path: [mtime_ns,
            size, [labels]]}}``), written atomically when anything was
            computed.

    Returns:
        list[list[int]]: Labels per mask, in input order.
    """
    disk = _read_label_cache(cache_file, ignore_index)
    results, todo = _cached_mask_labels(paths, num_fg, ignore_index, disk,
                                        str(cache_file))
    if todo:
        _decode_mask_labels(paths, todo, results, num_fg, ignore_index,
                            nproc)
        if cache_file:
            _write_label_cache(cache_file, paths, results, disk, ignore_index)
    return results  # type: ignore[return-value]


class BaseImageLabelDataset(BaseSegDataset):
    """Base class of the datasets with image-level labels.

    Subclasses implement :meth:`load_data_list` and build each data info
    with :meth:`make_info`. Class subsets through ``metainfo`` (mmseg's
    ``label_map``) are not supported: image labels are indices into the
    dataset's own class list.

    Args:
        skip_unlabeled (bool): Drop images without any foreground label
            (WSSS practice: such images cannot train a classifier, and COCO's
            unannotated images are excluded from the WSSS splits). The
            number dropped is logged. Defaults to True.
        check_files (bool): Check at load time that every image (and GT
            mask, when a mask folder is set) exists, with one error listing
            all missing files. Only for local files (``backend_args`` None).
            Defaults to True.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    def __init__(self,
                 skip_unlabeled: bool = True,
                 check_files: bool = True,
                 **kwargs) -> None:
        self.skip_unlabeled = skip_unlabeled
        self.check_files = check_files
        own = self.METAINFO.get('classes')
        given = (kwargs.get('metainfo') or {}).get('classes')
        if own is not None and given is not None and list(given) != list(own):
            raise ValueError(
                f'{type(self).__name__}: metainfo.classes must be the '
                'dataset\'s own class list (class subsets / label_map are '
                'not supported with image-level labels)')
        super().__init__(**kwargs)

    @property
    def num_fg_classes(self) -> int:
        """Number of foreground classes ``C`` (background excluded)."""
        return len(self._metainfo['classes']) - 1

    def _owner(self) -> str:
        src = self.ann_file or self.data_prefix.get('img_path', '')
        return f'{type(self).__name__} ({src})'

    def make_info(self, img_path: str, seg_map_path: Optional[str],
                  img_labels: Sequence[int], img_id: str, **extra) -> dict:
        """One data info in the mmwsss layout.

        Args:
            img_path (str): The image.
            seg_map_path (str, optional): Its GT mask, None if none.
            img_labels (Sequence[int]): Foreground classes (checked to lie
                in ``1..C``; sorted, duplicates dropped).
            img_id (str): Image id (file stem).
            **extra: More keys to store.

        Returns:
            dict: The data info.
        """
        labels = _check_fg_ids(img_labels, self.num_fg_classes, img_id,
                               self._owner())
        info = dict(
            img_path=img_path,
            seg_map_path=seg_map_path,
            img_labels=labels,
            img_id=img_id,
            label_map=None,
            reduce_zero_label=False,
            seg_fields=[])
        info.update(extra)
        return info

    def check_paths(self,
                    img_paths: Sequence[str],
                    seg_map_paths: Sequence[Optional[str]],
                    seg_hint: str = '') -> None:
        """Check that images and GT masks exist (one error listing all).

        Skipped when ``check_files`` is False or files are not local.

        Args:
            img_paths (Sequence[str]): Image files.
            seg_map_paths (Sequence[str | None]): Mask files (None = none).
            seg_hint (str): How to fix missing masks, for the message.
        """
        if not self.check_files or self.backend_args is not None:
            return
        check_files_exist(img_paths, 'images', self._owner())
        check_files_exist([p for p in seg_map_paths if p],
                          'ground-truth masks', self._owner(), seg_hint)

    def finalize(self, data_list: List[dict]) -> List[dict]:
        """Drop unlabeled images (``skip_unlabeled``) and log a summary.

        Args:
            data_list (list[dict]): Infos from :meth:`make_info`.

        Returns:
            list[dict]: The infos kept.

        Raises:
            ValueError: If no image is left.
        """
        kept = data_list
        #: Images left out, by reason (names), for logs and results.
        self.dropped_images: Dict[str, List[str]] = {}
        if self.skip_unlabeled:
            kept = [d for d in data_list if d['img_labels']]
            dropped = [d['img_id'] for d in data_list if not d['img_labels']]
            if dropped:
                self.dropped_images['no foreground label'] = dropped
                print_log(
                    f'{self._owner()}: skipped {len(dropped)} images without '
                    'foreground labels (skip_unlabeled=True):'
                    f'{_listing(dropped)}',
                    logger='current')
        if not kept:
            raise ValueError(f'{self._owner()}: no images to load')
        with_gt = sum(d['seg_map_path'] is not None for d in kept)
        print_log(
            f'{self._owner()}: {len(kept)} images, {with_gt} with ground '
            'truth', logger='current')
        return kept
