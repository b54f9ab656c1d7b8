"""WeCLIP's training augmentation (``datasets/transforms.py`` of the
authors' code, ``VOC12ClsDataset.__transforms``), as transforms::

    RandomRatioScale   ratio ~ U(0.5, 2.0), size (int(ratio h), int(ratio w)),
                       PIL bilinear on uint8 (labels PIL nearest)
    RandomFlip 0.5     (mmcv's)
    RandomPadCrop 320  pad to at least 320 x 320 with raw 0 at a random
                       offset, then a random 320 crop

The padding is the raw value 0, not the mean: after the ImageNet
normalisation of the data preprocessor it becomes ``-mean / std``, as in
the authors' pipeline. Random draws use ``np.random`` like mmcv's
transforms, so the runner's seed makes them reproducible (the authors draw
the ratio and the crop with Python's ``random``, the pad offset with
``np.random``).
"""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from mmwsss.functional.cam_input import pil_resize

__all__ = ['RandomRatioScale', 'RandomPadCrop', 'ratio_scaled_size']


def ratio_scaled_size(h: int, w: int, ratio: float) -> Tuple[int, int]:
    """``(int(ratio * h), int(ratio * w))``: truncated, as the authors'
    ``_img_rescaling``."""
    return int(ratio * h), int(ratio * w)


@TRANSFORMS.register_module()
class RandomRatioScale(BaseTransform):
    """Scale by a ratio drawn uniformly from ``ratio_range``.

    Args:
        ratio_range (Sequence[float]): (low, high). Defaults to (0.5, 2.0).
        interpolation (str): PIL resampling of the uint8 image
            (``'bilinear'``, the authors'; or ``'bicubic'``).

    Required keys: ``img`` (uint8). Modified keys: ``img``, ``img_shape``,
    ``seg_fields`` entries (PIL nearest). Added keys: ``scale``,
    ``scale_factor`` ((w, h) ratios).
    """

    def __init__(self,
                 ratio_range: Sequence[float] = (0.5, 2.0),
                 interpolation: str = 'bilinear') -> None:
        lo, hi = (float(r) for r in ratio_range)
        if not 0 < lo <= hi:
            raise ValueError('RandomRatioScale: ratio_range must be (lo, hi) '
                             f'with 0 < lo <= hi, got {ratio_range!r}')
        self.ratio_range = (lo, hi)
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        ratio = float(np.random.uniform(*self.ratio_range))
        size = ratio_scaled_size(h, w, ratio)
        size = (max(size[0], 1), max(size[1], 1))
        results['img'] = pil_resize(img, size, self.interpolation)
        for key in results.get('seg_fields', []):
            if key in results:
                results[key] = pil_resize(results[key], size, 'nearest')
        results['img_shape'] = size
        results['scale'] = (size[1], size[0])
        results['scale_factor'] = (size[1] / w, size[0] / h)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ratio_range={self.ratio_range}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class RandomPadCrop(BaseTransform):
    """Pad to at least ``crop_size`` at a random offset, then crop randomly.

    The image is placed at offsets drawn uniformly in ``[0, H' - h]`` and
    ``[0, W' - w]`` of a ``pad_val`` canvas of ``H' = max(crop, h)``, ``W' =
    max(crop, w)``; then a crop of ``crop_size`` is taken at offsets drawn
    uniformly in ``[0, H' - crop]``, ``[0, W' - crop]``. Label fields are
    padded with ``seg_pad_val``.

    Args:
        crop_size (int | Sequence[int]): (h, w) of the crop. Defaults to
            320.
        pad_val (int): Image padding (raw pixel value). Defaults to 0.
        seg_pad_val (int): Label padding. Defaults to 255.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``,
    ``seg_fields`` entries. Added key: ``img_box`` ((top, bottom, left,
    right) of the image inside the crop, the authors' unused ``img_box``).
    """

    def __init__(self,
                 crop_size=320,
                 pad_val: int = 0,
                 seg_pad_val: int = 255) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        self.crop_size = tuple(int(c) for c in crop_size)
        if len(self.crop_size) != 2 or min(self.crop_size) <= 0:
            raise ValueError(f'RandomPadCrop: bad crop_size {crop_size!r}')
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    @staticmethod
    def _place(arr: np.ndarray, canvas_hw: Tuple[int, int],
               offset: Tuple[int, int], value) -> np.ndarray:
        out = np.full(canvas_hw + arr.shape[2:], value, dtype=arr.dtype)
        h, w = arr.shape[:2]
        out[offset[0]:offset[0] + h, offset[1]:offset[1] + w] = arr
        return out

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        ch, cw = self.crop_size
        H, W = max(ch, h), max(cw, w)
        pad = (int(np.random.randint(H - h + 1)),
               int(np.random.randint(W - w + 1)))
        top = int(np.random.randint(H - ch + 1))
        left = int(np.random.randint(W - cw + 1))

        def crop(arr, value):
            arr = self._place(arr, (H, W), pad, value)
            return arr[top:top + ch, left:left + cw]

        results['img'] = crop(img, self.pad_val)
        for key in results.get('seg_fields', []):
            if key in results:
                results[key] = crop(results[key], self.seg_pad_val)
        results['img_shape'] = (ch, cw)
        results['img_box'] = np.asarray([
            max(pad[0] - top, 0),
            min(top + ch, pad[0] + h) - top,
            max(pad[1] - left, 0),
            min(left + cw, pad[1] + w) - left
        ])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')
