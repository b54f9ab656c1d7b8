"""Classic CAM (the WSSS survey's eqs. 1-2), as pure tensor functions.

A multi-label classifier ``z = W · GAP(F)`` (1x1 convolution without bias
``W`` over the last feature map ``F``) is trained with the mean binary
cross-entropy over the K foreground classes (eq. 1); the class activation
map of class k is ``A_k = w_k^T F`` and ``CAM_k = ReLU(A_k) / max ReLU(A_k)``
(eq. 2). No OpenMMLab imports: :class:`~.cam_classifier.CAMClassifier` is
the mm glue.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'class_activation_maps', 'max_normalize', 'multi_hot', 'multilabel_bce'
]


def class_activation_maps(features: Tensor, weight: Tensor,
                          classes: Tensor) -> Tensor:
    """``ReLU(w_c^T F)`` of the classes ``classes`` (eq. 2, before the max
    normalisation).

    Args:
        features (Tensor): (C, h, w) feature map of one image.
        weight (Tensor): (K, C) or (K, C, 1, 1) classifier weights.
        classes (Tensor): (P,) 0-based class indices.

    Returns:
        Tensor: (P, h, w) non-negative maps.
    """
    w = weight.reshape(weight.shape[0], -1)[classes.long()]
    if w.shape[1] != features.shape[0]:
        raise ValueError(f'CAM: classifier has {w.shape[1]} input channels, '
                         f'the feature map {features.shape[0]}')
    return torch.einsum('pc,chw->phw', w, features).clamp(min=0)


def max_normalize(cams: Tensor, eps: float = 1e-5) -> Tensor:
    """Eq. 2's normalisation: ``ReLU(A) / max ReLU(A)`` per map.

    Args:
        cams (Tensor): (P, h, w) maps.
        eps (float): Added to the maximum (an all-zero map stays zero).

    Returns:
        Tensor: (P, h, w) maps in [0, 1].
    """
    cams = cams.clamp(min=0)
    peak = cams.flatten(1).amax(1) if cams.numel() else cams.new_zeros(
        cams.shape[0])
    return cams / (peak[:, None, None] + eps)


def multi_hot(labels: Sequence[Sequence[int]],
              num_classes: int,
              names: Sequence[str] = ()) -> Tensor:
    """Image-level labels (1-based foreground ids) as a (B, K) 0/1 tensor.

    Args:
        labels (Sequence[Sequence[int]]): Per image, class ids in
            ``1..num_classes`` (0 = background is ignored).
        num_classes (int): K, the number of foreground classes.
        names (Sequence[str]): Per image, a name for error messages (the
            image path).

    Returns:
        Tensor: (B, K) float tensor.

    Raises:
        ValueError: A label outside ``0..num_classes``, naming the image.
    """
    out = torch.zeros(len(labels), num_classes)
    for i, lbs in enumerate(labels):
        ids = torch.as_tensor(list(lbs), dtype=torch.long)
        bad = ids[(ids < 0) | (ids > num_classes)]
        if bad.numel():
            name = names[i] if i < len(names) else f'image {i}'
            raise ValueError(
                f'{name}: image label(s) {bad.tolist()} outside the '
                f'{num_classes} foreground classes (1..{num_classes})')
        ids = ids[ids > 0]
        out[i, ids - 1] = 1
    return out


def multilabel_bce(logits: Tensor, targets: Tensor) -> Tensor:
    """Eq. 1: the BCE of each class, averaged over classes and images
    (= ``multilabel_soft_margin_loss``, IRN's CAM loss).

    Args:
        logits (Tensor): (B, K) class logits ``z``.
        targets (Tensor): (B, K) 0/1 labels ``y``.

    Returns:
        Tensor: Scalar loss.
    """
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits))
