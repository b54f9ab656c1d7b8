"""On-disk cache of SAM quasi-superpixels: one compressed file per image.

A cache file is a ``numpy.savez_compressed`` archive (no pickle) holding:

========================  =================================================
key                       content
========================  =================================================
``format``                ``'mmwsss-sam-masks-v1'``
``image_size``            int64 (2,): image height, width
``fingerprint``           str: hash of the SAM config + checkpoint
``counts``                int64 (K,): all masks' uncompressed-RLE counts,
                          concatenated (SAM / pycocotools column-major RLE)
``offsets``               int64 (S+1,): mask ``i`` owns
                          ``counts[offsets[i]:offsets[i+1]]``
``levels``                int8 (S,): SAM multimask index (0 sub-part,
                          1 part, 2 whole)
``predicted_iou``         float32 (S,)
``stability_score``       float32 (S,)
``bbox``                  float32 (S, 4): XYWH boxes as SAM reports them
========================  =================================================

Files are written atomically with the permissions the umask gives
(:func:`mmwsss.io.atomic.atomic_write_bytes`: temporary file in the
same folder, then ``os.replace``), so an interrupted run never leaves a truncated cache that a
later run would take as finished. :func:`load_masks` checks the format, the
image size and the fingerprint and raises :class:`MaskCacheError` naming the
file and what differs.
"""
import hashlib
import io
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .seeds import atomic_write_bytes

__all__ = [
    'CACHE_FORMAT', 'CACHE_SUFFIX', 'MaskCacheError', 'SAMMaskRecord',
    'mask_cache_path', 'save_masks', 'load_masks', 'is_valid_cache',
    'read_fingerprint', 'config_fingerprint',
    'rle_to_dense', 'dense_to_rle'
]

CACHE_FORMAT = 'mmwsss-sam-masks-v1'
CACHE_SUFFIX = '.npz'


class MaskCacheError(RuntimeError):
    """A mask cache file is missing, unreadable or made for other inputs."""


def config_fingerprint(prefix: str, fields: Dict[str, Any]) -> str:
    """The fingerprint a mask generator stores in its cache files.

    Args:
        prefix (str): Readable head (model type, family).
        fields (dict): JSON-serialisable values of everything that changes
            the masks.

    Returns:
        str: ``'<prefix>-<sha256 of the sorted JSON of fields, 20 hex>'``.
    """
    blob = json.dumps(fields, sort_keys=True)
    return f'{prefix}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}'


def dense_to_rle(masks: np.ndarray) -> List[Dict[str, Any]]:
    """Encode boolean masks as SAM's uncompressed RLE (column-major).

    Args:
        masks (np.ndarray): (S, H, W) bool.

    Returns:
        list[dict]: ``{'size': [H, W], 'counts': [...]}`` per mask; counts
        start with the number of zeros (possibly 0).
    """
    masks = np.asarray(masks, dtype=bool)
    s, h, w = masks.shape
    flat = masks.transpose(0, 2, 1).reshape(s, h * w)
    out = []
    for m in flat:
        change = np.flatnonzero(m[1:] != m[:-1]) + 1
        bounds = np.concatenate([[0], change, [h * w]])
        counts = np.diff(bounds).tolist()
        if m.size and m[0]:
            counts = [0] + counts
        out.append({'size': [h, w], 'counts': counts})
    return out


def rle_to_dense(counts: np.ndarray, offsets: np.ndarray,
                 size: Tuple[int, int]) -> np.ndarray:
    """Decode concatenated uncompressed RLEs into dense boolean masks.

    Args:
        counts (np.ndarray): Concatenated run lengths of all masks.
        offsets (np.ndarray): (S+1,) start of each mask's runs in ``counts``.
        size (tuple[int, int]): (H, W).

    Returns:
        np.ndarray: (S, H, W) bool masks.
    """
    h, w = int(size[0]), int(size[1])
    s = len(offsets) - 1
    counts = np.asarray(counts, np.int64)
    offsets = np.asarray(offsets, np.int64)
    # parity of each run within its own mask: even runs are 0, odd runs 1
    run_idx = np.arange(len(counts)) - np.repeat(offsets[:-1],
                                                 np.diff(offsets))
    out = np.repeat(run_idx % 2 == 1, counts)
    if out.size != s * h * w:
        raise MaskCacheError(
            f'RLE counts sum to {out.size} pixels, expected {s} masks of '
            f'{h}x{w}.')
    out = out.reshape(s, w * h)
    return out.reshape(s, w, h).transpose(0, 2, 1)


@dataclass
class SAMMaskRecord:
    """Quasi-superpixels of one image.

    Args:
        counts (np.ndarray): Concatenated uncompressed-RLE run lengths.
        offsets (np.ndarray): (S+1,) offsets of each mask in ``counts``.
        levels (np.ndarray): (S,) int8, 0 sub-part / 1 part / 2 whole.
        predicted_iou (np.ndarray): (S,) float32.
        stability_score (np.ndarray): (S,) float32.
        image_size (tuple[int, int]): (H, W).
        fingerprint (str): Identity of the SAM config + checkpoint.
        bbox (np.ndarray): (S, 4) float32 XYWH boxes.
    """
    counts: np.ndarray
    offsets: np.ndarray
    levels: np.ndarray
    predicted_iou: np.ndarray
    stability_score: np.ndarray
    image_size: Tuple[int, int]
    fingerprint: str = ''
    bbox: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_rles(cls,
                  rles: Sequence[Dict[str, Any]],
                  levels: Sequence[int],
                  predicted_iou: Sequence[float],
                  stability_score: Sequence[float],
                  image_size: Tuple[int, int],
                  fingerprint: str = '',
                  bbox: Optional[np.ndarray] = None) -> 'SAMMaskRecord':
        """Build a record from SAM-style uncompressed RLE dicts."""
        lens = [len(r['counts']) for r in rles]
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        counts = (
            np.concatenate([np.asarray(r['counts'], np.int64) for r in rles])
            if rles else np.zeros(0, np.int64))
        n = len(rles)
        return cls(
            counts=counts,
            offsets=offsets,
            levels=np.asarray(levels, np.int8).reshape(n),
            predicted_iou=np.asarray(predicted_iou, np.float32).reshape(n),
            stability_score=np.asarray(stability_score,
                                       np.float32).reshape(n),
            image_size=(int(image_size[0]), int(image_size[1])),
            fingerprint=fingerprint,
            bbox=(np.zeros((n, 4), np.float32) if bbox is None else
                  np.asarray(bbox, np.float32).reshape(n, 4)))

    @classmethod
    def from_dense(cls, masks: np.ndarray, levels: Sequence[int],
                   **kwargs) -> 'SAMMaskRecord':
        """Build a record from (S, H, W) boolean masks.

        ``predicted_iou`` and ``stability_score`` default to ones.
        """
        masks = np.asarray(masks, bool)
        n = masks.shape[0]
        kwargs.setdefault('predicted_iou', np.ones(n, np.float32))
        kwargs.setdefault('stability_score', np.ones(n, np.float32))
        kwargs.setdefault('image_size', masks.shape[1:])
        return cls.from_rles(dense_to_rle(masks), levels, **kwargs)

    def rles(self) -> List[Dict[str, Any]]:
        """Masks as SAM / pycocotools uncompressed RLE dicts."""
        h, w = self.image_size
        return [{
            'size': [h, w],
            'counts': self.counts[self.offsets[i]:self.offsets[i + 1]].tolist()
        } for i in range(len(self))]

    def dense(self) -> np.ndarray:
        """Masks as an (S, H, W) bool array."""
        return rle_to_dense(self.counts, self.offsets, self.image_size)

    def areas(self) -> np.ndarray:
        """(S,) int64 pixel count of each mask (sum of the odd runs)."""
        areas = np.zeros(len(self), np.int64)
        for i in range(len(self)):
            areas[i] = self.counts[self.offsets[i] + 1:self.offsets[i + 1]:2]\
                .sum()
        return areas


def mask_cache_path(mask_dir: str, img_path: str) -> str:
    """Cache file of an image: ``<mask_dir>/<image stem>.npz``."""
    stem = osp.splitext(osp.basename(img_path))[0]
    return osp.join(mask_dir, stem + CACHE_SUFFIX)


def save_masks(path: str, record: SAMMaskRecord) -> None:
    """Write a record atomically (temporary file + rename), with the
    permissions the umask gives (a cache shared across users works).

    Args:
        path (str): Destination ``.npz`` path; its folder is created.
        record (SAMMaskRecord): The masks to store.
    """
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        format=np.array(CACHE_FORMAT),
        image_size=np.asarray(record.image_size, np.int64),
        fingerprint=np.array(record.fingerprint),
        counts=np.asarray(record.counts, np.int64),
        offsets=np.asarray(record.offsets, np.int64),
        levels=np.asarray(record.levels, np.int8),
        predicted_iou=np.asarray(record.predicted_iou, np.float32),
        stability_score=np.asarray(record.stability_score, np.float32),
        bbox=np.asarray(record.bbox, np.float32))
    atomic_write_bytes(path, buf.getvalue())


def load_masks(path: str,
               fingerprint: Optional[str] = None,
               image_size: Optional[Tuple[int, int]] = None) -> SAMMaskRecord:
    """Read and validate a cache file.

    Args:
        path (str): The ``.npz`` file.
        fingerprint (str, optional): Expected SAM config/checkpoint
            fingerprint; checked when given.
        image_size (tuple[int, int], optional): Expected (H, W); checked
            when given.

    Returns:
        SAMMaskRecord: The cached quasi-superpixels.

    Raises:
        MaskCacheError: If the file is missing, unreadable, of another
            format, or made for another image size or SAM config.
    """
    if not osp.isfile(path):
        raise MaskCacheError(
            f'No SAM mask cache at {path}. Run tools/gen_sam_masks.py with '
            'the same dataset and mask_dir first.')
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as err:  # zipfile / numpy errors on corrupt files
        raise MaskCacheError(
            f'SAM mask cache {path} is unreadable (truncated or not a mask '
            f'cache: {err}); rerunning tools/gen_sam_masks.py over this '
            'mask_dir regenerates it.') from err
    fmt = str(data.get('format', ''))
    if fmt != CACHE_FORMAT:
        raise MaskCacheError(
            f'SAM mask cache {path} has format "{fmt}", expected '
            f'"{CACHE_FORMAT}".')
    record = SAMMaskRecord(
        counts=data['counts'],
        offsets=data['offsets'],
        levels=data['levels'],
        predicted_iou=data['predicted_iou'],
        stability_score=data['stability_score'],
        image_size=tuple(int(v) for v in data['image_size']),
        fingerprint=str(data['fingerprint']),
        bbox=data['bbox'])
    if image_size is not None and tuple(image_size) != record.image_size:
        raise MaskCacheError(
            f'SAM mask cache {path} is for an image of size (H, W) = '
            f'{record.image_size}, but the image is {tuple(image_size)}: '
            'the cache belongs to another image or dataset.')
    if fingerprint is not None and fingerprint != record.fingerprint:
        raise MaskCacheError(
            f'SAM mask cache {path} was made with another SAM config or '
            f'checkpoint (fingerprint {record.fingerprint!r}, expected '
            f'{fingerprint!r}). Regenerate it with tools/gen_sam_masks.py '
            '--overwrite, or point mask_dir at the cache of this config.')
    return record


def read_fingerprint(path: str) -> Optional[str]:
    """The SAM fingerprint stored in a cache file, reading nothing else.

    Args:
        path (str): The ``.npz`` file.

    Returns:
        str | None: The fingerprint; None if the file is missing,
        unreadable or of another format.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z['format']) != CACHE_FORMAT:
                return None
            return str(z['fingerprint'])
    except Exception:  # missing, truncated, not a zip, no such key
        return None


def is_valid_cache(path: str,
                   fingerprint: Optional[str] = None,
                   image_size: Optional[Tuple[int, int]] = None) -> bool:
    """Whether ``path`` holds a readable cache matching the expectations."""
    try:
        load_masks(path, fingerprint, image_size)
    except MaskCacheError:
        return False
    return True
