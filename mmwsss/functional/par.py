"""PAR: pixel-adaptive refinement of CAM scores (AFA's ``PAR``, used
unchanged by WeCLIP and WeCLIP+, spec section 2.9).

Pure tensor code (torch only): no OpenMMLab imports. With N = 8 *
len(dilations) neighbours per pixel (replicate padding; for each dilation
d the offsets (-d,-d), (-d,0), (-d,+d), (0,-d), (0,+d), (+d,-d), (+d,0),
(+d,+d), in that order)::

    I     = bilinear(img, mask size, align_corners=True)
    k_img = -(|I_n - I| / (std_n(I_n) + 1e-8) / w1)^2, mean over channels
    k_pos = -(p_n / (std_n(p) + 1e-8) / w1)^2,  p = [r2,1,r2,1,1,r2,1,r2]*d
    a     = softmax_n(k_img) + w2 * softmax_n(k_pos)       # sums to 1 + w2
    num_iter times:  mask = sum_n mask_n * a_n

``std_n`` is the unbiased standard deviation over the N neighbours (per
pixel and channel). There is no renormalisation: each iteration scales a
constant map by 1 + w2 (1.01), which leaves the argmax unchanged.
"""
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'PAR_DILATIONS', 'par_neighbours', 'par_position_logits', 'par_weights',
    'par_refine'
]

#: WeCLIP's dilations (``PAR(num_iter=20, dilations=[1,2,4,8,12,24])``).
PAR_DILATIONS = (1, 2, 4, 8, 12, 24)

#: Offsets (row, col) of the 8 neighbours, in units of the dilation.
_OFFSETS = (
    (-1, -1), (-1, 0), (-1, 1),
    (0, -1), (0, 1),
    (1, -1), (1, 0), (1, 1),
)  # yapf: disable


def par_neighbours(x: Tensor,
                   dilations: Sequence[int] = PAR_DILATIONS) -> Tensor:
    """The 8 dilated neighbours of every pixel, replicate-padded.

    Args:
        x (Tensor): (B, C, H, W) floating maps.
        dilations (Sequence[int]): Dilations d >= 1.

    Returns:
        Tensor: (B, C, 8 * len(dilations), H, W); index ``8 * i + j`` is
        ``x[..., y + d_i * dy_j, x + d_i * dx_j]`` (clamped to the image)
        with ``(dy_j, dx_j)`` in the module's order.
    """
    if x.dim() != 4:
        raise ValueError(f'par_neighbours expects (B, C, H, W), got '
                         f'{tuple(x.shape)}')
    H, W = x.shape[-2:]
    out = []
    for d in dilations:
        d = int(d)
        if d < 1:
            raise ValueError(f'PAR dilations must be >= 1, got {d}')
        padded = F.pad(x, [d] * 4, mode='replicate')
        for dy, dx in _OFFSETS:
            top, left = d + dy * d, d + dx * d
            out.append(padded[..., top:top + H, left:left + W])
    return torch.stack(out, dim=2)


def par_position_logits(dilations: Sequence[int] = PAR_DILATIONS,
                        w1: float = 0.3,
                        dtype: torch.dtype = torch.float32,
                        device=None) -> Tensor:
    """Position term ``-(p / (std(p) + 1e-8) / w1)^2`` (before softmax).

    Args:
        dilations (Sequence[int]): Dilations.
        w1 (float): Temperature. Defaults to 0.3.
        dtype (torch.dtype): Defaults to float32 (the authors' buffer).
        device: Tensor device.

    Returns:
        Tensor: (8 * len(dilations), ) logits; ``p`` is the neighbour's
        distance ``[sqrt2, 1, sqrt2, 1, 1, sqrt2, 1, sqrt2] * d``.
    """
    ring = torch.tensor(
        [math.sqrt(2) if dy and dx else 1. for dy, dx in _OFFSETS],
        dtype=dtype,
        device=device)
    pos = torch.cat([ring * int(d) for d in dilations])
    return -(pos / (pos.std() + 1e-8) / w1)**2


def par_weights(img: Tensor,
                dilations: Sequence[int] = PAR_DILATIONS,
                w1: float = 0.3,
                w2: float = 0.01) -> Tensor:
    """PAR's per-pixel neighbour weights of an image at the mask size.

    Args:
        img (Tensor): (B, C, h, w) image already at the mask size.
        dilations (Sequence[int]): Dilations.
        w1 (float): Temperature of both kernels. Defaults to 0.3.
        w2 (float): Weight of the position kernel. Defaults to 0.01.

    Returns:
        Tensor: (B, 1, N, h, w) weights, each pixel's summing to 1 + w2.
    """
    nbr = par_neighbours(img, dilations)  # (B, C, N, h, w)
    std = nbr.std(dim=2, keepdim=True)  # unbiased
    k_img = -((nbr - img.unsqueeze(2)).abs() / (std + 1e-8) / w1)**2
    k_img = k_img.mean(dim=1, keepdim=True)
    k_pos = par_position_logits(dilations, w1, img.dtype, img.device)
    return F.softmax(k_img, dim=2) + \
        w2 * F.softmax(k_pos, dim=0).view(1, 1, -1, 1, 1)


def par_refine(img: Tensor,
               masks: Tensor,
               dilations: Sequence[int] = PAR_DILATIONS,
               num_iter: int = 20,
               w1: float = 0.3,
               w2: float = 0.01) -> Tensor:
    """Refine score maps with PAR (spec 2.9; the authors' ``PAR.forward``).

    The image is resized bilinearly with ``align_corners=True`` to the
    mask size (WeCLIP feeds the ImageNet-normalised network input; in val
    mode the masks are at the original size); the weights come from
    :func:`par_weights`; then ``num_iter`` times
    ``masks = sum_n neighbours_n(masks) * weights_n``.

    Args:
        img (Tensor): (B, C, H, W) image.
        masks (Tensor): (B, K, h, w) scores (WeCLIP: [bg; class maps]).
        dilations (Sequence[int]): Dilations. Defaults to
            (1, 2, 4, 8, 12, 24).
        num_iter (int): Propagation steps. Defaults to 20.
        w1 (float): Kernel temperature. Defaults to 0.3.
        w2 (float): Position-kernel weight. Defaults to 0.01.

    Returns:
        Tensor: (B, K, h, w) refined scores (not renormalised).
    """
    if img.dim() != 4 or masks.dim() != 4 or img.shape[0] != masks.shape[0]:
        raise ValueError('par_refine expects img (B, C, H, W) and masks '
                         f'(B, K, h, w), got {tuple(img.shape)} and '
                         f'{tuple(masks.shape)}')
    img = F.interpolate(
        img.to(masks.dtype),
        size=masks.shape[-2:],
        mode='bilinear',
        align_corners=True)
    weights = par_weights(img, dilations, w1, w2)
    for _ in range(num_iter):
        masks = (par_neighbours(masks, dilations) * weights).sum(dim=2)
    return masks
