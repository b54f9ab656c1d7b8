"""The FMA-WSSS training augmentation (AlchemyCat's augers), as transforms.

The authors train both prompt phases on (``configs/clip_cam/base.py``,
``VOCAuger``)::

    RandColorJitter   on the uint8 BGR image, each op with p = 0.5,
                      in random order
    RandRangeScale    long side -> integer uniform in [288, 480], short
                      side never below 224; PIL bicubic, labels nearest
    RandomCrop 224    (mmseg's: the same uniform offsets, never pads here)
    RandomFlip 0.5    (mmseg's)

The colour ops are OpenCV's ``convertScaleAbs`` (``|x * a + b|`` rounded
and saturated to 0..255), exactly as AlchemyCat's ``RandColorJitter``
computes them, quirks included: brightness is ``|x + delta|`` (a dark pixel
pushed below 0 comes back positive), "contrast" multiplies the pixel values
(no mean), saturation scales S of OpenCV's HSV, hue shifts H of OpenCV's
``HSV_FULL`` (0..255) with saturation at 0 / 255 instead of wrapping.
Random draws use ``np.random`` like mmcv's transforms, so the runner's
``randomness.seed`` makes them reproducible.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmwsss.functional.cam_input import pil_resize, resize_nearest_like_pil

__all__ = [
    'jitter_brightness', 'jitter_contrast', 'jitter_saturation', 'jitter_hue',
    'rand_range_scale_factor', 'scaled_size', 'RandColorJitter',
    'RandRangeScale'
]


def jitter_brightness(img: np.ndarray, delta: float) -> np.ndarray:
    """``|img + delta|``, rounded and saturated to uint8 (OpenCV
    ``convertScaleAbs(img, alpha=1, beta=delta)``)."""
    return cv2.convertScaleAbs(img, alpha=1, beta=float(delta))


def jitter_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """``|img * factor|``, rounded and saturated to uint8 (AlchemyCat's
    "contrast": a plain multiplication)."""
    return cv2.convertScaleAbs(img, alpha=float(factor), beta=0)


def jitter_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale S of OpenCV's HSV by ``factor`` (BGR uint8 in and out)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    hsv[:, :, 1] = cv2.convertScaleAbs(
        hsv[:, :, 1], alpha=float(factor), beta=0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def jitter_hue(img: np.ndarray, delta: float) -> np.ndarray:
    """Shift H of OpenCV's ``HSV_FULL`` (0..255) by ``delta``, saturating
    (BGR uint8 in and out)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)
    hsv[:, :, 0] = cv2.convertScaleAbs(
        hsv[:, :, 0], alpha=1, beta=float(delta))
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)


#: The ops of :class:`RandColorJitter`, in the order of its draws.
_JITTERS = (('brightness', jitter_brightness), ('contrast', jitter_contrast),
            ('saturation', jitter_saturation), ('hue', jitter_hue))


def rand_range_scale_factor(h: int, w: int, target_long: int,
                            short_thresh: int) -> float:
    """Scale of ``RandRangeScale``: the long side to ``target_long`` unless
    that takes the short side below ``short_thresh``.

    Args:
        h (int): Image height.
        w (int): Image width.
        target_long (int): Drawn target of the long side.
        short_thresh (int): Smallest short side after scaling.

    Returns:
        float: ``max(target_long / long, short_thresh / short)``.
    """
    long_side, short_side = max(h, w), min(h, w)
    return max(target_long / long_side, short_thresh / short_side)


def scaled_size(h: int, w: int, scale: float) -> Tuple[int, int]:
    """``(round(scale * h), round(scale * w))`` with Python's rounding (half
    to even), as AlchemyCat's ``scale_img_label``."""
    return round(scale * h), round(scale * w)


@TRANSFORMS.register_module()
class RandColorJitter(BaseTransform):
    """AlchemyCat's ``RandColorJitter`` on a uint8 BGR image.

    Each op is applied with probability ``prob`` (its parameter drawn
    uniformly from its range), then the four ops run in a random order.

    Args:
        max_delta_brightness (float): Brightness delta range
            ``[-d, d]``. Defaults to 25.
        contrast_range (Sequence[float]): Multiplier range. Defaults to
            (0.6, 1.4).
        saturation_range (Sequence[float]): Saturation multiplier range.
            Defaults to (0.5, 1.5).
        max_delta_hue (float): Hue delta range ``[-d, d]`` on OpenCV's
            0..255 hue. Defaults to 25.
        prob (float | Sequence[float]): Probability of each op (one value
            or four). Defaults to 0.5.

    Required keys: ``img`` (uint8, BGR as ``LoadImageFromFile`` loads it).
    Modified keys: ``img``.
    """

    def __init__(self,
                 max_delta_brightness: float = 25,
                 contrast_range: Sequence[float] = (0.6, 1.4),
                 saturation_range: Sequence[float] = (0.5, 1.5),
                 max_delta_hue: float = 25,
                 prob=0.5) -> None:
        probs = [float(prob)] * 4 if np.isscalar(prob) else [
            float(p) for p in prob
        ]
        if len(probs) != 4 or not all(0 <= p <= 1 for p in probs):
            raise ValueError('RandColorJitter: prob must be one value or four '
                             f'values in [0, 1], got {prob!r}')
        for name, rng in (('contrast_range', contrast_range),
                          ('saturation_range', saturation_range)):
            if not 0 < rng[0] < rng[1]:
                raise ValueError(f'RandColorJitter: {name} must be (lo, hi) '
                                 f'with 0 < lo < hi, got {rng!r}')
        if max_delta_brightness <= 0 or max_delta_hue <= 0:
            raise ValueError('RandColorJitter: max deltas must be > 0')
        self.ranges = dict(
            brightness=(-float(max_delta_brightness),
                        float(max_delta_brightness)),
            contrast=tuple(float(v) for v in contrast_range),
            saturation=tuple(float(v) for v in saturation_range),
            hue=(-float(max_delta_hue), float(max_delta_hue)))
        self.probs = probs

    def draw(self) -> Tuple[Dict[str, Optional[float]], List[int]]:
        """Random parameters (None = op skipped) and the op order, drawn as
        AlchemyCat draws them."""
        params = {}
        for (name, _), p in zip(_JITTERS, self.probs):
            apply = np.random.random() < p
            params[name] = float(np.random.uniform(
                *self.ranges[name])) if apply else None
        order = list(range(len(_JITTERS)))
        np.random.shuffle(order)
        return params, order

    @staticmethod
    def apply(img: np.ndarray, params: Dict[str, Optional[float]],
              order: Sequence[int]) -> np.ndarray:
        """Apply drawn parameters in the given op order."""
        for i in order:
            name, op = _JITTERS[i]
            if params.get(name) is not None:
                img = op(img, params[name])
        return img

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.dtype != np.uint8:
            raise ValueError(
                f'{results.get("img_path", "image")}: RandColorJitter needs '
                f'the uint8 image, got {img.dtype}; put it before any '
                'float conversion')
        params, order = self.draw()
        results['img'] = self.apply(img, params, order)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ranges={self.ranges}, '
                f'probs={self.probs})')


@TRANSFORMS.register_module()
class RandRangeScale(BaseTransform):
    """AlchemyCat's ``RandRangeScale`` with PIL resampling.

    Draws the long-side target as an integer uniform in
    ``[low_size, high_size]``, scales by :func:`rand_range_scale_factor`
    (so the short side is at least ``short_thresh``), sizes by
    :func:`scaled_size`; the image with PIL bicubic on uint8, every
    ``seg_fields`` entry (labels, and the SAM mask channels of
    ``LoadSAMMasks``) with PIL's nearest neighbour.

    Args:
        low_size (int): Smallest long-side target. Defaults to 288.
        high_size (int): Largest long-side target. Defaults to 480.
        short_thresh (int): Smallest short side. Defaults to 224.
        interpolation (str): Image resampling, ``'bicubic'`` (authors) or
            ``'bilinear'``. Defaults to ``'bicubic'``.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``,
    ``seg_fields`` entries. Added keys: ``scale``, ``scale_factor``
    ((w, h) ratios, mmcv's convention).
    """

    def __init__(self,
                 low_size: int = 288,
                 high_size: int = 480,
                 short_thresh: int = 224,
                 interpolation: str = 'bicubic') -> None:
        if not 0 < low_size <= high_size:
            raise ValueError('RandRangeScale: need 0 < low_size <= high_size, '
                             f'got {low_size}, {high_size}')
        if short_thresh <= 0:
            raise ValueError('RandRangeScale: short_thresh must be > 0')
        if interpolation not in ('bicubic', 'bilinear'):
            raise ValueError('RandRangeScale: interpolation must be '
                             f'"bicubic" or "bilinear", got {interpolation!r}')
        self.low_size = int(low_size)
        self.high_size = int(high_size)
        self.short_thresh = int(short_thresh)
        self.interpolation = interpolation

    def draw_target(self) -> int:
        """Long-side target, an integer uniform in [low_size, high_size]."""
        return self.low_size + int(
            np.random.randint(self.high_size - self.low_size + 1))

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        scale = rand_range_scale_factor(h, w, self.draw_target(),
                                        self.short_thresh)
        size = scaled_size(h, w, scale)
        results['img'] = pil_resize(img, size, self.interpolation)
        for key in results.get('seg_fields', []):
            if key in results:
                results[key] = resize_nearest_like_pil(results[key], size)
        results['img_shape'] = size
        results['scale'] = (size[1], size[0])
        results['scale_factor'] = (size[1] / w, size[0] / h)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(low_size={self.low_size}, '
                f'high_size={self.high_size}, '
                f'short_thresh={self.short_thresh}, '
                f'interpolation={self.interpolation!r})')
