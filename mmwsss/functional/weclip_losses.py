"""WeCLIP / WeCLIP+ training step: affinity labels and loss, the balanced
segmentation loss, the dice loss, self-correction and the LR factor.

Pure tensor code (torch, numpy): no OpenMMLab imports. Spec sections 2.10
and 2.11 (the authors' ``scripts/dist_clip_voc.py``, ``utils/camutils.py``,
``utils/losses.py``, ``WeCLIP_Plus/dice_loss.py``, ``utils/optimizer.py``).
WeCLIP+'s step, with ``pseudo`` the CAM labels (B, H, W)::

    aff_label = cams_to_affinity_label(pseudo, radius_mask(h, w, 8))
    attn_loss = affinity_loss(attn_pred, aff_label)
    pseudo    = self_correct_labels(pseudo, softmax(segs))   # step > 18000
    loss      = balanced_seg_loss(segs, pseudo)
                + weclip_dice_loss(segs, pseudo, C)
                + 0.1 * attn_loss
                + 0.1 * (balanced_seg_loss(seg_clip, argmax seg_dino)
                         + balanced_seg_loss(seg_dino, argmax seg_clip))
    lr        = lr0 * poly_warmup_factor(step)
"""
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'radius_mask', 'cams_to_affinity_label', 'affinity_loss',
    'balanced_seg_loss', 'weclip_dice_loss', 'self_correct_labels',
    'poly_warmup_factor'
]

_EMPTY = ('nan', 'zero')


def radius_mask(h: int, w: int, radius: int = 8) -> Tensor:
    """Patch pairs within a square radius (``get_mask_by_radius``).

    Args:
        h (int): Patch rows.
        w (int): Patch columns.
        radius (int): Chebyshev radius in patches. Defaults to 8.

    Returns:
        Tensor: (h*w, h*w) float32, 1 iff ``|row_i - row_j| <= radius`` and
        ``|col_i - col_j| <= radius`` (row-major patch index), else 0.
    """
    idx = torch.arange(h * w)
    rows, cols = idx // w, idx % w
    near = ((rows[:, None] - rows[None]).abs() <= radius) & \
        ((cols[:, None] - cols[None]).abs() <= radius)
    return near.float()


def cams_to_affinity_label(labels: Tensor,
                           mask: Optional[Union[Tensor, np.ndarray]] = None,
                           ignore_index: int = 255,
                           patch: int = 16) -> Tensor:
    """Pairwise affinity labels of label maps (``cams_to_affinity_label``).

    The labels are resized with torch's ``nearest`` to (H // patch,
    W // patch) (source pixel ``floor(i * H / (H // patch))``); pair (i, j)
    gets 1 if the two patch labels are equal, else 0; pairs with
    ``mask == 0`` get ``ignore_index``; then every row and column of a
    patch labelled ``ignore_index`` gets ``ignore_index``.

    Args:
        labels (Tensor): (B, H, W) label maps.
        mask (Tensor | np.ndarray, optional): (hw, hw) pair mask
            (:func:`radius_mask`); None keeps every pair.
        ignore_index (int): Defaults to 255.
        patch (int): Patch size (``clip_flag``). Defaults to 16.

    Returns:
        Tensor: (B, hw, hw) long in {0, 1, ignore_index}.
    """
    if labels.dim() != 3:
        raise ValueError(f'cams_to_affinity_label expects (B, H, W), got '
                         f'{tuple(labels.shape)}')
    B, H, W = labels.shape
    small = F.interpolate(
        labels[:, None].float(), size=(H // patch, W // patch), mode='nearest')
    lab = small.reshape(B, -1)  # (B, hw)
    aff = (lab[:, None, :] == lab[:, :, None]).long()
    if mask is not None:
        mask = torch.as_tensor(mask, device=aff.device)
        if tuple(mask.shape) != tuple(aff.shape[1:]):
            raise ValueError(
                'cams_to_affinity_label: mask must be '
                f'{tuple(aff.shape[1:])}, got {tuple(mask.shape)}')
        aff = aff.masked_fill(mask[None] == 0, ignore_index)
    ignored = lab == ignore_index  # (B, hw)
    aff = aff.masked_fill(ignored[:, None, :] | ignored[:, :, None],
                          ignore_index)
    return aff


def affinity_loss(attn_pred: Tensor, aff_label: Tensor) -> Tensor:
    """The authors' ``get_aff_loss`` (its loss only, not the counts).

    ``0.5 * sum_{label=1} (1 - p) / (n1 + 1) + 0.5 * sum_{label=0} p /
    (n0 + 1)``, sums and counts over the whole batch; other labels
    (``ignore_index``) are left out.

    Args:
        attn_pred (Tensor): (B, hw, hw) predicted affinity in [0, 1].
        aff_label (Tensor): (B, hw, hw) labels from
            :func:`cams_to_affinity_label`.

    Returns:
        Tensor: Scalar loss.
    """
    pos = (aff_label == 1).to(attn_pred.dtype)
    neg = (aff_label == 0).to(attn_pred.dtype)
    pos_loss = (pos * (1 - attn_pred)).sum() / (pos.sum() + 1)
    neg_loss = (neg * attn_pred).sum() / (neg.sum() + 1)
    return 0.5 * pos_loss + 0.5 * neg_loss


def _ce_mean(logits: Tensor, target: Tensor, ignore_index: int,
             empty: str) -> Tensor:
    if empty == 'nan':  # the authors' mean: 0/0 when every pixel is ignored
        return F.cross_entropy(logits, target, ignore_index=ignore_index)
    total = F.cross_entropy(
        logits, target, ignore_index=ignore_index, reduction='sum')
    return total / (target != ignore_index).sum().clamp(min=1)


def balanced_seg_loss(logits: Tensor,
                      labels: Tensor,
                      ignore_index: int = 255,
                      empty: str = 'nan') -> Tensor:
    """The authors' ``get_seg_loss``: background and foreground weighted
    equally.

    ``0.5 * (CE over pixels labelled 0 + CE over pixels labelled > 0)``,
    each a mean over its own pixels, ``ignore_index`` left out of both.
    The authors' code returns nan when either set is empty (an image
    batch with no background pixel, or none of any class); ``empty='zero'``
    gives that term 0 instead (still differentiable), so a training loop
    does not propagate nan.

    Args:
        logits (Tensor): (B, C, H, W) logits.
        labels (Tensor): (B, H, W) labels in [0, C) or ``ignore_index``.
        ignore_index (int): Defaults to 255.
        empty (str): 'nan' (the authors', default) or 'zero'.

    Returns:
        Tensor: Scalar loss.
    """
    if empty not in _EMPTY:
        raise ValueError(f'balanced_seg_loss: empty must be one of {_EMPTY},'
                         f' got {empty!r}')
    labels = labels.long()
    bg = labels.masked_fill(labels != 0, ignore_index)
    fg = labels.masked_fill(labels == 0, ignore_index)
    return 0.5 * (
        _ce_mean(logits, bg, ignore_index, empty) +
        _ce_mean(logits, fg, ignore_index, empty))


def weclip_dice_loss(logits: Tensor,
                     labels: Tensor,
                     num_classes: int,
                     ignore_index: int = 255) -> Tensor:
    """WeCLIP+'s ``DiceLoss`` (``dice_loss.py``), without its side effect.

    Ignored pixels become an extra class C whose one-hot channel is
    dropped; ``p = softmax(logits)``; per class, over batch and pixels,
    ``inter = sum p * onehot``, ``union = sum p + sum onehot`` (ignored
    pixels still add their probabilities: the authors' ``valid_region``
    compares the rewritten target with 255 and so never masks anything);
    ``loss = 1 - mean_c 2 * inter / (union + 1e-7)`` over all C classes.

    The authors rewrite ``target[target == 255] = C`` in place, on the very
    tensor the model returned as CAM labels (``.type(torch.long)`` of a
    long tensor is itself). That changes nothing downstream: WeCLIP's CAM
    labels never hold 255, the other losses of the step were computed
    before, and the only later read (the logged pseudo-label accuracy)
    compares with predictions in [0, C), which equal neither 255 nor C.
    Here the labels are copied, so the caller's tensor is left as it is.

    Args:
        logits (Tensor): (B, C, H, W) logits.
        labels (Tensor): (B, H, W) labels in [0, C) or ``ignore_index``.
        num_classes (int): C, must equal ``logits.shape[1]``.
        ignore_index (int): Defaults to 255.

    Returns:
        Tensor: Scalar loss.
    """
    if logits.dim() != 4 or logits.shape[1] != num_classes:
        raise ValueError(f'weclip_dice_loss: logits must be (B, {num_classes}'
                         f', H, W), got {tuple(logits.shape)}')
    target = labels.long().masked_fill(labels == ignore_index, num_classes)
    onehot = F.one_hot(target, num_classes + 1)[..., :num_classes]
    onehot = onehot.permute(0, 3, 1, 2).to(logits.dtype)
    prob = F.softmax(logits, dim=1)
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    union = (prob + onehot).sum(dim=(0, 2, 3))
    return 1. - (2. * inter / (union + 1e-7)).mean()


def self_correct_labels(labels: Tensor,
                        probs: Tensor,
                        threshold: float = 0.75) -> Tensor:
    """WeCLIP+'s self-correction (spec 2.10 step 7), on a copy.

    Where the prediction's top probability is strictly above
    ``threshold``, the label becomes the predicted class.

    Args:
        labels (Tensor): (B, H, W) pseudo labels.
        probs (Tensor): (B, C, H, W) softmax of the combined logits.
        threshold (float): Defaults to 0.75.

    Returns:
        Tensor: (B, H, W) new labels, the dtype of ``labels``.
    """
    if probs.dim() != 4 or probs.shape[:1] + probs.shape[2:] != labels.shape:
        raise ValueError('self_correct_labels expects labels (B, H, W) and '
                         f'probs (B, C, H, W), got {tuple(labels.shape)} and '
                         f'{tuple(probs.shape)}')
    p_max, p_lab = probs.max(dim=1)
    confident = p_max > threshold
    return torch.where(confident, p_lab.to(labels.dtype), labels)


def poly_warmup_factor(step: int,
                       warmup_iters: int = 50,
                       max_iters: int = 30000,
                       warmup_ratio: float = 1e-6,
                       power: float = 1.0) -> float:
    """LR multiplier of the authors' ``PolyWarmupAdamW`` at 0-based ``step``.

    ``s < warmup_iters``: ``1 - (1 - s / warmup_iters) * (1 -
    warmup_ratio)``; else ``s < max_iters``: ``(1 - s / max_iters) **
    power``; else the LR is left as the last step set it, i.e. the factor
    of step ``max(warmup_iters, max_iters) - 1`` (1.0 if no step ever set
    it).

    Args:
        step (int): 0-based optimiser step.
        warmup_iters (int): Defaults to 50.
        max_iters (int): Defaults to 30000.
        warmup_ratio (float): Defaults to 1e-6.
        power (float): Defaults to 1.0.

    Returns:
        float: The factor ``m`` with ``lr = lr0 * m``.
    """
    if step < 0:
        raise ValueError(f'poly_warmup_factor: step must be >= 0, got {step}')
    last = max(warmup_iters, max_iters) - 1
    if last < 0:
        return 1.0
    s = min(step, last)
    if s < warmup_iters:
        return 1 - (1 - s / warmup_iters) * (1 - warmup_ratio)
    return (1 - s / max_iters)**power
