"""SAM-based seeding (SAMS): label each quasi-superpixel from class maps and
paint the seed map (FMA-WSSS eqs. 8-10, as the authors' code computes them).

Pure tensor code (torch, numpy): no OpenMMLab imports. Works on CPU and GPU.

For one image with class maps ``cams`` (P, H, W) of the foreground classes
``fg_cls`` (P,) and quasi-superpixels ``masks`` (S, H, W) with SAM levels
(S,) (0 sub-part, 1 part, 2 whole), the default settings compute
(``norm_first=True``, ``gather='mean'``, ``bg 'pow' alpha``,
``priority=('level_bigger', 'conf_bigger')``)::

    A        = max(cams, 0)                         # no per-pixel norm
    g[p, s]  = sum_{pixels of mask s} A[p] / area_s
    S_c[p,s] = N_S(g[p, :])   min-max over the S masks per class,
                               clamp at 0, eps 1e-7
    S_bg[s]  = (1 - max_p S_c[p, s]) ** alpha
    scores   = [S_bg, S_c[0], ..., S_c[P-1]]        (S, P+1)
    idx      = argmax(scores), ties to the LOWEST index (bg wins ties)
    label[s] = 0 if idx == 0 else fg_cls[idx-1] + 1;  conf[s] = max score
    seed     = per pixel the label of the covering mask with the highest
               (level, conf, position in the input); uncovered pixels 0

Masks are never expanded into a dense (S, H, W) float product, nor into
per-pixel index lists: they are kept as runs of pixels (:class:`MaskRuns`,
SAM's column-major RLE, read straight from the mask cache). The mask sums are
differences of a float64 prefix sum of the maps at the run ends (cost per
run, not per pixel), cast back to the maps' dtype; the painting is one
``scatter_reduce_('amax')`` of a priority rank onto the canonical nodes of
an iterative segment tree over the pixels, pushed down level by level
(:func:`interval_max`). On a 500x366 VOC image with 80 masks (~10k runs,
~630k mask pixels) a call takes ~10 ms on one thread of a shared CPU
(tools/benchmarks/sams_vs_crf.py), against ~0.6 s for a dense CRF.

Deviations from the reference, where it gives NaN or fails:

- a mask with zero area (NaN there) is left out of the per-class min-max (so
  it does not change the other masks' scores), gets all-zero scores, label 0,
  conf 0, and, having no pixels, paints nothing;
- no masks (S = 0) give an all-background seed and (0, K) scores;
- no classes (P = 0) give S_bg = 1: every mask is background;
- ``bg_method='no_bg'`` labels channel ``i`` as ``fg_cls[i] + 1`` (the
  reference's lookup table still starts with the background there, so its
  labels are shifted by one; it is unused in the published settings).
"""
from dataclasses import dataclass
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .gradcam import min_max_normalize

__all__ = [
    'MaskRuns', 'SAMSResult', 'mask_runs', 'mask_runs_from_rle',
    'interval_max', 'resize_maps', 'gather_mask_means', 'normalize_over_masks',
    'mask_scores', 'add_background_score', 'classify_masks',
    'priority_rank', 'paint_masks', 'sams_seed', 'sams_seed_from_record'
]

ArrayLike = Union[Tensor, np.ndarray, Sequence]
NormFirst = Union[bool, str, Dict[str, Any]]

#: The settings FMA-WSSS's seeds use.
DEFAULT_PRIORITY = ('level_bigger', 'conf_bigger')
_PRIORITY_KEYS = ('level_bigger', 'level_smaller', 'conf_bigger',
                  'conf_smaller', 'area_bigger', 'area_smaller')


class MaskRuns(NamedTuple):
    """Quasi-superpixels as runs of pixels (SAM's RLE, column-major).

    A pixel (y, x) of an (H, W) image has the column-major index
    ``x * H + y``; mask ``s`` is the union of its runs
    ``[starts[i], starts[i] + lengths[i])`` with ``mask_idx[i] == s``.
    Runs are grouped by mask (``mask_idx`` ascending), as
    :func:`mask_runs` and :func:`mask_runs_from_rle` make them.

    Attributes:
        starts (Tensor): (R,) int64 first pixel of each run.
        lengths (Tensor): (R,) int64 pixels in each run (> 0).
        mask_idx (Tensor): (R,) int64 mask of each run, in [0, S).
        areas (Tensor): (S,) int64 pixels per mask.
        image_size (tuple[int, int]): (H, W).
    """
    starts: Tensor
    lengths: Tensor
    mask_idx: Tensor
    areas: Tensor
    image_size: Tuple[int, int]

    @property
    def num_masks(self) -> int:
        """Number of masks S."""
        return int(self.areas.numel())

    def to(self, device: Union[str, torch.device]) -> 'MaskRuns':
        """Same masks on another device."""
        return MaskRuns(
            self.starts.to(device), self.lengths.to(device),
            self.mask_idx.to(device), self.areas.to(device), self.image_size)


@dataclass
class SAMSResult:
    """Output of :func:`sams_seed`.

    Attributes:
        seed (Tensor): (H, W) uint8 seed map, 0 = background,
            ``fg_cls[i] + 1`` = class.
        scores (Tensor): (S, K) float per-mask scores, ``[S_bg, S_c...]``
            (K = P + 1; K = P with ``bg_method='no_bg'``).
        labels (Tensor): (S,) int64 label of each mask (the seed value).
        conf (Tensor): (S,) float winning score of each mask, also when
            background wins.
        mask_map (Tensor): (H, W) int64 index of the mask that painted each
            pixel, -1 where no mask covers it (a transposed view of a
            column-major tensor; ``.contiguous()`` if needed).
    """
    seed: Tensor
    scores: Tensor
    labels: Tensor
    conf: Tensor
    mask_map: Tensor


# ----------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------
def mask_runs(masks: ArrayLike,
              device: Optional[Union[str, torch.device]] = None) -> MaskRuns:
    """Runs of dense boolean masks (vectorised, no per-mask loop).

    The masks are read in their own (row-major) layout, never transposed:
    a column-major run starts or ends where a pixel differs from the one
    above it (same column), at the top of a column that differs from the
    bottom of the previous one, and at the first / after the last pixel;
    only these transitions (about two per run) are sorted into column-major
    order. On the CPU the scan runs in numpy (several times faster than
    torch's ``nonzero`` there).

    Args:
        masks (Tensor | np.ndarray): (S, H, W) masks (bool, or any dtype
            where nonzero means inside).
        device (str | torch.device, optional): Device of the result.
            Defaults to the masks' device (CPU for numpy).

    Returns:
        MaskRuns: The masks' runs.
    """
    if isinstance(masks, Tensor):
        if device is not None:
            masks = masks.to(device)
        out_device = masks.device
    else:
        masks = np.asarray(masks)
        out_device = torch.device('cpu') if device is None else device
    if masks.ndim != 3:
        raise ValueError(
            f'masks must be (S, H, W), got shape {tuple(masks.shape)}')
    s, h, w = (int(n) for n in masks.shape)
    if s == 0 or h * w == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=out_device)
        return MaskRuns(empty, empty.clone(), empty.clone(),
                        torch.zeros(s, dtype=torch.int64, device=out_device),
                        (h, w))
    if isinstance(masks, Tensor) and masks.device.type != 'cpu':
        starts, ends, mask_idx = _transitions_torch(masks != 0)
    else:
        on = masks.numpy() if isinstance(masks, Tensor) else masks
        starts, ends, mask_idx = (
            torch.from_numpy(x) for x in _transitions_numpy(on != 0))
        starts, ends, mask_idx = (
            x.to(out_device) for x in (starts, ends, mask_idx))
    lengths = ends - starts
    areas = torch.zeros(s, dtype=torch.int64, device=out_device)
    areas.index_add_(0, mask_idx, lengths)
    return MaskRuns(starts, lengths, mask_idx, areas, (h, w))


def _transitions_numpy(on: np.ndarray
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-major run starts, ends and masks of (S, H, W) bool masks
    (see :func:`mask_runs`)."""
    s, h, w = on.shape
    n = h * w
    # key = mask * (n + 1) + column-major position of the transition
    keys = []
    if h > 1:  # a pixel vs the one above it
        vert = np.flatnonzero(on[:, 1:, :] != on[:, :-1, :])  # (S, H-1, W)
        m, rest = np.divmod(vert, (h - 1) * w)
        y, x = np.divmod(rest, w)
        keys.append(m * (n + 1) + x * h + y + 1)
    if w > 1:  # top of column x vs bottom of column x - 1
        wrap = np.flatnonzero(on[:, 0, 1:] != on[:, h - 1, :-1])
        m, x = np.divmod(wrap, w - 1)
        keys.append(m * (n + 1) + (x + 1) * h)
    first = np.flatnonzero(on[:, 0, 0])
    last = np.flatnonzero(on[:, h - 1, w - 1])
    keys += [first * (n + 1), last * (n + 1) + n]
    keys = np.sort(np.concatenate(keys).astype(np.int64, copy=False))
    mask_idx, pos = np.divmod(keys, n + 1)
    return pos[0::2], pos[1::2], mask_idx[0::2]


def _transitions_torch(on: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """:func:`_transitions_numpy` in torch (masks on a GPU)."""
    s, h, w = on.shape
    n = h * w
    m, y, x = (on[:, 1:, :] != on[:, :-1, :]).nonzero(as_tuple=True)
    keys = [m * (n + 1) + x * h + y + 1]  # empty when h == 1
    if w > 1:
        m, x = (on[:, 0, 1:] != on[:, h - 1, :-1]).nonzero(as_tuple=True)
        keys.append(m * (n + 1) + (x + 1) * h)
    keys.append(on[:, 0, 0].nonzero()[:, 0] * (n + 1))
    keys.append(on[:, h - 1, w - 1].nonzero()[:, 0] * (n + 1) + n)
    keys, _ = torch.sort(torch.cat(keys))
    mask_idx, pos = keys // (n + 1), keys % (n + 1)
    return pos[0::2], pos[1::2], mask_idx[0::2]


def mask_runs_from_rle(counts: ArrayLike,
                       offsets: ArrayLike,
                       image_size: Tuple[int, int],
                       device: Optional[Union[str, torch.device]] = None
                       ) -> MaskRuns:
    """Runs straight from SAM's uncompressed RLE (no dense masks).

    The RLE is SAM's / pycocotools' column-major format: runs alternate 0
    and 1 starting with 0, ``counts[offsets[i]:offsets[i+1]]`` are mask
    ``i``'s runs (the layout of
    :class:`mmwsss.io.mask_cache.SAMMaskRecord`).

    Args:
        counts (array-like): Concatenated run lengths of all masks.
        offsets (array-like): (S+1,) start of each mask's runs.
        image_size (tuple[int, int]): (H, W).
        device (str | torch.device, optional): Device of the result.

    Returns:
        MaskRuns: The masks' foreground runs.
    """
    h, w = int(image_size[0]), int(image_size[1])
    counts = np.asarray(counts, np.int64).reshape(-1)
    offsets = np.asarray(offsets, np.int64).reshape(-1)
    s = len(offsets) - 1
    if s < 0 or offsets[0] != 0 or offsets[-1] != len(counts) or np.any(
            np.diff(offsets) < 0):
        raise ValueError(
            f'RLE offsets must rise from 0 to len(counts)={len(counts)}, '
            f'got {offsets[:5].tolist()}...{offsets[-2:].tolist()}')
    owner = np.repeat(np.arange(s, dtype=np.int64), np.diff(offsets))
    totals = np.bincount(owner, weights=counts, minlength=s)
    if np.any(totals != h * w):
        bad = int(np.flatnonzero(totals != h * w)[0])
        raise ValueError(f'RLE of mask {bad} covers {int(totals[bad])} '
                         f'pixels, expected H*W = {h * w}')
    ends = np.cumsum(counts)
    mask_first = np.concatenate([[0], ends])[offsets[:-1]]
    starts = ends - counts - mask_first[owner]  # position inside the mask
    on = ((np.arange(len(counts)) - offsets[:-1][owner]) % 2 == 1) & (
        counts > 0)
    lengths, mask_idx = counts[on], owner[on]
    areas = np.bincount(mask_idx, weights=lengths,
                        minlength=s).astype(np.int64)
    return MaskRuns(
        torch.as_tensor(starts[on], device=device),
        torch.as_tensor(lengths, device=device),
        torch.as_tensor(mask_idx, device=device),
        torch.as_tensor(areas, device=device), (h, w))


def _as_runs(masks: Union[ArrayLike, MaskRuns],
             device: torch.device) -> MaskRuns:
    if isinstance(masks, MaskRuns):
        return masks.to(device)
    return mask_runs(masks, device=device)


def interval_max(starts: Tensor, ends: Tensor, values: Tensor,
                 length: int) -> Tensor:
    """Per position the max value of the intervals covering it.

    ``out[k] = max(values[i] for i with starts[i] <= k < ends[i])``, -1
    where no interval covers ``k``; values must be >= 0. Vectorised with an
    iterative segment tree: every interval is split at once into its
    O(log length) canonical nodes (one ``scatter_reduce_('amax')``), then
    the maxima are pushed down level by level (O(length)).

    Args:
        starts (Tensor): (R,) int64 first positions.
        ends (Tensor): (R,) int64 positions after the last.
        values (Tensor): (R,) int64 values >= 0.
        length (int): Number of positions.

    Returns:
        Tensor: (length,) int64.
    """
    n = int(length)
    tree = torch.full((2 * n, ), -1, dtype=torch.int64, device=starts.device)
    if starts.numel() and n:
        depth = int((ends - starts).max()).bit_length() + 1
        shift = torch.arange(depth, device=starts.device)
        lo = (starts[:, None] + n + (1 << shift) - 1) >> shift  # ceil
        hi = (ends[:, None] + n) >> shift  # floor
        inside = lo < hi
        left = torch.where(inside & (lo & 1 == 1), lo, 0)  # 0: unused
        right = torch.where(inside & (hi & 1 == 1), hi - 1, 0)
        vals = values[:, None].expand(-1, depth).reshape(-1)
        tree.scatter_reduce_(0, torch.cat([left.reshape(-1),
                                           right.reshape(-1)]),
                             torch.cat([vals, vals]), reduce='amax')
        tree[0] = -1
        d = 1
        while d < n:  # node i's children are 2i and 2i+1
            top = min(2 * d, n)
            child = tree[2 * d:2 * top].view(-1, 2)
            torch.maximum(child, tree[d:top, None], out=child)
            d *= 2
    return tree[n:]


# ----------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------
def resize_maps(maps: Tensor, size: Optional[Tuple[int, int]]) -> Tensor:
    """Bilinear resize of (P, h, w) maps as the reference does it.

    ``F.interpolate(maps[None], size, mode='bilinear',
    align_corners=False)[0]``, no antialias, skipped when ``size`` is None
    or already equal.

    Args:
        maps (Tensor): (P, h, w) float maps.
        size (tuple[int, int], optional): Target (H, W).

    Returns:
        Tensor: (P, H, W) maps.
    """
    if size is None or tuple(maps.shape[-2:]) == tuple(size):
        return maps
    if maps.shape[0] == 0:
        return maps.new_zeros((0, int(size[0]), int(size[1])))
    return F.interpolate(
        maps[None], size=(int(size[0]), int(size[1])), mode='bilinear',
        align_corners=False)[0]


def gather_mask_means(maps: Tensor,
                      runs: MaskRuns,
                      method: str = 'mean') -> Tensor:
    """Per-mask mean (or sum) of each map: ``g[p, s]``.

    Sums come from run sums of a column-major prefix sum of the maps
    (float64), so the cost grows with the number of runs, not of pixels;
    the result is cast back to the maps' dtype.

    Args:
        maps (Tensor): (P, H, W) float maps at the masks' size.
        runs (MaskRuns): The masks.
        method (str): ``'mean'`` (sum / area) or ``'sum'``.

    Returns:
        Tensor: (P, S) in the maps' dtype. Zero-area masks give 0.
    """
    p = maps.shape[0]
    h, w = runs.image_size
    if tuple(maps.shape[-2:]) != (h, w):
        raise ValueError(f'maps are {tuple(maps.shape[-2:])} but the masks '
                         f'{(h, w)}; resize the maps first')
    if method not in ('mean', 'sum'):
        raise ValueError(f"gather method must be 'mean' or 'sum', "
                         f'got {method!r}')
    colmajor = maps.to(torch.float64).transpose(1, 2).reshape(p, h * w)
    prefix = colmajor.new_zeros((p, h * w + 1))
    torch.cumsum(colmajor, dim=1, out=prefix[:, 1:])
    # index_select: much faster than advanced indexing on CPU
    run_sums = (prefix.index_select(1, runs.starts + runs.lengths) -
                prefix.index_select(1, runs.starts)).T  # (R, P)
    sums = run_sums.new_zeros((runs.num_masks, p)).index_add_(
        0, runs.mask_idx, run_sums).T
    if method == 'mean':
        areas = runs.areas.to(sums.dtype)
        sums = torch.where(areas > 0, sums / areas.clamp(min=1),
                           torch.zeros_like(sums))
    return sums.to(maps.dtype).contiguous()


def normalize_over_masks(g: Tensor,
                         valid: Optional[Tensor] = None,
                         eps: float = 1e-7) -> Tensor:
    """``N_S``: clamp at 0, min-max over the masks per class (eps 1e-7).

    Args:
        g (Tensor): (P, S) per-mask values.
        valid (Tensor, optional): (S,) bool; only valid masks enter the min
            and max, invalid ones get 0. Defaults to all valid.
        eps (float): Added to the range. Defaults to 1e-7.

    Returns:
        Tensor: (P, S) scores in [0, 1).
    """
    if valid is None or bool(valid.all()):
        if g.shape[1] == 0:
            return g.clone()
        return min_max_normalize(g, dim=1, thresh=0., eps=eps)
    out = torch.zeros_like(g)
    if bool(valid.any()):
        out[:, valid] = min_max_normalize(g[:, valid], dim=1, thresh=0.,
                                          eps=eps)
    return out


def mask_scores(maps: Tensor,
                runs: MaskRuns,
                norm_first: NormFirst = True,
                gather_method: str = 'mean') -> Tensor:
    """Foreground score of every mask and class (before the background).

    Args:
        maps (Tensor): (P, H, W) class maps at the masks' size.
        runs (MaskRuns): The masks.
        norm_first (bool | str | dict): How maps become scores:

            - ``True`` (FMA-WSSS): ``N_S(mean(max(maps, 0)))``.
            - ``False``: ``N_S(mean(maps))`` (negatives enter the means,
              the clamp happens inside ``N_S``).
            - ``'double_norm'``: ``N_S(mean(N_HW(maps)))``.
            - ``'no_norm'``: ``mean(maps)`` (e.g. probabilities).
            - ``{'method': 'gamma_softmax', 'gamma': g}``:
              ``mean(softmax_P(g * maps))``.
        gather_method (str): ``'mean'`` or ``'sum'``.

    Returns:
        Tensor: (P, S) scores.
    """
    valid = runs.areas > 0
    if norm_first is True:
        return normalize_over_masks(
            gather_mask_means(maps.clamp(min=0), runs, gather_method), valid)
    if norm_first is False:
        return normalize_over_masks(
            gather_mask_means(maps, runs, gather_method), valid)
    if norm_first == 'double_norm':
        normed = min_max_normalize(maps, dim=(1, 2), thresh=0., eps=1e-7) \
            if maps.shape[0] else maps
        return normalize_over_masks(
            gather_mask_means(normed, runs, gather_method), valid)
    if norm_first == 'no_norm':
        return gather_mask_means(maps, runs, gather_method)
    if isinstance(norm_first, dict) and \
            norm_first.get('method') == 'gamma_softmax':
        soft = torch.softmax(maps * float(norm_first['gamma']), dim=0)
        return gather_mask_means(soft, runs, gather_method)
    raise ValueError(
        "norm_first must be True, False, 'double_norm', 'no_norm' or "
        f"{{'method': 'gamma_softmax', 'gamma': g}}, got {norm_first!r}")


def add_background_score(fg_scores: Tensor,
                         bg_method: Dict[str, Any]) -> Tensor:
    """Prepend the background score: (P, S) -> (K, S).

    Args:
        fg_scores (Tensor): (P, S) per-mask class scores.
        bg_method (dict): One of

            - ``{'method': 'pow', 'pow': a}``: ``(1 - max_p S_c) ** a``
              (FMA-WSSS; 1 when P = 0).
            - ``{'method': 'thresh', 'thresh': t}``: a constant ``t``.
            - ``{'method': 'alpha_bg', 'alpha': a}``: channel 0 of
              ``fg_scores`` already IS the background (e.g. a segmentation
              model's probability); it is raised to ``a``, nothing added.
            - ``{'method': 'no_bg'}``: no background channel.

    Returns:
        Tensor: (K, S) scores, background first (K = P + 1, or P for
        ``alpha_bg`` / ``no_bg``).
    """
    method = bg_method.get('method') if isinstance(bg_method, dict) else None
    if method == 'pow':
        if fg_scores.shape[0]:
            top = fg_scores.amax(dim=0, keepdim=True)
        else:
            top = fg_scores.new_zeros((1, fg_scores.shape[1]))
        return torch.cat([(1 - top).pow(float(bg_method['pow'])), fg_scores])
    if method == 'thresh':
        bg = fg_scores.new_full((1, fg_scores.shape[1]),
                                float(bg_method['thresh']))
        return torch.cat([bg, fg_scores])
    if method == 'alpha_bg':
        if fg_scores.shape[0] == 0:
            raise ValueError("bg_method 'alpha_bg' needs the background as "
                             'channel 0 of the maps, got no channel')
        out = fg_scores.clone()
        out[0] = out[0].pow(float(bg_method['alpha']))
        return out
    if method == 'no_bg':
        return fg_scores
    raise ValueError(
        "bg_method must be {'method': 'pow', 'pow': a}, {'method': 'thresh',"
        " 'thresh': t}, {'method': 'alpha_bg', 'alpha': a} or "
        f"{{'method': 'no_bg'}}, got {bg_method!r}")


def classify_masks(scores: Tensor, fg_cls: Tensor,
                   has_bg: bool = True) -> Tuple[Tensor, Tensor]:
    """Argmax over the score channels, ties to the lowest index.

    Args:
        scores (Tensor): (K, S) scores, background first when ``has_bg``.
        fg_cls (Tensor): (P,) int64 0-based foreground class ids.
        has_bg (bool): Whether channel 0 is the background (label 0).
            Without it channel ``i`` gets label ``fg_cls[i] + 1``.

    Returns:
        tuple[Tensor, Tensor]: (S,) int64 labels (0 = background,
        ``fg_cls + 1``) and (S,) winning scores.
    """
    if scores.shape[0] == 0:
        raise ValueError('classify_masks needs at least one score channel')
    # argmax returns the first maximal index (torch.max documents no tie
    # rule), as the reference's torch.argmax
    idx = scores.argmax(dim=0)
    conf = scores.gather(0, idx[None])[0]
    lut = fg_cls.to(torch.int64) + 1
    if has_bg:
        lut = torch.cat([lut.new_zeros(1), lut])
    return lut[idx], conf


def priority_rank(levels: Tensor,
                  conf: Tensor,
                  areas: Optional[Tensor] = None,
                  priority: Sequence[str] = DEFAULT_PRIORITY) -> Tensor:
    """Painting rank of every mask: later (higher rank) paint wins.

    The rank is the position in a stable ascending sort on the priority
    keys (the reference's Python ``sorted``), so ties keep the input order.

    Args:
        levels (Tensor): (S,) SAM levels.
        conf (Tensor): (S,) confidences.
        areas (Tensor, optional): (S,) areas, for the ``area_*`` keys.
        priority (Sequence[str]): Keys, most significant first, among
            ``level_bigger``, ``level_smaller``, ``conf_bigger``,
            ``conf_smaller``, ``area_bigger``, ``area_smaller``.

    Returns:
        Tensor: (S,) int64 rank, a permutation of ``0..S-1``.
    """
    if isinstance(priority, str):
        priority = (priority, )
    s = levels.numel()
    order = torch.arange(s, device=levels.device)
    # least significant key first; each stable sort keeps earlier ties
    for key in reversed(tuple(priority)):
        if key not in _PRIORITY_KEYS:
            raise ValueError(f'unknown priority {key!r}, expected one of '
                             f'{_PRIORITY_KEYS}')
        name, direction = key.split('_')
        vals = {'level': levels, 'conf': conf, 'area': areas}[name]
        if vals is None:
            raise ValueError(f'priority {key!r} needs the mask areas')
        vals = vals.to(torch.float64)
        if direction == 'smaller':
            vals = -vals
        _, perm = torch.sort(vals[order], stable=True)
        order = order[perm]
    rank = torch.empty_like(order)
    rank[order] = torch.arange(s, device=order.device)
    return rank


def paint_masks(labels: Tensor, rank: Tensor, runs: MaskRuns,
                default: int = 0) -> Tuple[Tensor, Tensor]:
    """Paint mask labels; each pixel takes its highest-ranked covering mask.

    Equivalent to painting the masks one by one in ascending rank order,
    later paint overwriting, done as one :func:`interval_max` of the rank
    over the masks' runs.

    Args:
        labels (Tensor): (S,) integer label of each mask.
        rank (Tensor): (S,) int64 painting rank, a permutation of
            ``0..S-1`` (see :func:`priority_rank`).
        runs (MaskRuns): The masks.
        default (int): Value of uncovered pixels. Defaults to 0.

    Returns:
        tuple[Tensor, Tensor]: (H, W) label map in the labels' dtype and
        (H, W) int64 index of the painting mask (-1 where uncovered; a
        transposed view of a column-major tensor).
    """
    h, w = runs.image_size
    top = interval_max(runs.starts, runs.starts + runs.lengths,
                       rank.index_select(0, runs.mask_idx), h * w)
    top += 1  # 0: uncovered, else 1 + rank
    # lookups by 1 + rank, on the contiguous column-major vector
    by_rank = rank.new_full((rank.numel() + 1, ), -1)
    by_rank[rank + 1] = torch.arange(rank.numel(), device=rank.device)
    label_by_rank = labels.new_full((rank.numel() + 1, ), default)
    label_by_rank[rank + 1] = labels
    seed = label_by_rank.index_select(0, top).view(w, h).T.contiguous()
    mask_map = by_rank.index_select(0, top).view(w, h).T  # a view
    return seed, mask_map


# ----------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------
def sams_seed(cams: ArrayLike,
              masks: Union[ArrayLike, MaskRuns],
              levels: ArrayLike,
              fg_cls: ArrayLike,
              alpha: Optional[float] = None,
              image_size: Optional[Tuple[int, int]] = None,
              norm_first: NormFirst = True,
              bg_method: Optional[Dict[str, Any]] = None,
              gather_method: str = 'mean',
              priority: Sequence[str] = DEFAULT_PRIORITY) -> SAMSResult:
    """SAMS seed map of one image (the reference ``gather_norm_bg_argmax``).

    With the defaults and ``alpha`` this equals FMA-WSSS's
    ``gather_norm_bg_argmax(anns, cam, fg_cls, norm_first=True,
    gather_method='mean', bg_method={'method': 'pow', 'pow': alpha},
    priority=('level_bigger', 'conf_bigger'))`` (see the module docstring):
    ReLU, mean inside each mask, min-max over the masks per class, background
    ``(1 - max)^alpha``, argmax with ties to background / the earlier class,
    paint by (level, conf, input order), uncovered pixels 0.

    Args:
        cams (Tensor | np.ndarray): (P, h, w) float class maps of the
            classes ``fg_cls`` (with ``bg_method='alpha_bg'``: (1+P, h, w),
            background map first).
        masks (Tensor | np.ndarray | MaskRuns): (S, H, W) bool
            quasi-superpixels, or their :class:`MaskRuns`.
        levels (array-like): (S,) SAM level of each mask (0 sub-part,
            1 part, 2 whole).
        fg_cls (array-like): (P,) 0-based foreground class ids; seed values
            are ``fg_cls + 1`` (must be <= 254).
        alpha (float, optional): Background exponent; shorthand for
            ``bg_method={'method': 'pow', 'pow': alpha}``.
        image_size (tuple[int, int], optional): (H, W) of the masks; the
            maps are resized to it (bilinear, align_corners=False, skipped
            when equal). Defaults to the masks' size.
        norm_first (bool | str | dict): See :func:`mask_scores`.
        bg_method (dict, optional): See :func:`add_background_score`.
        gather_method (str): ``'mean'`` or ``'sum'``.
        priority (Sequence[str]): Painting priority (see
            :func:`priority_rank`).

    Returns:
        SAMSResult: ``seed`` (H, W) uint8 on the maps' device, ``scores``
        (S, K), ``labels`` (S,) int64, ``conf`` (S,).
    """
    if (alpha is None) == (bg_method is None):
        raise ValueError('give exactly one of alpha (pow background) and '
                         f'bg_method, got alpha={alpha!r}, '
                         f'bg_method={bg_method!r}')
    if bg_method is None:
        bg_method = {'method': 'pow', 'pow': float(alpha)}
    cams = torch.as_tensor(cams)
    if not cams.is_floating_point() or cams.dtype in (torch.float16,
                                                      torch.bfloat16):
        cams = cams.float()
    if cams.dim() != 3:
        raise ValueError(f'cams must be (P, h, w), got {tuple(cams.shape)}')
    device = cams.device
    fg_cls = torch.as_tensor(np.asarray(fg_cls) if not isinstance(
        fg_cls, Tensor) else fg_cls).to(device=device,
                                         dtype=torch.int64).reshape(-1)
    has_bg = bg_method.get('method') != 'no_bg'
    n_maps = fg_cls.numel() + (1 if bg_method.get('method') == 'alpha_bg'
                                else 0)
    if cams.shape[0] != n_maps:
        raise ValueError(f'cams has {cams.shape[0]} maps but fg_cls has '
                         f'{fg_cls.numel()} classes (bg_method '
                         f"{bg_method.get('method')!r} needs {n_maps} maps)")
    if fg_cls.numel() and (int(fg_cls.min()) < 0 or int(fg_cls.max()) > 254):
        raise ValueError('fg_cls must be 0-based class ids in [0, 254] for '
                         f'a uint8 seed, got {fg_cls.tolist()}')
    runs = _as_runs(masks, device)
    if image_size is not None and tuple(image_size) != runs.image_size:
        raise ValueError(f'image_size {tuple(image_size)} differs from the '
                         f'masks\' size {runs.image_size}')
    levels = torch.as_tensor(np.asarray(levels) if not isinstance(
        levels, Tensor) else levels).to(device).reshape(-1)
    if levels.numel() != runs.num_masks:
        raise ValueError(f'{levels.numel()} levels for {runs.num_masks} '
                         'masks')
    maps = resize_maps(cams, runs.image_size)
    fg = mask_scores(maps, runs, norm_first, gather_method)  # (P', S)
    scores = add_background_score(fg, bg_method)  # (K, S)
    valid = runs.areas > 0
    if not bool(valid.all()):  # zero-area masks: zero scores, background
        scores = torch.where(valid[None], scores, torch.zeros_like(scores))
    if has_bg:
        labels, conf = classify_masks(scores, fg_cls, has_bg=True)
        labels = torch.where(valid, labels, torch.zeros_like(labels))
    elif scores.shape[0]:
        labels, conf = classify_masks(scores, fg_cls, has_bg=False)
    else:
        labels = torch.zeros(runs.num_masks, dtype=torch.int64,
                             device=device)
        conf = maps.new_zeros(runs.num_masks)
    rank = priority_rank(levels, conf, runs.areas, priority)
    seed, mask_map = paint_masks(labels.to(torch.uint8), rank, runs)
    return SAMSResult(
        seed=seed,
        scores=scores.T,
        labels=labels,
        conf=conf,
        mask_map=mask_map)


def sams_seed_from_record(cams: ArrayLike, record: Any, fg_cls: ArrayLike,
                          alpha: Optional[float] = None,
                          **kwargs) -> SAMSResult:
    """:func:`sams_seed` with the masks of a ``SAMMaskRecord``.

    Reads the record's RLE straight into :class:`MaskRuns` (no dense
    masks) and uses its levels and image size.

    Args:
        cams (Tensor | np.ndarray): (P, h, w) class maps.
        record (SAMMaskRecord): Cached quasi-superpixels of the image
            (``counts``, ``offsets``, ``levels``, ``image_size``).
        fg_cls (array-like): (P,) 0-based foreground class ids.
        alpha (float, optional): Background exponent.
        **kwargs: Other :func:`sams_seed` arguments.

    Returns:
        SAMSResult: As :func:`sams_seed`.
    """
    device = cams.device if isinstance(cams, Tensor) else None
    runs = mask_runs_from_rle(record.counts, record.offsets,
                              record.image_size, device=device)
    levels = torch.as_tensor(np.asarray(record.levels, np.int64))
    return sams_seed(cams, runs, levels, fg_cls, alpha=alpha, **kwargs)
