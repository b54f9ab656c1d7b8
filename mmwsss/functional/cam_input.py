"""The CAM input resize of the FMA-WSSS and CLIP-ES code, and the PIL
resizes the training augmentation shares with it.

Pure numpy / PIL / torch code: no OpenMMLab imports.

Both reference implementations feed CLIP each test image at its own scale,
each side rounded UP to the next multiple of the patch size
(FMA-WSSS ``divisible_by_n(n=patch_size, direction='larger')``, CLIP-ES
``ceil(h / 16) * 16``), resized with PIL bicubic on the uint8 RGB image, then
``ToTensor`` + ``Normalize`` with CLIP's mean / std. 500x281 becomes
512x288. Because the size only grows, PIL's bicubic never antialiases here.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = [
    'PIL_RESAMPLE', 'round_up_to_multiple', 'patch_aligned_size', 'pil_resize',
    'pil_nearest_indices', 'resize_nearest_like_pil',
    'resize_normalized_like_pil'
]

#: PIL resampling filters by name.
PIL_RESAMPLE = {
    'nearest': Image.NEAREST,
    'bilinear': Image.BILINEAR,
    'bicubic': Image.BICUBIC,
}


def round_up_to_multiple(x: int, m: int) -> int:
    """Smallest positive multiple of ``m`` that is ``>= x``.

    Args:
        x (int): A size in pixels.
        m (int): The multiple (the patch size).

    Returns:
        int: ``ceil(x / m) * m``, at least ``m``.
    """
    x, m = int(x), int(m)
    if m <= 0:
        raise ValueError(f'round_up_to_multiple: multiple must be > 0, '
                         f'got {m}')
    return max(m, -(-x // m) * m)


def patch_aligned_size(size: Sequence[int], patch: int) -> Tuple[int, int]:
    """CAM input size of an image: each side rounded up to a patch multiple.

    Args:
        size (Sequence[int]): Image ``(H, W)``.
        patch (int): Patch size of the ViT.

    Returns:
        tuple[int, int]: ``(H', W')``, e.g. ``(281, 500) -> (288, 512)`` for
        patch 16.
    """
    return (round_up_to_multiple(size[0],
                                 patch), round_up_to_multiple(size[1], patch))


def pil_resize(img: np.ndarray,
               size: Sequence[int],
               resample: str = 'bicubic') -> np.ndarray:
    """Resize a uint8 image with PIL (channel order does not matter).

    Args:
        img (np.ndarray): (H, W) or (H, W, 3) uint8.
        size (Sequence[int]): Output ``(H', W')``.
        resample (str): ``'bicubic'``, ``'bilinear'`` or ``'nearest'``.

    Returns:
        np.ndarray: (H', W'[, 3]) uint8; a copy of ``img`` when the size is
        unchanged (PIL's own shortcut).
    """
    if img.dtype != np.uint8:
        raise ValueError(f'pil_resize expects a uint8 image, got {img.dtype}')
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError('pil_resize expects (H, W) or (H, W, 3), got '
                         f'{img.shape}')
    if resample not in PIL_RESAMPLE:
        raise ValueError(f'resample must be one of {sorted(PIL_RESAMPLE)}, '
                         f'got {resample!r}')
    h, w = int(size[0]), int(size[1])
    pil = Image.fromarray(np.ascontiguousarray(img))
    return np.array(pil.resize((w, h), resample=PIL_RESAMPLE[resample]))


def pil_nearest_indices(src: int, dst: int) -> np.ndarray:
    """Source index of each output pixel of PIL's NEAREST resize along one
    axis (computed by PIL itself on an index image, so it matches PIL for
    every size).

    Args:
        src (int): Input length.
        dst (int): Output length.

    Returns:
        np.ndarray: (dst,) int64 indices into ``range(src)``.
    """
    ramp = Image.fromarray(np.arange(src, dtype=np.int32)[None, :], mode='I')
    out = ramp.resize((int(dst), 1), resample=Image.NEAREST)
    return np.asarray(out, dtype=np.int64)[0]


def resize_nearest_like_pil(label: np.ndarray,
                            size: Sequence[int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map with any number of channels,
    equal to PIL's NEAREST resize of each channel.

    Args:
        label (np.ndarray): (H, W) or (H, W, K) of any dtype (e.g. a seed
            map plus SAM mask channels).
        size (Sequence[int]): Output ``(H', W')``.

    Returns:
        np.ndarray: (H', W'[, K]), same dtype.
    """
    h, w = label.shape[:2]
    rows = pil_nearest_indices(h, int(size[0]))
    cols = pil_nearest_indices(w, int(size[1]))
    return np.ascontiguousarray(label[rows][:, cols])


def resize_normalized_like_pil(img: Tensor,
                               size: Sequence[int],
                               mean: Optional[Tensor] = None,
                               std: Optional[Tensor] = None) -> Tensor:
    """PIL bicubic resize of a normalised image tensor that came from uint8.

    Undoes the normalisation, rounds back to the exact uint8 values (the
    error of float32 normalisation is far below 0.5), resizes with PIL
    bicubic and normalises again: the result equals
    ``Normalize(mean, std)(ToTensor()(PIL.resize(uint8 image)))`` up to
    float32 rounding, as the reference code computes its CAM input.

    Args:
        img (Tensor): (1, 3, H, W) ``(u - mean) / std`` of a uint8 image u.
        size (Sequence[int]): Output ``(H', W')``.
        mean (Tensor, optional): (3, 1, 1) mean in 0-255 units; None when
            ``img`` is not normalised.
        std (Tensor, optional): (3, 1, 1) std in 0-255 units.

    Returns:
        Tensor: (1, 3, H', W'), same dtype and device as ``img``.
    """
    if img.dim() != 4 or img.shape[0] != 1 or img.shape[1] != 3:
        raise ValueError('resize_normalized_like_pil expects (1, 3, H, W), '
                         f'got {tuple(img.shape)}')
    x = img[0].detach().float()
    if mean is not None:
        x = x * std.to(x) + mean.to(x)
    u8 = x.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
    out = pil_resize(u8.cpu().numpy(), size, 'bicubic')
    y = torch.from_numpy(out).to(device=img.device).permute(2, 0, 1).float()
    if mean is not None:
        y = (y - mean.to(y)) / std.to(y)
    return y[None].to(img.dtype)
