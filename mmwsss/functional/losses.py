"""FMA-WSSS losses: multi-label contrastive loss (MCL, eq. 12) and CAM
activation loss (CAL, eqs. 13-15), as the authors' code computes them
(``MultiLabelCLLoss`` and ``CAMIntensityLoss``).

Pure torch: no OpenMMLab imports. The registered ``nn.Module`` wrappers
(``loss_weight``, ``loss_name``) are in :mod:`mmwsss.models.losses`.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['mcl_loss', 'cal_loss']


def mcl_loss(logits: Tensor,
             labels: Tensor,
             gamma: Optional[float] = None,
             reduce: str = 'pos_mean') -> Tensor:
    """Multi-label contrastive loss (reference ``MultiLabelCLLoss``).

    Anchors are the rows with at least one positive (label 1) and one
    negative (label 0). With ``S = gamma * logits`` (or ``logits``), every
    positive ``(n, c)`` of an anchor row contributes::

        l_nc = -(S_nc - log(exp(S_nc) + sum_{c' negative in row n} exp(S_nc')))

    ``'pos_mean'``: mean of l over all those positives (rows with more
    positives weigh more). ``'sample_mean'``: per anchor row the mean over
    its positives, then the mean over anchor rows.

    Deviation from the reference: it evaluates exp then log literally, which
    overflows to inf (loss NaN) for logits above ~88.7 in float32; here the
    same quantity is computed with logsumexp (identical values on normal
    inputs, finite for any finite input).

    Args:
        logits (Tensor): (N, G) foreground logits (e.g. 100 * cosine).
        labels (Tensor): (N, G) 0/1 image-level labels.
        gamma (float, optional): Scale of the logits. Defaults to None.
        reduce (str): 'pos_mean' or 'sample_mean'. Defaults to 'pos_mean'.

    Returns:
        Tensor: Scalar loss; 0 with zero gradient when no row is an anchor.
    """
    if reduce not in ('pos_mean', 'sample_mean'):
        raise ValueError("mcl_loss reduce must be 'pos_mean' or "
                         f"'sample_mean', got {reduce!r}")
    if logits.dim() != 2 or labels.shape != logits.shape:
        raise ValueError(f'mcl_loss expects logits (N, G) and labels of the '
                         f'same shape, got {tuple(logits.shape)} and '
                         f'{tuple(labels.shape)}')
    labels = labels.to(logits.device)
    pos = labels == 1
    neg = labels == 0
    anchors = pos.any(dim=1) & neg.any(dim=1)
    if not bool(anchors.any()):
        return logits.sum() * 0
    S = logits[anchors]
    if gamma is not None:
        S = gamma * S
    pos, neg = pos[anchors], neg[anchors]
    # log sum_{negatives} exp(S), finite: every anchor row has a negative
    neg_lse = S.masked_fill(~neg, float('-inf')).logsumexp(dim=1,
                                                           keepdim=True)
    loss = torch.logaddexp(S, neg_lse) - S  # (A, G), used at positives only
    if reduce == 'pos_mean':
        return loss[pos].mean()
    per_row = (loss * pos).sum(dim=1) / pos.sum(dim=1)
    return per_row.mean()


def cal_loss(pos_cam: Tensor,
             fg_cls_lb: Tensor,
             lb: Tensor,
             loss_type: str = 'l1',
             reduce: str = 'all',
             detach_max: bool = True,
             bg_thresh: float = 0.,
             ignore_index: int = 255,
             eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """CAM activation loss (reference ``CAMIntensityLoss``).

    Pairs ``p = (n, c)`` are ``torch.nonzero(fg_cls_lb)`` in row-major order;
    ``pos_cam[p]`` is the raw CAM of class c of sample n. CAMs are upsampled
    bilinearly (``align_corners=False``) to ``lb``'s size when it differs.
    Per pair, with ``F = [lb_n == c+1]`` and ``B = [lb_n != c+1 and
    lb_n != ignore_index]`` (other classes count as background, ignored
    pixels in neither)::

        m    = max(0, max(cam * F))            (detached if detach_max)
        fg_d = m - cam * F
        bg_d = max(cam * B, t) - t             (ReLU(cam - t) on B)
        fg_l = |fg_d| * F,  bg_l = |bg_d| * B   ('l1'; 'l2': 0.5 d^2)

    ``reduce='all'``: ``sum fg_l / (sum F + sum B)`` and ``sum bg_l /
    (sum F + sum B)`` over all pairs and pixels. ``'fg-bg'``:
    ``0.5 sum fg_l / (sum F + eps)``, ``0.5 sum bg_l / (sum B + eps)``.
    ``'fg-bg-per-pos'``: the same per pair, then the mean over pairs.

    Gradients: torch's ``|x|'`` is 0 at 0, so the pixels attaining m get a
    zero fg gradient; bg pixels get ``+1/N`` where cam > t ('all');
    the gradient flows through the upsampling. With ``detach_max=False``
    it also flows through m (``amax`` splits it over ties).

    Deviation from the reference: when every pixel is ignored or there is
    no pair (P = 0), the reference returns 0/0 = NaN; here both losses are
    0 with a (zero) graph to ``pos_cam``.

    Args:
        pos_cam (Tensor): (P, h, w) raw CAMs, one per positive pair.
        fg_cls_lb (Tensor): (N, C) 0/1 foreground labels defining the pairs.
        lb (Tensor): (N, H, W) int label maps: 0 background, c+1 class c,
            ``ignore_index`` ignored.
        loss_type (str): 'l1' or 'l2'. Defaults to 'l1'.
        reduce (str): 'all', 'fg-bg' or 'fg-bg-per-pos'. Defaults to 'all'.
        detach_max (bool): Detach m. Defaults to True.
        bg_thresh (float): Background threshold t. Defaults to 0.
        ignore_index (int): Ignored label. Defaults to 255.
        eps (float): Denominator eps of the 'fg-bg*' reductions.
            Defaults to 1e-5.

    Returns:
        tuple[Tensor, Tensor]: Scalar (fg_loss, bg_loss).
    """
    if loss_type not in ('l1', 'l2'):
        raise ValueError(f"cal_loss loss_type must be 'l1' or 'l2', got "
                         f'{loss_type!r}')
    if reduce not in ('all', 'fg-bg', 'fg-bg-per-pos'):
        raise ValueError("cal_loss reduce must be 'all', 'fg-bg' or "
                         f"'fg-bg-per-pos', got {reduce!r}")
    if pos_cam.dim() != 3 or fg_cls_lb.dim() != 2 or lb.dim() != 3 or \
            fg_cls_lb.shape[0] != lb.shape[0]:
        raise ValueError('cal_loss expects pos_cam (P, h, w), fg_cls_lb '
                         '(N, C) and lb (N, H, W), got '
                         f'{tuple(pos_cam.shape)}, {tuple(fg_cls_lb.shape)}, '
                         f'{tuple(lb.shape)}')
    pos_n, pos_c = torch.nonzero(fg_cls_lb, as_tuple=True)
    P = pos_n.numel()
    if P != pos_cam.shape[0]:
        raise ValueError(f'cal_loss: {pos_cam.shape[0]} CAMs for {P} positive '
                         'pairs in fg_cls_lb')
    if P == 0:
        zero = pos_cam.sum() * 0
        return zero, zero.clone()
    if tuple(pos_cam.shape[1:]) != tuple(lb.shape[1:]):
        pos_cam = F.interpolate(
            pos_cam[:, None], size=tuple(lb.shape[1:]), mode='bilinear',
            align_corners=False)[:, 0]

    lb = lb.to(pos_cam.device)
    pos_lb = lb[pos_n.to(lb.device)]  # (P, H, W)
    fg = pos_lb == (pos_c.to(lb.device) + 1)[:, None, None]
    bg = ~fg & (pos_lb != ignore_index)
    fg = fg.to(pos_cam.dtype)
    bg = bg.to(pos_cam.dtype)
    fg_num = fg.sum(dim=(1, 2))
    bg_num = bg.sum(dim=(1, 2))

    fg_cam = pos_cam * fg
    bg_cam = pos_cam * bg
    zero = torch.zeros((), dtype=pos_cam.dtype, device=pos_cam.device)
    m = torch.maximum(fg_cam.amax(dim=(1, 2), keepdim=True), zero)
    if detach_max:
        m = m.detach()
    fg_d = m - fg_cam
    t = torch.full((), bg_thresh, dtype=pos_cam.dtype, device=pos_cam.device)
    bg_d = torch.maximum(bg_cam, t) - t
    if loss_type == 'l1':
        fg_l, bg_l = fg_d.abs(), bg_d.abs()
    else:
        fg_l, bg_l = 0.5 * fg_d**2, 0.5 * bg_d**2
    fg_l = fg_l * fg
    bg_l = bg_l * bg

    if reduce == 'all':
        # an integer count: clamping only changes the all-ignore 0/0 case
        n = (fg_num.sum() + bg_num.sum()).clamp(min=1)
        return fg_l.sum() / n, bg_l.sum() / n
    if reduce == 'fg-bg':
        return (0.5 * fg_l.sum() / (fg_num.sum() + eps),
                0.5 * bg_l.sum() / (bg_num.sum() + eps))
    fg_per = 0.5 * fg_l.sum(dim=(1, 2)) / (fg_num + eps)
    bg_per = 0.5 * bg_l.sum(dim=(1, 2)) / (bg_num + eps)
    return fg_per.mean(), bg_per.mean()
