"""WeCLIP's online pseudo labels (reference section 2.8): GradCAM on the
frozen CLIP, the attention/affinity refinement, PAR.

Two steps, both batched where the authors loop:

* :func:`clip_grad_cams`: one GradCAM per (image, present class) pair, all
  pairs of a batch in one pass of CLIP's last block and one
  ``torch.autograd.grad`` (each pair is its own row, so the gradient of the
  sum of the targets is every pair's own gradient). The authors' softmax
  runs over the image's present classes and the background prompts only;
  here the text matrix holds every class, and the absent classes' logits
  are set to ``-inf`` before the softmax, which gives the same
  probabilities.
* :func:`refine_image_cams`: per image, the affinity (selected or mean
  attention), its transition matrix, the propagation of the CAMs, the CAM
  label probabilities with the background, PAR and the label map.

The numbers are :mod:`mmwsss.functional`'s; this module wires them.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from mmwsss import functional as W
from mmwsss.functional.caa import box_mask

__all__ = ['clip_grad_cams', 'refine_image_cams']


def clip_grad_cams(clip, cam_tokens: Tensor, text: Tensor,
                   pair_img: Tensor, pair_cls: Tensor,
                   allowed: Tensor, grid: Tuple[int, int]
                   ) -> Tuple[Tensor, Tensor]:
    """Softmax-GradCAM of CLIP's last block, one map per pair.

    Args:
        clip (FrozenCLIP): The frozen CLIP (``last_block_logits``).
        cam_tokens (Tensor): (B, L, C) block output the last block is run on
            (WeCLIP+ VOC: the output of block 9; otherwise block 10).
        text (Tensor): (T, E) normalised text features: every foreground
            class, then the background prompts.
        pair_img (Tensor): (P,) image index of each pair.
        pair_cls (Tensor): (P,) row of ``text`` that is the pair's target.
        allowed (Tensor): (P, T) bool, the rows of the pair's softmax (its
            image's present classes and the background rows).
        grid (tuple[int, int]): Patch grid (h, w), ``L = 1 + h*w``.

    Returns:
        tuple[Tensor, Tensor]: (P, h, w) CAMs after the authors' two min-max
        normalisations (``scale_cam_image``), and the (P, L, L) attention of
        the last block (no graph).
    """
    h, w = grid
    with torch.enable_grad():
        logits, leaf, attn = clip.last_block_logits(cam_tokens[pair_img],
                                                    text)
        logits = logits.float().masked_fill(~allowed, float('-inf'))
        probs = logits.softmax(dim=-1)
        target = probs.gather(1, pair_cls[:, None]).sum()
        grad, = torch.autograd.grad(target, leaf)
    act = leaf.detach()[:, 1:].float()
    weights = grad[:, 1:].float().mean(dim=1)  # spatial mean per channel
    cam = torch.einsum('plc,pc->pl', act, weights).clamp(min=0)
    cam = W.scale_grad_cam(cam.reshape(-1, h, w))
    return cam, attn.detach().float()


def refine_image_cams(cams: Tensor,
                      keys: Tensor,
                      attn_maps: Tensor,
                      image: Tensor,
                      size: Tuple[int, int],
                      attn_pred: Optional[Tensor] = None,
                      seg_prob: Optional[Tensor] = None,
                      box_threshold: Optional[float] = None,
                      bg_power: float = 1.0,
                      par_cfg: Optional[dict] = None,
                      return_scores: bool = False
                      ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
    """The pseudo label of one image from its GradCAMs.

    Args:
        cams (Tensor): (K, h, w) GradCAMs of the present classes.
        keys (Tensor): (K,) their 0-based foreground class indices.
        attn_maps (Tensor): (N, h*w, h*w) attention maps (patch tokens) the
            affinity is made of.
        image (Tensor): (3, H_in, W_in) normalised network input (PAR).
        size (tuple[int, int]): Label size (H, W): the input size in
            training, the original image size for seeds.
        attn_pred (Tensor, optional): (h*w, h*w) predicted affinity: given,
            the maps are selected against it and the mean is multiplied by
            it (``require_seg_trans``); None, the plain mean of the maps.
        seg_prob (Tensor, optional): (num_classes, h, w) segmentation
            probabilities; given, each CAM is multiplied by its class's
            probability before the propagation (WeCLIP+).
        box_threshold (float, optional): Box masks of the CAMs at this
            threshold restrict the propagation's sources (WeCLIP: 0.4,
            WeCLIP+ COCO: 0.7); None: no mask (WeCLIP+ VOC).
        bg_power (float): Background ``(1 - max cam) ** bg_power``.
        par_cfg (dict, optional): Keyword arguments of
            :func:`mmwsss.functional.par_refine`.
        return_scores (bool): Also return the scores the label is the
            argmax of. Defaults to False.

    Returns:
        Tensor | tuple[Tensor, Tensor]: (H, W) long labels, 0 (background)
        or ``key + 1``; with ``return_scores`` also the (K + 1, H, W)
        scores after PAR (background first, then the classes of ``keys``).
    """
    if cams.shape[0] == 0:
        labels = torch.zeros(size, dtype=torch.long, device=cams.device)
        if return_scores:
            return labels, torch.ones((1, ) + tuple(size),
                                      device=cams.device)
        return labels
    if attn_pred is not None:
        aff = W.select_attention_affinity(attn_maps, attn_pred.detach())
    else:
        aff = W.mean_attention_affinity(attn_maps)
    trans = W.transition_matrix(aff.detach().float())
    src = cams
    if seg_prob is not None:
        src = cams * seg_prob.detach()[keys + 1]
    mask = box_mask(cams, box_threshold) if box_threshold is not None \
        else None
    refined = W.propagate_cams(trans, src, source_mask=mask)
    probs = W.cam_label_probs(refined, size, bg_power=bg_power)
    with torch.no_grad():
        probs = W.par_refine(image[None].float(), probs[None],
                             **(par_cfg or {}))[0]
    labels = W.cam_labels(probs, keys)
    return (labels, probs) if return_scores else labels
