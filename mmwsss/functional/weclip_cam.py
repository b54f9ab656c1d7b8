"""WeCLIP / WeCLIP+ pseudo labels: GradCAM scaling, attention affinity,
propagation and the CAM -> label-probability step.

Pure tensor code (torch only): no OpenMMLab imports. The spec is
``/work/shared/weclip_reference_behaviour.md`` sections 2.8 and 2.13 (the
authors' ``clip/clip_tool.py``, ``pytorch_grad_cam``); per image, with
``h x w`` the CLIP patch grid and ``L = h*w``::

    cam     = scale_grad_cam(relu(sum_c w_c A_c))          # (h, w) per class
    A       = select_attention_affinity(att[-6:], attn_pred)   # WeCLIP+, v1
              mean_attention_affinity(att[-8:])                # v1 early
    T       = transition_matrix(A)                # 3 x (col, row), sym, T@T
    v_k     = cam_k [* seg_prob[k+1]]             # WeCLIP+ multiplies
    m_k     = box_mask(cam_k, 0.4)                # v1 / COCO; WeCLIP+ VOC: 1
    refined = propagate_cams(T, v, m)             # (T .* m_k[None]) @ vec(v_k)
    probs   = cam_label_probs(refined, (H, W))    # [bg; minmax + bilinear]
    label   = cam_labels(par_refine(img, probs), keys)

The box mask is :func:`mmwsss.functional.caa.box_mask`: it equals the
authors' ``scoremap2bbox(cam, t, multi_contour_eval=True)`` followed by
``aff_mask[y0:y1, x0:x1] = 1`` (``uint8(255 * cam)``, threshold
``int(t * max)`` with a strict ``>``, exclusive ends clipped to size - 1).
The union of the boxes of all ``RETR_TREE`` contours equals that of the
8-connected components' boxes: a hole contour or a component inside a hole
lies inside its outer component's box, and clipping the end keeps that
inclusion (tested in ``tests/test_functional_weclip.py``).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .caa import attention_to_affinity

__all__ = [
    'minmax_norm', 'scale_grad_cam', 'select_attention_affinity',
    'mean_attention_affinity', 'transition_matrix', 'propagate_cams',
    'cam_label_probs', 'cam_labels'
]


def minmax_norm(x: Tensor, eps: float = 1e-7) -> Tensor:
    """Min-max normalise each map over the last two dims.

    ``(x - min) / (eps + max(x - min))``: the authors' ``scale_cam_image``
    (``pytorch_grad_cam/utils/image.py``, without the resize) and the first
    step of ``generate_cam_label``. No clamp: every output lies in [0, 1),
    a constant map gives zeros.

    Args:
        x (Tensor): (..., h, w) maps.
        eps (float): Added to the range. Defaults to 1e-7.

    Returns:
        Tensor: Normalised maps, same shape and dtype.
    """
    if x.dim() < 2:
        raise ValueError(f'minmax_norm expects (..., h, w), got '
                         f'{tuple(x.shape)}')
    y = x - x.amin(dim=(-2, -1), keepdim=True)
    return y / (eps + y.amax(dim=(-2, -1), keepdim=True))


def scale_grad_cam(cam: Tensor) -> Tensor:
    """The GradCAM map WeCLIP uses (``grayscale_cam``, spec 2.8 step 3).

    The authors' ``BaseCAM`` computes, for its one target layer,
    ``scale_cam_image(max(cam, 0))`` (``compute_cam_per_layer``), then
    ``aggregate_multi_layers`` clamps at 0 again, averages over the one
    layer (an identity) and calls ``scale_cam_image`` once more, so::

        minmax(max(minmax(max(cam, 0)), 0))

    The inner clamp is applied here too, so a raw ``sum_c w_c A_c`` map is
    accepted as well as a ReLU'd one.

    Args:
        cam (Tensor): (..., h, w) GradCAM maps ``sum_c w_c A_c``, raw or
            ReLU'd.

    Returns:
        Tensor: (..., h, w) maps in [0, 1); the maximum is slightly below 1
        (each min-max divides by ``1e-7 + range``).
    """
    return minmax_norm(minmax_norm(cam.clamp(min=0)).clamp(min=0))


def _as_float(*tensors: Tensor) -> Tuple[Tensor, ...]:
    """Cast to one floating dtype (at least float32)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point or dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    return tuple(t.to(dtype) for t in tensors)


def select_attention_affinity(attns: Tensor, attn_pred: Tensor) -> Tensor:
    """WeCLIP+'s layer selection and affinity (spec 2.8 step 4).

    ``d_k = sum(attn_pred - att_k)`` over all entries, ``sel_k = d_k <=
    mean(d)``, ``A = sum_k sel_k att_k / (sum_k sel_k + 1e-5)``, then
    ``A = A * attn_pred``. Detached, like the authors' code.

    Args:
        attns (Tensor): (N, hw, hw) CLIP attention maps, CLS dropped
            (WeCLIP+ VOC and WeCLIP v1: the last 6 of ``[11 encoder maps;
            the GradCAM block's map]``).
        attn_pred (Tensor): (hw, hw) or (1, hw, hw) predicted affinity
            ``sigmoid(F^T F)`` of this image.

    Returns:
        Tensor: (hw, hw) affinity, float32 or wider.
    """
    if attn_pred.dim() == 3 and attn_pred.shape[0] == 1:
        attn_pred = attn_pred[0]
    if attns.dim() != 3 or attn_pred.dim() != 2 or \
            attns.shape[1:] != attn_pred.shape:
        raise ValueError('select_attention_affinity expects attns (N, hw, hw) '
                         f'and attn_pred (hw, hw), got {tuple(attns.shape)} '
                         f'and {tuple(attn_pred.shape)}')
    attns, attn_pred = _as_float(attns.detach(), attn_pred.detach())
    diff = (attn_pred[None] - attns).flatten(1).sum(dim=1)  # (N, )
    sel = (diff <= diff.mean()).to(attns.dtype)
    merged = (sel[:, None, None] * attns).sum(dim=0) / (sel.sum() + 1e-5)
    return merged * attn_pred


def mean_attention_affinity(attns: Tensor) -> Tensor:
    """WeCLIP v1's affinity before its switch (spec 2.13): the plain mean of
    the given attention maps (v1: the last 8, CLS dropped), no
    ``attn_pred``. Detached.

    Args:
        attns (Tensor): (N, hw, hw) attention maps.

    Returns:
        Tensor: (hw, hw) mean, float32 or wider.
    """
    if attns.dim() != 3 or attns.shape[1] != attns.shape[2]:
        raise ValueError('mean_attention_affinity expects (N, hw, hw), got '
                         f'{tuple(attns.shape)}')
    return _as_float(attns.detach())[0].mean(dim=0)


def transition_matrix(aff: Tensor,
                      num_norm: int = 3,
                      power: int = 2) -> Tensor:
    """The authors' ``compute_trans_mat`` (``clip_tool.py``).

    ``num_norm`` times: divide by the column sums, then by the row sums
    (3 in all in the authors' code: one pass, then a loop of 2);
    symmetrise ``T = (T + T^T) / 2``; return ``T ** power`` (matrix power;
    the authors' ``rw=1`` squares once, ``power=2``).

    Args:
        aff (Tensor): (L, L) non-negative affinity.
        num_norm (int): Column-then-row normalisation rounds. Defaults to 3.
        power (int): Matrix power, >= 1. Defaults to 2.

    Returns:
        Tensor: (L, L) float32 symmetric transition matrix.
    """
    if num_norm < 0 or power < 1:
        raise ValueError('transition_matrix needs num_norm >= 0 and power >= '
                         f'1, got {num_norm} and {power}')
    return attention_to_affinity(aff, sinkhorn_iters=num_norm, n_iters=power)


def propagate_cams(trans: Tensor,
                   cams: Tensor,
                   source_mask: Optional[Tensor] = None) -> Tensor:
    """Propagate each class map through the transition matrix.

    ``out_k = (T .* m_k[None, :]) @ vec(cam_k)``, vec row-major: the mask
    multiplies the source (column) index (the authors'
    ``trans_mat * aff_mask.view(1, hw)``), computed for all classes in one
    matmul as ``(m .* cam) @ T^T``.

    Args:
        trans (Tensor): (L, L) transition matrix, L = h*w.
        cams (Tensor): (K, h, w) maps to refine (WeCLIP+: the GradCAM map
            times ``seg_prob[c+1]``; v1: the GradCAM map).
        source_mask (Tensor, optional): (K, h, w) box masks
            (:func:`mmwsss.functional.caa.box_mask` of the GradCAM maps, for
            WeCLIP v1 and COCO); None for WeCLIP+ VOC (all ones).

    Returns:
        Tensor: (K, h, w) refined maps (not normalised).
    """
    if cams.dim() != 3:
        raise ValueError(f'propagate_cams expects cams (K, h, w), got '
                         f'{tuple(cams.shape)}')
    K, h, w = cams.shape
    if tuple(trans.shape) != (h * w, h * w):
        raise ValueError(
            f'propagate_cams: trans {tuple(trans.shape)} does not '
            f'match the {h}x{w} grid')
    trans, cams = _as_float(trans, cams)
    v = cams.reshape(K, h * w)
    if source_mask is not None:
        if tuple(source_mask.shape) != (K, h, w):
            raise ValueError('propagate_cams: source_mask must be '
                             f'{(K, h, w)}, got {tuple(source_mask.shape)}')
        v = v * source_mask.reshape(K, h * w).to(v)
    return (v @ trans.transpose(0, 1)).reshape(K, h, w)


def cam_label_probs(cams: Tensor,
                    size: Tuple[int, int],
                    bg_power: float = 1.0) -> Tensor:
    """Refined class maps -> [background; classes] scores at ``size``.

    ``generate_cam_label`` (each map ``minmax`` then ``cv2.resize`` linear,
    which equals bilinear ``align_corners=False`` when enlarging) and the
    model's ``bg = (1 - max_c cam_c) ** cam_bg_thres`` (spec 2.8 steps 6-7).

    Args:
        cams (Tensor): (K, h, w) refined maps.
        size (tuple[int, int]): Output (H, W): the network input size in
            train mode, the original image size in val mode.
        bg_power (float): Background exponent (``cam_bg_thres``).
            Defaults to 1.

    Returns:
        Tensor: (K+1, H, W), channel 0 the background. With K = 0 (the
        authors' code raises) the result is one all-ones background map.
    """
    if cams.dim() != 3:
        raise ValueError(f'cam_label_probs expects (K, h, w), got '
                         f'{tuple(cams.shape)}')
    H, W = (int(s) for s in size)
    (cams, ) = _as_float(cams)
    if cams.shape[0] == 0:
        return cams.new_ones((1, H, W))
    fg = minmax_norm(cams)
    if tuple(fg.shape[-2:]) != (H, W):
        fg = F.interpolate(
            fg[None], size=(H, W), mode='bilinear', align_corners=False)[0]
    bg = (1 - fg.amax(dim=0, keepdim=True)).pow(bg_power)
    return torch.cat([bg, fg], dim=0)


def cam_labels(probs_after_par: Tensor, keys: Sequence[int]) -> Tensor:
    """Label map of the refined scores: ``valid_key[argmax_channel]``.

    ``valid_key = [0, keys + 1]``: channel 0 (background) gives 0, channel
    i >= 1 gives ``keys[i-1] + 1``. Ties go to the first channel
    (``torch.argmax``). Never 255.

    Args:
        probs_after_par (Tensor): (K+1, H, W) scores (or (..., K+1, H, W)),
            background first, classes in the order of ``keys``.
        keys (Sequence[int]): K 0-based class ids.

    Returns:
        Tensor: (H, W) (or (..., H, W)) long labels in {0} U {keys + 1}.
    """
    keys = [int(k) for k in keys]
    if probs_after_par.dim() < 3 or \
            probs_after_par.shape[-3] != len(keys) + 1:
        raise ValueError(
            f'cam_labels: {len(keys)} keys need (K+1={len(keys) + 1}'
            f', H, W) scores, got {tuple(probs_after_par.shape)}')
    valid_key = torch.tensor(
        [0] + [k + 1 for k in keys],
        dtype=torch.long,
        device=probs_after_par.device)
    return valid_key[probs_after_par.argmax(dim=-3)]
