"""Dense CRF refinement (Kraehenbuehl & Koltun 2011) as CLIP-ES applies it:
the comparator of SAMS (FMA-WSSS Tables 1 and 3).

Pure array code (numpy, torch for the resize, pydensecrf2): no OpenMMLab
imports. pydensecrf2 is imported when a CRF runs, so the rest of mmwsss works
without it.

CLIP-ES (``eval_cam_with_crf.py``) builds its seeds from normalised CAMs
``cams`` (P, H, W) of the image's classes as::

    bg    = (1 - max_p cams) ** 1                  # background score
    prob  = [bg, cams]                             # (P+1, H, W)
    U     = -log(clip(prob, 1e-5, 1))              # unary_from_softmax
    Q     = DenseCRF2D(U, image; Gaussian sxy=1 compat=3,
                       bilateral sxy=67 srgb=3 compat=4), 10 iterations
    label = [0, fg_cls+1][argmax Q];  label[max Q < 0.95] = 255  (seeds)

:func:`crf_seed` does the same (threshold optional). One deviation: CLIP-ES
feeds the CRF ``uint8(BGR image - mean)``, which wraps negative values
around (a bug); here the CRF sees the plain RGB image (the bilateral kernel
only uses colour distances, so RGB vs BGR order does not matter).
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['CLIP_ES_CRF', 'CRFResult', 'dense_crf', 'crf_seed']

#: CLIP-ES's CRF parameters (``DenseCRF(iter_max=10, pos_xy_std=1,
#: pos_w=3, bi_xy_std=67, bi_rgb_std=3, bi_w=4)``).
CLIP_ES_CRF = dict(
    n_iters=10, pos_xy_std=1., pos_w=3., bi_xy_std=67., bi_rgb_std=3.,
    bi_w=4.)


def _densecrf_module():
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            'Dense CRF needs pydensecrf2: `pip install pydensecrf2` (builds '
            'from source in about a minute; needs a C++ compiler and '
            'Cython).') from err
    return dcrf


@dataclass
class CRFResult:
    """Output of :func:`crf_seed`.

    Attributes:
        seed (np.ndarray): (H, W) uint8 label map, 0 = background,
            ``fg_cls[i] + 1`` = class, ``ignore_index`` below
            ``conf_thresh``.
        prob (np.ndarray): (K, H, W) float32 CRF marginals, background
            first.
    """
    seed: np.ndarray
    prob: np.ndarray


def _check_image(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('dense CRF needs an (H, W, 3) uint8 RGB image, got '
                         f'{image.dtype} {image.shape}')
    if tuple(image.shape[:2]) != tuple(size):
        raise ValueError(f'image is {image.shape[:2]} but the maps are '
                         f'{tuple(size)}')
    return np.ascontiguousarray(image)


def dense_crf(image: np.ndarray,
              probs: np.ndarray,
              n_iters: int = 10,
              pos_xy_std: float = 1.,
              pos_w: float = 3.,
              bi_xy_std: float = 67.,
              bi_rgb_std: float = 3.,
              bi_w: float = 4.,
              clip: float = 1e-5) -> np.ndarray:
    """Mean-field inference of a fully connected CRF (pydensecrf2).

    Args:
        image (np.ndarray): (H, W, 3) uint8 image.
        probs (np.ndarray): (K, H, W) class probabilities (need not sum to
            1: the unary is ``-log(clip(probs, clip, 1))``).
        n_iters (int): Mean-field iterations. Defaults to 10 (CLIP-ES).
        pos_xy_std (float): Gaussian (smoothness) kernel spatial std.
        pos_w (float): Gaussian kernel weight.
        bi_xy_std (float): Bilateral (appearance) kernel spatial std.
        bi_rgb_std (float): Bilateral kernel colour std.
        bi_w (float): Bilateral kernel weight.
        clip (float): Lower clip of the probabilities. Defaults to 1e-5.

    Returns:
        np.ndarray: (K, H, W) float32 marginals Q.
    """
    dcrf = _densecrf_module()
    probs = np.asarray(probs, np.float32)
    if probs.ndim != 3 or probs.shape[0] < 1:
        raise ValueError(f'probs must be (K, H, W), got {probs.shape}')
    k, h, w = probs.shape
    image = _check_image(image, (h, w))
    unary = -np.log(np.clip(probs, clip, 1.0)).reshape(k, -1)
    d = dcrf.DenseCRF2D(w, h, k)
    d.setUnaryEnergy(np.ascontiguousarray(unary, np.float32))
    d.addPairwiseGaussian(sxy=pos_xy_std, compat=pos_w)
    d.addPairwiseBilateral(
        sxy=bi_xy_std, srgb=bi_rgb_std, rgbim=image, compat=bi_w)
    q = d.inference(int(n_iters))
    return np.asarray(q, np.float32).reshape(k, h, w)


def crf_seed(image: np.ndarray,
             cams: Union[np.ndarray, torch.Tensor],
             fg_cls: Sequence[int],
             alpha: float = 1.0,
             with_bg_channel: bool = False,
             conf_thresh: Optional[float] = None,
             ignore_index: int = 255,
             **crf_kwargs) -> CRFResult:
    """Seed map from class maps with a dense CRF, the CLIP-ES way.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB image.
        cams (np.ndarray | Tensor): (P, h, w) maps in [0, 1] of the classes
            ``fg_cls`` (normalised CAMs or probabilities), resized to (H, W)
            bilinearly (align_corners=False) when needed. With
            ``with_bg_channel``: (1+P, h, w), the background map first.
        fg_cls (Sequence[int]): (P,) 0-based foreground class ids.
        alpha (float): Background exponent, ``bg = (1 - max cams) ** alpha``
            (clamped at 0). CLIP-ES uses 1. Unused with ``with_bg_channel``.
        with_bg_channel (bool): ``cams`` already holds the background as
            channel 0 (e.g. a segmentation model's softmax).
        conf_thresh (float, optional): Pixels whose top marginal is below
            it get ``ignore_index`` (CLIP-ES pseudo masks: 0.95).
        ignore_index (int): Label of low-confidence pixels. Defaults to 255.
        **crf_kwargs: :func:`dense_crf` parameters (defaults: CLIP-ES's).

    Returns:
        CRFResult: ``seed`` (H, W) uint8 and the marginals ``prob``.
    """
    h, w = np.asarray(image).shape[:2]
    maps = torch.as_tensor(np.asarray(cams) if not isinstance(
        cams, torch.Tensor) else cams.detach().cpu()).float()
    fg_cls = np.asarray(fg_cls, np.int64).reshape(-1)
    n_maps = len(fg_cls) + int(with_bg_channel)
    if maps.dim() != 3 or maps.shape[0] != n_maps:
        raise ValueError(f'cams must be ({n_maps}, h, w) for {len(fg_cls)} '
                         f'classes (with_bg_channel={with_bg_channel}), got '
                         f'{tuple(maps.shape)}')
    if len(fg_cls) and (fg_cls.min() < 0 or fg_cls.max() > 254):
        raise ValueError(f'fg_cls must lie in [0, 254], got {fg_cls}')
    if tuple(maps.shape[-2:]) != (h, w) and maps.shape[0]:
        maps = F.interpolate(maps[None], size=(h, w), mode='bilinear',
                             align_corners=False)[0]
    maps = maps.numpy().reshape(n_maps, h, w)
    if with_bg_channel:
        probs = maps
    else:
        top = maps.max(axis=0) if len(fg_cls) else np.zeros((h, w),
                                                             np.float32)
        bg = np.power(np.clip(1 - top, 0, None), alpha)[None]
        probs = np.concatenate([bg, maps]).astype(np.float32)
    q = dense_crf(image, probs, **crf_kwargs)
    lut = np.concatenate([[0], fg_cls + 1]).astype(np.uint8)
    seed = lut[q.argmax(axis=0)]
    if conf_thresh is not None:
        seed[q.max(axis=0) < conf_thresh] = ignore_index
    return CRFResult(seed=seed, prob=q)
