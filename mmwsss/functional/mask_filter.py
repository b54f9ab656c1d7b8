"""The whole > part > sub-part filter of FMA-WSSS quasi-superpixels.

SAM answers every point prompt with three nested masks: a sub-part (level
0), a part (level 1) and a whole (level 2). FMA-WSSS keeps every whole and
only those smaller-level masks that mostly cover pixels no larger kept mask
covers yet (``rock_sand_water`` in the authors' code, change 3 of
``reference_behaviour.md`` section 1.2, step 4):

1. Split the masks by level, keeping the input order within each level.
2. The container ``C`` starts as all wholes (possibly none).
3. For the part level, then the sub-part level:

   - if ``C`` is empty, the level is taken whole-sale, without filtering;
   - otherwise every mask ``m`` of the level gets the occupation
     ``occ(m) = max_{c in C} |m & c| / |m|`` and is kept iff
     ``occ(m) < t_r``; the kept masks join ``C``.

4. The output is the wholes, then the kept parts, then the kept sub-parts,
   each group in input order.

So sub-parts are tested against wholes *and kept parts*, dropped parts
suppress nothing, and masks of one level are never compared with each other.

Numerics match the reference exactly: ``occ`` is ``float32(|m & c|)``
divided by the int64 area, in float32, and compared strictly with
``float32(t_r)`` -- an occupation of exactly 7/10 is dropped at
``t_r = 0.7``. Intersections are matrix products of flattened masks, one
per chunk of ``chunk_size`` masks against the whole container (exact
integer counts: the products run in float32 below 2**24 pixels per image
and in float64 above), so the chunk size only bounds memory.

Empty masks (robustness): the reference divides by zero for an empty
mask, gets NaN and so drops it whenever it is compared. Here the filter
drops an empty mask explicitly in that case (same outcome, without relying
on NaN comparisons); an empty mask of a level taken whole-sale is kept, as
in the reference. SAM's post-processing never produces empty masks.

This module is pure numeric code: numpy and torch only.
"""
from typing import List, Sequence, Union

import numpy as np
import torch

__all__ = ['filter_quasi_superpixels', 'max_occupation', 'LEVELS']

#: SAM multimask levels, from the largest (whole) to the smallest (sub-part).
LEVELS = (2, 1, 0)

ArrayLike = Union[np.ndarray, torch.Tensor]

# float32 counts are exact integers up to 2**24.
_FLOAT32_EXACT = 2**24


def _as_bool_tensor(masks: ArrayLike) -> torch.Tensor:
    if isinstance(masks, torch.Tensor):
        return masks.to(torch.bool)
    return torch.from_numpy(np.ascontiguousarray(masks, dtype=bool))


def max_occupation(masks: torch.Tensor,
                   container: torch.Tensor,
                   chunk_size: int = 50) -> torch.Tensor:
    """Largest share of each mask covered by one container mask.

    Args:
        masks (torch.Tensor): (N, H, W) or (N, H*W) bool masks.
        container (torch.Tensor): (M, H, W) or (M, H*W) bool masks, M >= 1,
            on the same device.
        chunk_size (int): Masks of ``masks`` per matrix product; ``<= 0``
            means one product. Changes memory only.

    Returns:
        torch.Tensor: (N,) float32 ``max_c float32(|m & c|) / |m|``; NaN
        for empty masks (the caller decides what an empty mask means).
    """
    n, m = masks.shape[0], container.shape[0]
    flat = masks.reshape(n, -1)
    cont = container.reshape(m, -1)
    if flat.shape[1] != cont.shape[1]:
        raise ValueError(
            f'masks have {flat.shape[1]} pixels but container masks have '
            f'{cont.shape[1]}: they must come from the same image.')
    # 0/1 products and row sums are exact integers in this dtype
    dtype = (
        torch.float32 if flat.shape[1] < _FLOAT32_EXACT else torch.float64)
    cont_t = cont.to(dtype).T  # (P, M), converted once
    step = n if chunk_size <= 0 else chunk_size
    inter_max = torch.empty(n, dtype=torch.int64, device=flat.device)
    areas = torch.empty(n, dtype=torch.int64, device=flat.device)
    for r0 in range(0, n, max(step, 1)):
        rows = flat[r0:r0 + step].to(dtype)  # (n', P)
        inter = torch.mm(rows, cont_t)  # (n', M)
        inter_max[r0:r0 + step] = inter.amax(dim=1).round().to(torch.int64)
        areas[r0:r0 + step] = rows.sum(dim=1).round().to(torch.int64)
    # max over c of inter/area == (max over c of inter) / area: area is
    # shared by the row and float32 division is monotonic in the numerator.
    # The reference computes float32(inter) / int64 area -> float32.
    return inter_max.to(torch.float32) / areas


def filter_quasi_superpixels(masks: ArrayLike,
                             levels: Union[ArrayLike, Sequence[int]],
                             t_r: float = 0.3,
                             chunk_size: int = 50) -> np.ndarray:
    """Keep wholes, then parts and sub-parts that add new area.

    Args:
        masks (np.ndarray | torch.Tensor): (S, H, W) bool masks (any
            device for tensors; the work runs there).
        levels (np.ndarray | torch.Tensor | Sequence[int]): (S,) SAM
            multimask index per mask: 0 sub-part, 1 part, 2 whole.
        t_r (float): Occupation threshold; a part / sub-part is kept iff its
            occupation is strictly below ``float32(t_r)``.
        chunk_size (int): Masks per intersection matrix product against
            the container (memory only); ``<= 0`` for a single product.

    Returns:
        np.ndarray: int64 indices into ``masks`` of the kept masks, in
        output order: wholes, kept parts, kept sub-parts, each in input
        order.

    Raises:
        ValueError: On shape mismatches or a level outside {0, 1, 2}.
    """
    masks_t = _as_bool_tensor(masks)
    if masks_t.ndim != 3:
        raise ValueError(
            f'masks must be (S, H, W), got shape {tuple(masks_t.shape)}.')
    levels_np = (levels.detach().cpu().numpy() if isinstance(
        levels, torch.Tensor) else np.asarray(levels)).astype(np.int64)
    levels_np = levels_np.reshape(-1)
    if levels_np.shape[0] != masks_t.shape[0]:
        raise ValueError(f'{levels_np.shape[0]} levels for '
                         f'{masks_t.shape[0]} masks.')
    bad = np.setdiff1d(levels_np, LEVELS)
    if bad.size:
        raise ValueError(f'mask levels must be 0 (sub-part), 1 (part) or 2 '
                         f'(whole); got {bad.tolist()}.')
    if masks_t.shape[0] == 0:
        return np.zeros(0, np.int64)

    thresh = torch.tensor(t_r, dtype=torch.float32)
    kept: List[np.ndarray] = []
    container = None  # (K, H, W) masks kept so far
    for level in LEVELS:
        idx = np.flatnonzero(levels_np == level)
        if container is None:  # the wholes start the container
            kept.append(idx)
            container = masks_t[torch.from_numpy(idx).to(masks_t.device)]
            continue
        if container.shape[0] == 0:  # nothing larger kept: take all
            kept.append(idx)
            container = masks_t[torch.from_numpy(idx).to(masks_t.device)]
            continue
        if idx.size == 0:
            continue
        level_masks = masks_t[torch.from_numpy(idx).to(masks_t.device)]
        occ = max_occupation(level_masks, container, chunk_size)
        # empty masks (occ NaN) are dropped, as the reference's NaN is
        keep = ((occ < thresh.to(occ.device)) & ~torch.isnan(occ)).cpu()
        keep = keep.numpy()
        kept.append(idx[keep])
        container = torch.cat([
            container, level_masks[torch.from_numpy(keep).to(masks_t.device)]
        ])
    return np.concatenate(kept).astype(np.int64)
