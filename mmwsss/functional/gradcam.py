"""Softmax-GradCAM for CLIP (CLIP-ES eqs. 1-3), batched and optionally
differentiable, plus the min-max normalisation shared by CAA and seeding.

Pure tensor code: no OpenMMLab imports.

Pipeline as the FMA-WSSS / CLIP-ES code computes it::

    logits (B, K)  = CLIP image embedding . text embeddings of G fg + Q bg
    scores (B, K)  = softmax over the PRESENT fg classes and ALL bg classes
                     (FMA-WSSS: AlchemyCat's masked softmax, max over all K
                     logits, eps 1e-5; CLIP-ES: an exact softmax)
    w[p]   (C,)    = mean over the L patch tokens of
                     d scores[b, k] / d target[b, 1:]
    cam[p] (h, w)  = sum_C w[p] * target[b, 1:]     (target detached)

for every pair ``p = (b, k)``. ``target`` is the token features entering the
last ViT block (its ``ln_1`` output), with the class token at index 0.
"""
import warnings
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'SOFTMAX_MODES', 'masked_softmax', 'softmax_scores', 'grad_cam',
    'min_max_normalize', 'normalized_at_size'
]

#: Softmax variants before GradCAM, see :func:`softmax_scores`.
SOFTMAX_MODES = ('global_max', 'exact')


def masked_softmax(logits: Tensor, mask: Tensor, eps: float = 1e-5) -> Tensor:
    """AlchemyCat's ``MaskedSoftmax(dim=-1, epsilon=eps)`` (FMA-WSSS).

    ``e = exp(x - max(x)) * mask`` with the max over ALL entries of the row
    (masked ones included), then ``p = e / (sum(e) + eps)``. The max is
    ``torch.max`` (its gradient goes to one arg-max entry, as in the
    reference). Unlike a softmax over the unmasked entries only, the result
    depends on the masked logits through the max and the eps: when a masked
    entry tops the row by d, the unmasked ``e`` shrink by ``exp(-d)`` and the
    eps weighs ``exp(d)`` times more.

    Args:
        logits (Tensor): (..., K) logits.
        mask (Tensor): (..., K) 0/1 (bool or float) entries to keep.
        eps (float): Added to the denominator. Defaults to 1e-5.

    Returns:
        Tensor: (..., K) scores, 0 where ``mask`` is 0.
    """
    top = torch.max(logits, dim=-1, keepdim=True)[0]
    e = torch.exp(logits - top) * mask.to(logits.dtype)
    return e / (e.sum(dim=-1, keepdim=True) + eps)


def softmax_scores(logits: Tensor,
                   fg_present: Tensor,
                   mode: str = 'global_max',
                   eps: float = 1e-5) -> Tensor:
    """Softmax over the present foreground classes plus all background
    classes, per image (CLIP-ES eq. 2), the scores GradCAM differentiates.

    Modes:

    - ``'global_max'`` (FMA-WSSS, the default): :func:`masked_softmax` with
      mask = the present foreground classes on the first G entries and 1 on
      every background entry (``sm_fg_exist=True``), eps ``eps``, max over
      all K logits (absent classes included).
    - ``'exact'`` (CLIP-ES, whose text features hold only the present
      classes and the background ones): absent foreground classes are
      masked to ``-inf``, so they take no part and the present scores sum
      to 1. A row with nothing to normalise (no present fg class and
      ``Q == 0``) yields zeros instead of NaN.

    The two agree to ~1e-5 while a kept class holds the top logit; when an
    absent class tops the logits, ``'global_max'`` scores shrink.

    Args:
        logits (Tensor): (B, K) logits, the first G columns foreground
            classes, the remaining ``Q = K - G`` background classes.
        fg_present (Tensor): (B, G) bool (or 0/1), True where the
            foreground class is in the image.
        mode (str): ``'global_max'`` or ``'exact'``.
        eps (float): Denominator eps of ``'global_max'``. Defaults to 1e-5.

    Returns:
        Tensor: (B, K) scores, differentiable w.r.t. ``logits``; 0 for the
        absent foreground classes.
    """
    if logits.dim() != 2 or fg_present.dim() != 2:
        raise ValueError('softmax_scores expects logits (B, K) and '
                         f'fg_present (B, G), got {tuple(logits.shape)} and '
                         f'{tuple(fg_present.shape)}')
    if mode not in SOFTMAX_MODES:
        raise ValueError(f'softmax_scores: mode must be one of '
                         f'{SOFTMAX_MODES}, got {mode!r}')
    B, K = logits.shape
    G = fg_present.shape[1]
    if fg_present.shape[0] != B or G > K:
        raise ValueError(f'fg_present {tuple(fg_present.shape)} does not fit '
                         f'logits {tuple(logits.shape)} (need (B, G<=K))')
    allowed = torch.ones_like(logits, dtype=torch.bool)
    allowed[:, :G] = fg_present.to(device=logits.device, dtype=torch.bool)
    if mode == 'global_max':
        return masked_softmax(logits, allowed, eps=eps)
    masked = logits.masked_fill(~allowed, float('-inf'))
    # Rows with nothing allowed would be softmax(-inf, ..., -inf) = NaN:
    # feed them zeros and zero the result, so no NaN ever enters a graph.
    empty = ~allowed.any(dim=1, keepdim=True)
    masked = masked.masked_fill(empty, 0.)
    return masked.softmax(dim=1) * allowed.to(logits.dtype)


def _slot_selectors(pairs: Tensor, scores: Tensor) -> Tuple[Tensor, Tensor]:
    """Pack pairs into as few one-hot selectors as possible.

    Samples are independent, so one selector can hold one pair of every
    image: slot j holds the j-th pair of each image.

    Returns:
        tuple[Tensor, Tensor]: selectors (J, B, K) and the slot index (P,)
        of every pair.
    """
    P = pairs.shape[0]
    b = pairs[:, 0]
    # rank of each pair among the pairs of its image, in input order
    same = b[:, None] == b[None, :]
    earlier = torch.ones(
        P, P, dtype=torch.bool, device=pairs.device).tril(diagonal=-1)
    slot = (same & earlier).sum(dim=1)
    J = int(slot.max()) + 1
    sel = scores.new_zeros((J, ) + tuple(scores.shape))
    sel[slot, b, pairs[:, 1]] = 1
    return sel, slot


def grad_cam(target: Tensor,
             scores: Tensor,
             pairs: Tensor,
             grid: Sequence[int],
             create_graph: bool = False,
             relu: bool = False,
             retain_graph: bool = True,
             samples_independent: bool = True) -> Tensor:
    """Softmax-GradCAM of many (image, class) pairs from one batched backward.

    For pair ``p = (b, k)``::

        g      = d scores[b, k] / d target[b, 1:]          # (L, C)
        w      = g.mean(0)                                  # (C,)
        cam[p] = (target[b, 1:].detach() @ w).view(h, w)    # row-major grid

    All pairs come from ONE ``torch.autograd.grad(..., is_grads_batched=True)``
    call with one-hot ``grad_outputs``. With ``samples_independent`` (the
    default, true for CLIP: ``scores[b]`` depends on ``target[b]`` only) one
    selector carries one pair of every image, so the batch size of the
    backward is the largest number of pairs of one image, not P.

    With ``create_graph=True`` the channel weights keep their graph (second
    order GradCAM, so a loss on the CAMs trains e.g. the text prompts),
    while the activations are detached, as the FMA-WSSS code does. The
    graph must be twice differentiable: torch's fused CPU attention
    (``scaled_dot_product_attention`` flash kernel) has no double backward,
    so the attention of the blocks after ``target`` must be computed
    explicitly (e.g. ``nn.MultiheadAttention(..., need_weights=True)``).
    If vmap cannot batch the double backward of some op, the pairs are
    computed in a loop over selectors instead (same values, a warning).

    Args:
        target (Tensor): (B, 1+L, C) tokens with ``requires_grad`` from which
            ``scores`` was computed; token 0 (CLS) is not used.
        scores (Tensor): (B, K) scores computed from ``target``
            (see :func:`softmax_scores`).
        pairs (Tensor): (P, 2) long, rows ``(b, k)``: image index and class
            column of ``scores``. Output order follows this order.
        grid (Sequence[int]): Patch grid ``(h, w)`` with ``h * w == L``.
        create_graph (bool): Keep the graph of the weights (second order).
            Defaults to False.
        relu (bool): ReLU the CAMs (not used in the loss path).
            Defaults to False.
        retain_graph (bool): Keep the forward graph after the call, e.g. for
            a loss on the logits. Forced True with ``create_graph``.
            Defaults to True.
        samples_independent (bool): Pack one pair per image into each
            selector (valid when images do not interact). False: one
            selector per pair. Defaults to True.

    Returns:
        Tensor: (P, h, w) CAMs in ``promote(target.dtype, float32)``; they
        carry a graph only with ``create_graph=True``.
    """
    pairs, (h, w) = _check_inputs(target, scores, pairs, grid)
    out_dtype = torch.promote_types(target.dtype, torch.float32)
    P = pairs.shape[0]
    if P == 0:
        return target.new_zeros((0, h, w), dtype=out_dtype)
    if samples_independent:
        sel, slot = _slot_selectors(pairs, scores)
    else:
        sel = scores.new_zeros((P, ) + tuple(scores.shape))
        slot = torch.arange(P, device=pairs.device)
        sel[slot, pairs[:, 0], pairs[:, 1]] = 1
    grads = _batched_grads(scores, target, sel, create_graph,
                           retain_graph or create_graph)  # (J, B, 1+L, C)
    b = pairs[:, 0]
    g = grads[slot.to(grads.device), b.to(grads.device), 1:]  # (P, L, C)
    weights = g.to(out_dtype).mean(dim=1)  # (P, C)
    act = target.detach()[b.to(target.device), 1:].to(out_dtype)  # (P, L, C)
    cams = torch.einsum('plc,pc->pl', act, weights).reshape(P, h, w)
    if relu:
        cams = cams.clamp(min=0)
    return cams


def _check_inputs(target: Tensor, scores: Tensor, pairs: Tensor,
                  grid: Sequence[int]) -> Tuple[Tensor, Tuple[int, int]]:
    """Validate :func:`grad_cam`'s inputs.

    Returns:
        tuple: ``pairs`` as a long tensor on the scores' device, and the
        grid ``(h, w)`` as ints.
    """
    if target.dim() != 3:
        raise ValueError('grad_cam: target must be (B, 1+L, C), got '
                         f'{tuple(target.shape)}')
    if not target.requires_grad:
        raise ValueError('grad_cam: target must require grad (it is the '
                         'tensor the scores were computed from)')
    B, T, C = target.shape
    h, w = (int(v) for v in grid)
    L = T - 1
    if h * w != L:
        raise ValueError(f'grad_cam: grid {(h, w)} does not match the {L} '
                         f'patch tokens of target {tuple(target.shape)}')
    if scores.dim() != 2 or scores.shape[0] != B:
        raise ValueError(f'grad_cam: scores {tuple(scores.shape)} must be '
                         f'(B={B}, K)')
    pairs = torch.as_tensor(pairs, dtype=torch.long, device=scores.device)
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise ValueError('grad_cam: pairs must be (P, 2) of (image, class), '
                         f'got {tuple(pairs.shape)}')
    if pairs.shape[0] and (
            (pairs[:, 0] < 0).any() or (pairs[:, 0] >= B).any() or
            (pairs[:, 1] < 0).any() or (pairs[:, 1] >= scores.shape[1]).any()):
        raise ValueError('grad_cam: pairs index outside scores '
                         f'{tuple(scores.shape)}')
    return pairs, (h, w)


def _batched_grads(scores: Tensor, target: Tensor, sel: Tensor,
                   create_graph: bool, retain: bool) -> Tensor:
    """``d (scores * sel[j]).sum() / d target`` for every selector ``j``.

    One ``is_grads_batched`` backward; if vmap cannot batch a double
    backward (``create_graph``), a loop over the selectors (same values, a
    warning).

    Returns:
        Tensor: (J, B, 1+L, C) gradients.
    """
    try:
        return torch.autograd.grad(
            scores,
            target,
            grad_outputs=sel,
            is_grads_batched=True,
            retain_graph=retain,
            create_graph=create_graph)[0]
    except RuntimeError as err:
        if not create_graph:
            raise
        warnings.warn('grad_cam: batched double backward failed '
                      f'({err}); computing the selectors in a loop')
        return torch.stack([
            torch.autograd.grad(
                scores,
                target,
                grad_outputs=s,
                retain_graph=True,
                create_graph=True)[0] for s in sel
        ])


def min_max_normalize(cams: Tensor,
                      dim: Union[int, Sequence[int]] = (-2, -1),
                      thresh: Optional[float] = 0.,
                      eps: float = 1e-7) -> Tensor:
    """Min-max normalisation ``N_D`` of the reference code (``min_max_norm``).

    ``x' = max(x, thresh)`` (skipped when ``thresh`` is None), then
    ``(x' - min_D x') / (max_D x' - min_D x' + eps)`` in the input dtype,
    min and max taken per remaining index. With ``thresh=0`` every value
    lies in [0, 1), an all-<=0 or constant map gives zeros, and the maximum
    maps to ``r / (r + eps)`` for a range r.

    Args:
        cams (Tensor): Maps, e.g. (P, h, w).
        dim (int | Sequence[int]): Dimensions normalised together.
            Defaults to the last two.
        thresh (float, optional): Lower clamp before normalising.
            Defaults to 0.
        eps (float): Added to the range. Defaults to 1e-7.

    Returns:
        Tensor: Normalised maps, same shape and dtype.
    """
    x = cams if thresh is None else cams.clamp(min=thresh)
    dims = (dim, ) if isinstance(dim, int) else tuple(dim)
    lo = x.amin(dim=dims, keepdim=True)
    hi = x.amax(dim=dims, keepdim=True)
    return (x - lo) / (hi - lo + eps)


def normalized_at_size(cams: Tensor, size: Tuple[int, int]) -> Tensor:
    """Seed-ready maps: ReLU, bilinear resize to ``size``
    (``align_corners=False``, skipped when equal), then
    :func:`min_max_normalize` per class (CLIP-ES's post-processing).

    Args:
        cams (Tensor): (P, h, w) raw or refined CAMs.
        size (tuple[int, int]): Output (H, W).

    Returns:
        Tensor: (P, H, W) maps in [0, 1).
    """
    cams = cams.clamp(min=0)
    if cams.shape[0] and tuple(cams.shape[-2:]) != tuple(size):
        cams = F.interpolate(
            cams[None], size=tuple(size), mode='bilinear',
            align_corners=False)[0]
    return min_max_normalize(cams)
