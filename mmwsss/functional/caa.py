"""Class-aware attention-based affinity (CAA) refinement of CAMs, as CLIP-ES
introduced it and FMA-WSSS's ``att_cam`` computes it.

Pure tensor code (torch, numpy, cv2): no OpenMMLab imports.

For one image with merged attention A (L, L), L = h*w patches, and CAMs
(P, h, w)::

    score = N_(h,w)(cam)                      # min-max, clamp at 0, eps 1e-7
    A     = Sinkhorn(A, n_iter)               # / column sums, then / row sums
    A     = (A + A^T) / 2
    A     = A ** n_iters                      # matrix power
    m[p]  = union of the boxes around the 8-connected components of
            uint8(score*255) > int(t * max)   # CLIP-ES scoremap2bbox
    M[p]  = m_i f(to_in)_j + (1 - m_i) f(to_out)_j
    out[p]= (A (.) M[p]) @ v[p],  v = score or cam, row-major flattened
"""
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from .gradcam import min_max_normalize

__all__ = [
    'merge_attention', 'attention_to_affinity', 'box_mask', 'caa_refine',
    'CLIP_ES_CAA'
]

#: CLIP-ES's settings (``generate_cams_voc12.py``): 3 Sinkhorn rounds, one
#: squaring, threshold 0.4 on the normalised CAM. Use as
#: ``caa_refine(attn, cam, **CLIP_ES_CAA)``.
CLIP_ES_CAA = dict(threshold=0.4, sinkhorn_iters=3, n_iters=2, aff_at='score')

_MASK_FROM = ('in_bbox', 'out_bbox', 'all')


def merge_attention(attn: Tensor, last_k: int = 8) -> Tensor:
    """Average the attention of the last ``last_k`` layers, CLS dropped.

    Args:
        attn (Tensor): (D, 1+L, 1+L) per-layer attention (heads already
            averaged) of one image, or (B, D, 1+L, 1+L) for a batch. Any
            float dtype (the authors store f16); computed in float32.
        last_k (int): Number of last layers averaged (all of them when
            D < last_k, like the reference slice). Defaults to 8.

    Returns:
        Tensor: (L, L), or (B, L, L), float32.
    """
    if attn.dim() not in (3, 4) or attn.shape[-1] != attn.shape[-2]:
        raise ValueError('merge_attention expects (D, 1+L, 1+L) or '
                         f'(B, D, 1+L, 1+L), got {tuple(attn.shape)}')
    if last_k < 1:
        raise ValueError(f'merge_attention: last_k must be >= 1, got {last_k}')
    return attn[..., -last_k:, 1:, 1:].float().mean(dim=-3)


def attention_to_affinity(attn: Tensor,
                          sinkhorn_iters: int = 1,
                          n_iters: int = 2) -> Tensor:
    """Merged attention -> affinity: Sinkhorn, symmetrise, matrix power.

    Args:
        attn (Tensor): (L, L) merged attention.
        sinkhorn_iters (int): Rounds of "divide by the column sums, then by
            the row sums". Defaults to 1.
        n_iters (int): Matrix power applied after symmetrising.
            Defaults to 2.

    Returns:
        Tensor: (L, L) float32 affinity ``((S + S^T) / 2) ** n_iters``.
    """
    if attn.dim() != 2 or attn.shape[0] != attn.shape[1]:
        raise ValueError('attention_to_affinity expects (L, L), got '
                         f'{tuple(attn.shape)}')
    aff = attn.float()
    for _ in range(sinkhorn_iters):
        aff = aff / aff.sum(dim=0, keepdim=True)
        aff = aff / aff.sum(dim=1, keepdim=True)
    aff = (aff + aff.transpose(0, 1)) / 2
    return torch.linalg.matrix_power(aff, n_iters)


def box_mask(score: Union[Tensor, np.ndarray], threshold: float) -> Tensor:
    """Box masks of thresholded score maps (CLIP-ES ``scoremap2bbox`` with
    ``multi_contour_eval=True``, boxes painted as ``m[y0:y1, x0:x1] = 1``).

    Per map: ``s8 = uint8(score * 255)`` (float32 product, truncated),
    ``T = int(threshold * max(s8))`` (float64 product, truncated: 0.7 * 90
    = 62.99999999999999 -> 62, while 0.6 * 255 is exactly 153.0 -> 153),
    foreground = ``s8 > T`` (strict). Every 8-connected component (= every
    contour of ``cv2.findContours(RETR_TREE)``) with bounding box
    (x, y, w, h) paints
    rows ``y : min(y+h, H-1)`` and cols ``x : min(x+w, W-1)``: the clipped
    exclusive end means the last row and column are never inside a box.
    A map with no foreground pixel gives an all-zero mask.

    Args:
        score (Tensor | np.ndarray): (P, H, W) normalised scores in [0, 1).
        threshold (float): Relative threshold t.

    Returns:
        Tensor: (P, H, W) float32 0/1 masks (on ``score``'s device for a
        tensor input).
    """
    device = score.device if isinstance(score, Tensor) else None
    s = score.detach().cpu().float().numpy() if isinstance(score, Tensor) \
        else np.asarray(score, dtype=np.float32)
    if s.ndim != 3:
        raise ValueError(f'box_mask expects (P, H, W) scores, got {s.shape}')
    P, H, W = s.shape
    s8 = (s * 255).astype(np.uint8)
    out = np.zeros((P, H, W), dtype=np.float32)
    rows, cols = np.arange(H), np.arange(W)
    for p in range(P):
        thr = int(float(threshold) * int(s8[p].max()))
        binary = (s8[p] > thr).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(
            binary, connectivity=8)
        if n <= 1:
            continue
        x, y, w, h = (stats[1:, i] for i in (cv2.CC_STAT_LEFT,
                                             cv2.CC_STAT_TOP,
                                             cv2.CC_STAT_WIDTH,
                                             cv2.CC_STAT_HEIGHT))
        y1 = np.minimum(y + h, H - 1)
        x1 = np.minimum(x + w, W - 1)
        in_rows = (rows[None] >= y[:, None]) & (rows[None] < y1[:, None])
        in_cols = (cols[None] >= x[:, None]) & (cols[None] < x1[:, None])
        out[p] = (in_rows[:, :, None] & in_cols[:, None, :]).any(axis=0)
    mask = torch.from_numpy(out)
    return mask if device is None else mask.to(device)


def _mask_from(m: Tensor, kind: str) -> Tensor:
    """f(kind) of reference step 6: ``m``, ``1 - m`` or ones."""
    if kind == 'in_bbox':
        return m
    if kind == 'out_bbox':
        return 1 - m
    if kind == 'all':
        return torch.ones_like(m)
    raise ValueError(f'caa mask_type entries must be one of {_MASK_FROM}, '
                     f'got {kind!r}')


def caa_refine(attn: Tensor,
               cam: Tensor,
               threshold: float = 0.4,
               sinkhorn_iters: int = 1,
               n_iters: int = 2,
               aff_at: str = 'score',
               mask_type: Optional[Union[str, Sequence[str]]] = ('in_bbox',
                                                                 'in_bbox'),
               last_k: int = 8) -> Tensor:
    """CAA refinement of one image's CAMs (reference ``att_cam``).

    Steps: ``score = min_max_normalize(cam)``; if ``n_iters == 0`` return
    score or cam unchanged; affinity = Sinkhorn (``sinkhorn_iters``),
    symmetrise, ``matrix_power(., n_iters)``; per class the box mask m of
    :func:`box_mask` on the score; ``M[p,i,j] = m_i f(to_in)_j +
    (1-m_i) f(to_out)_j`` with ``mask_type = (to_in, to_out)`` and f in
    {'in_bbox': m, 'out_bbox': 1-m, 'all': 1}; the default
    ('in_bbox', 'in_bbox') gives ``M[p,i,j] = m_j`` (only source patches in
    the boxes propagate). ``mask_type='all'`` or None: M = 1 (no boxes).
    ``out[p] = (A^n (.) M[p]) @ v[p]`` with v = score or cam flattened
    row-major, computed as ``m (.) A(a (.) v) + (1-m) (.) A(b (.) v)`` in one
    matmul over all classes (no (P, L, L) tensor). Classes whose score has
    no foreground pixel give all-zero maps.

    Args:
        attn (Tensor): (L, L) merged attention, or (D, 1+L, 1+L) per-layer
            attention merged with :func:`merge_attention` (``last_k``).
            Any float dtype; computed in float32.
        cam (Tensor): (P, h, w) raw CAMs on the patch grid, L = h*w.
        threshold (float): Box threshold t on the score. Defaults to 0.4.
        sinkhorn_iters (int): Sinkhorn rounds. Defaults to 1.
        n_iters (int): Affinity matrix power; 0 = no refinement.
            Defaults to 2.
        aff_at (str): Refine ``'score'`` (normalised CAM) or ``'cam'``.
            Defaults to 'score'.
        mask_type (str | Sequence[str] | None): ``(to_in, to_out)`` or
            'all'/None. Defaults to ('in_bbox', 'in_bbox').
        last_k (int): Layers merged for a 3-D ``attn``. Defaults to 8.

    Returns:
        Tensor: (P, h, w) float32 refined maps, not re-normalised.
    """
    if aff_at not in ('score', 'cam'):
        raise ValueError("caa aff_at must be 'score' or 'cam', got "
                         f'{aff_at!r}')
    if cam.dim() != 3:
        raise ValueError(f'caa_refine expects cam (P, h, w), got '
                         f'{tuple(cam.shape)}')
    P, h, w = cam.shape
    L = h * w
    cam = cam.float()
    score = min_max_normalize(cam, dim=(1, 2), thresh=0., eps=1e-7)
    if n_iters == 0:
        return score if aff_at == 'score' else cam

    if attn.dim() == 3:
        attn = merge_attention(attn, last_k=last_k)
    if tuple(attn.shape) != (L, L):
        raise ValueError(f'caa_refine: attention {tuple(attn.shape)} does not '
                         f'match the {h}x{w} CAM grid (need ({L}, {L}))')
    aff = attention_to_affinity(attn.to(cam.device), sinkhorn_iters, n_iters)

    v = (score if aff_at == 'score' else cam).reshape(P, L)
    if mask_type is None or mask_type == 'all':
        return (v @ aff.transpose(0, 1)).reshape(P, h, w)
    if isinstance(mask_type, str) or len(mask_type) != 2:
        raise ValueError("caa mask_type must be (to_in, to_out), 'all' or "
                         f'None, got {mask_type!r}')
    m = box_mask(score.detach(), threshold).to(cam.device).reshape(P, L)
    a = _mask_from(m, mask_type[0])
    if mask_type[0] == mask_type[1]:  # M[p, i, j] = a_j for every row i
        return ((a * v) @ aff.transpose(0, 1)).reshape(P, h, w)
    b = _mask_from(m, mask_type[1])
    # (A * M[p]) @ v[p] = m * (A @ (a v)) + (1 - m) * (A @ (b v)), per class
    av = (torch.cat([a * v, b * v]) @ aff.transpose(0, 1))  # (2P, L)
    out = m * av[:P] + (1 - m) * av[P:]
    return out.reshape(P, h, w)
