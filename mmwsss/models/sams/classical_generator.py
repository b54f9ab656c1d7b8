"""Weight-free quasi-superpixels: multi-scale Felzenszwalb segmentation.

A CPU stand-in for :class:`~.mask_generator.SAMQuasiSuperpixelGenerator`
for users (and the demo) without SAM weights. **The paper uses SAM**; this
generator only gives SAMS masks with real image structure so that every
path of the pipeline (seeding, CAL, SAMS TTA) is exercised without weights.

It produces the same output as the SAM generator -- a
:class:`~.mask_cache.SAMMaskRecord` with levels 0 (sub-part), 1 (part) and
2 (whole), stored in the same cache format -- from three graph-based
segmentations (Felzenszwalb & Huttenlocher 2004, scikit-image's
``felzenszwalb``) of the image:

1. The image is shrunk (area interpolation) so that its longer side is at
   most ``max_side`` (speed: ~0.25 s per VOC image on one CPU core with the
   defaults) and segmented at three scales, fine to coarse:
   ``scales[level]`` and ``min_size[level]`` (pixels of the shrunk image)
   give the sub-part, part and whole partitions.
2. Every segment of a level is a candidate mask of that level, except
   segments larger than ``max_area[level]`` times the image: like SAM,
   which gives object-sized wholes, a coarse segment that big (a sky, a
   lawn, a wall) is left to the finer levels. The default keeps every
   sub-part candidate, so every pixel has one.
3. The candidates go through the same whole > part > sub-part filter as
   SAM's masks (:func:`~.mask_filter.filter_quasi_superpixels` with
   ``t_r``, run at the shrunk size): a part or sub-part survives only
   where the kept larger masks leave it mostly uncovered. The output is a
   near-partition of the image into wholes (object-sized regions), parts
   and sub-parts (the structure of the large regions), brought back to the
   image size (nearest neighbour).

The record has no model confidences: ``predicted_iou`` and
``stability_score`` are 1 for every mask (SAMS does not use them), and
``bbox`` is the XYWH box of the mask as SAM reports it (inclusive max).
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from mmseg.registry import MODELS
from mmwsss.io.mask_cache import SAMMaskRecord, config_fingerprint
from mmwsss.functional.mask_filter import filter_quasi_superpixels
from .levelled_amg import check_rgb_image

__all__ = [
    'FelzenszwalbQuasiSuperpixelGenerator', 'felzenszwalb_label_maps',
    'level_candidates', 'mask_boxes_xywh', 'shrink_image', 'upsample_masks',
    'ALGORITHM_VERSION'
]

#: Bumped whenever the generation changes the masks it makes for the same
#: parameters; part of the fingerprint.
ALGORITHM_VERSION = 'felzenszwalb-qsp-v1'


def _skimage_felzenszwalb():
    try:
        from skimage.segmentation import felzenszwalb
    except ImportError as err:  # a runtime dependency, named loudly
        raise ImportError(
            'FelzenszwalbQuasiSuperpixelGenerator needs scikit-image '
            '(pip install "scikit-image>=0.24"; see '
            'requirements/runtime.txt).') from err
    return felzenszwalb


def _skimage_version() -> str:
    import skimage
    return '.'.join(skimage.__version__.split('.')[:2])


def _per_level(values: Sequence, name: str) -> Tuple:
    values = tuple(values)
    if len(values) != 3:
        raise ValueError(f'sam_generator.{name} must hold 3 values (sub-part,'
                         f' part, whole), got {list(values)!r}.')
    return values


def shrink_image(image: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    """The image shrunk (area interpolation) to a longer side of at most
    ``max_side``; the image itself when it is small enough or ``max_side``
    is None."""
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image
    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def felzenszwalb_label_maps(image: np.ndarray, scales: Sequence[float],
                            sigma: float,
                            min_size: Sequence[int]) -> List[np.ndarray]:
    """One Felzenszwalb partition of the image per scale.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        scales (Sequence[float]): Felzenszwalb ``scale`` per partition
            (larger: larger segments).
        sigma (float): Gaussian pre-smoothing of the segmentation.
        min_size (Sequence[int]): Smallest segment per partition, pixels.

    Returns:
        list[np.ndarray]: (H, W) int32 label maps, one per scale, each a
        partition of the image into connected segments.
    """
    felzenszwalb = _skimage_felzenszwalb()
    return [
        felzenszwalb(
            image,
            scale=float(scale),
            sigma=float(sigma),
            min_size=int(min_sz)).astype(np.int32)
        for scale, min_sz in zip(scales, min_size)
    ]


def upsample_masks(masks: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of (S, h, w) bool masks to ``size`` (H, W).
    """
    h, w = int(size[0]), int(size[1])
    if masks.shape[1:] == (h, w):
        return masks
    out = np.zeros((masks.shape[0], h, w), bool)
    for i, m in enumerate(masks):
        out[i] = cv2.resize(
            m.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return out


def level_candidates(
        label_maps: Sequence[np.ndarray],
        max_area: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
    """Candidate quasi-superpixels: the segments of each level's partition.

    Args:
        label_maps (Sequence[np.ndarray]): (H, W) integer label maps of
            levels 0 (sub-part), 1 (part) and 2 (whole).
        max_area (Sequence[float]): Per level, the largest segment kept, as
            a share of the image; larger segments are no candidates.

    Returns:
        tuple[np.ndarray, np.ndarray]: (S, H, W) bool masks and (S,) int8
        levels, level by level (0, 1, 2), segments of a level in label
        order; empty labels are skipped.
    """
    masks, levels = [], []
    for level, lab in enumerate(label_maps):
        lab = np.asarray(lab)
        areas = np.bincount(lab.ravel().astype(np.int64))
        limit = float(max_area[level]) * lab.size
        ids = np.flatnonzero((areas > 0) & (areas <= limit))
        masks.append(lab[None] == ids[:, None, None].astype(lab.dtype))
        levels.append(np.full(len(ids), level, np.int8))
    h, w = np.asarray(label_maps[0]).shape
    if not masks:
        return np.zeros((0, h, w), bool), np.zeros(0, np.int8)
    return np.concatenate(masks), np.concatenate(levels)


def mask_boxes_xywh(masks: np.ndarray) -> np.ndarray:
    """XYWH boxes of masks as SAM reports them.

    Args:
        masks (np.ndarray): (S, H, W) bool.

    Returns:
        np.ndarray: (S, 4) float32 ``x0, y0, x1 - x0, y1 - y0`` with
        ``x1, y1`` the last covered column / row (inclusive), zeros for an
        empty mask (SAM's ``batched_mask_to_box`` convention).
    """
    s = masks.shape[0]
    boxes = np.zeros((s, 4), np.float32)
    cols = masks.any(axis=1)  # (S, W)
    rows = masks.any(axis=2)  # (S, H)
    for i in range(s):
        xs, ys = np.flatnonzero(cols[i]), np.flatnonzero(rows[i])
        if xs.size:
            boxes[i] = (xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0])
    return boxes


@MODELS.register_module()
class FelzenszwalbQuasiSuperpixelGenerator:
    """Weight-free three-level quasi-superpixels (multi-scale Felzenszwalb).

    A drop-in for ``SAMQuasiSuperpixelGenerator`` wherever a config takes a
    ``sam_generator`` (``tools/gen_sam_masks.py``, ``SAMSSeeder``,
    ``SAMSTTAModel``): same :meth:`generate_record`, same cache format, its
    own :attr:`fingerprint`. Not the paper's method (FMA-WSSS uses SAM).
    Defaults suit VOC / COCO photographs (~500 px).

    Args:
        scales (Sequence[float]): Felzenszwalb ``scale`` of the sub-part,
            part and whole partitions (fine to coarse).
        sigma (float): Gaussian smoothing before segmenting.
        min_size (Sequence[int]): Smallest segment of each partition, in
            pixels of the image shrunk to ``max_side``.
        max_side (int, optional): Longer side the image is shrunk to before
            segmenting (speed); None segments at full size.
        max_area (Sequence[float]): Largest candidate of each level as a
            share of the image; larger segments are left to finer levels.
        t_r (float, optional): Occupation threshold of the whole > part >
            sub-part filter (as SAM's); None switches the filter off.
        filter_chunk_size (int): Masks per intersection product of the
            filter (memory only).
        device (str, optional): Device of the filter's products (None: cpu;
            the segmentation itself always runs on the CPU).
    """

    def __init__(self,
                 scales: Sequence[float] = (50., 200., 800.),
                 sigma: float = 0.8,
                 min_size: Sequence[int] = (30, 80, 200),
                 max_side: Optional[int] = 256,
                 max_area: Sequence[float] = (1.0, 0.3, 0.3),
                 t_r: Optional[float] = 0.3,
                 filter_chunk_size: int = 50,
                 device: Optional[str] = None) -> None:
        self.scales = tuple(float(s) for s in _per_level(scales, 'scales'))
        self.min_size = tuple(int(m) for m in _per_level(min_size, 'min_size'))
        self.max_area = tuple(
            float(a) for a in _per_level(max_area, 'max_area'))
        if list(self.scales) != sorted(self.scales):
            raise ValueError('sam_generator.scales must go from fine '
                             f'(sub-part) to coarse (whole), got '
                             f'{list(self.scales)}.')
        if not all(0 < a <= 1 for a in self.max_area):
            raise ValueError('sam_generator.max_area values are shares of '
                             f'the image in (0, 1], got {list(max_area)}.')
        if max_side is not None and int(max_side) < 8:
            raise ValueError(f'sam_generator.max_side must be >= 8 or None, '
                             f'got {max_side}.')
        self.sigma = float(sigma)
        self.max_side = None if max_side is None else int(max_side)
        self.t_r = None if t_r is None else float(t_r)
        self.filter_chunk_size = int(filter_chunk_size)
        self._device = torch.device(device or 'cpu')
        _skimage_felzenszwalb()  # fail at build time, not on the 1st image
        self._fingerprint_fields = dict(
            algorithm=ALGORITHM_VERSION,
            skimage=_skimage_version(),
            scales=list(self.scales),
            sigma=self.sigma,
            min_size=list(self.min_size),
            max_side=self.max_side,
            max_area=list(self.max_area),
            t_r=self.t_r)
        self._fingerprint = config_fingerprint('felzenszwalb',
                                               self._fingerprint_fields)

    @property
    def fingerprint(self) -> str:
        """Identity of the parameters; stored in every cache file.

        A hash of the algorithm version, the scikit-image version
        (major.minor) and every parameter that changes the masks; not of
        ``filter_chunk_size`` or ``device``. Never equal to a SAM
        generator's (those start with the SAM model type).
        """
        return self._fingerprint

    @property
    def device(self) -> torch.device:
        """Device of the level filter."""
        return self._device

    def generate_masks(self,
                       image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Filtered quasi-superpixels of one image as dense masks.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            tuple[np.ndarray, np.ndarray]: (S, H, W) bool masks and (S,)
            int8 levels, wholes first, then kept parts, then kept sub-parts
            (the filter's order).
        """
        check_rgb_image(image)
        maps = felzenszwalb_label_maps(
            shrink_image(image, self.max_side), self.scales, self.sigma,
            self.min_size)
        masks, levels = level_candidates(maps, self.max_area)
        if self.t_r is not None and len(masks):
            keep = filter_quasi_superpixels(
                torch.from_numpy(masks).to(self._device),
                levels,
                t_r=self.t_r,
                chunk_size=self.filter_chunk_size)
            masks, levels = masks[keep], levels[keep]
        return upsample_masks(masks, image.shape[:2]), levels

    def generate_record(self, image: np.ndarray) -> SAMMaskRecord:
        """Quasi-superpixels of one image, ready for the mask cache.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            SAMMaskRecord: RLE masks, levels, unit ``predicted_iou`` /
            ``stability_score``, XYWH boxes, the image size and
            :attr:`fingerprint`.
        """
        masks, levels = self.generate_masks(image)
        return SAMMaskRecord.from_dense(
            masks,
            levels,
            image_size=image.shape[:2],
            fingerprint=self.fingerprint,
            bbox=mask_boxes_xywh(masks))
