"""Seeders: class maps of an image's labelled classes -> seed map.

A seeder is the last step of every seed pipeline of mmwsss (FMA-WSSS,
CLIP-ES, classic CAM): it turns the (P, h, w) maps of the P labelled classes
into an (H, W) map of class indices (0 background, ``c + 1`` for 0-based
class ``c``). All seeders share one call signature, so a config swaps them::

    seeder = dict(type='SAMSSeeder', alpha=0.7,
                  mask_dir='work_dirs/sam_masks/voc_train')
    seeder = dict(type='ThresholdSeeder', bg_threshold=0.5)  # CLIP-ES argmax
    seeder = dict(type='CRFSeeder')                          # CLIP-ES + CRF

    seed = seeder(cams, fg_cls, (H, W), data_sample=ds)

The numeric work lives in :mod:`mmwsss.functional.sams` (SAMS) and
:mod:`mmwsss.functional.crf`; these classes only fetch what each needs (SAM masks
by the image path, the RGB image for the CRF) and register in MODELS.
"""
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.functional.crf import CLIP_ES_CRF, crf_seed
from mmwsss.functional.gradcam import normalized_at_size
from mmwsss.io import SAMMaskSource, read_rgb_image
from mmwsss.functional.sams import sams_seed, sams_seed_from_record

__all__ = [
    'BaseSeeder', 'SeedInputs', 'SAMSSeeder', 'ThresholdSeeder', 'CRFSeeder'
]


def _check(cams: Tensor, fg_cls: Tensor) -> Tuple[Tensor, Tensor]:
    cams = torch.as_tensor(cams)
    fg_cls = torch.as_tensor(fg_cls).reshape(-1).long()
    if cams.dim() != 3 or cams.shape[0] != fg_cls.numel():
        raise ValueError(f'seeder: cams must be (P, h, w) for the '
                         f'{fg_cls.numel()} classes fg_cls, got '
                         f'{tuple(cams.shape)}')
    return cams.float(), fg_cls


def _img_path(data_sample: Any) -> str:
    path = None if data_sample is None else data_sample.metainfo.get(
        'img_path')
    if not path:
        raise ValueError('seeder needs data_sample.img_path (the image file '
                         'that names its SAM masks / is read for the CRF)')
    return path


class SeedInputs(NamedTuple):
    """The checked arguments of a seeder call.

    Attributes:
        cams (Tensor): (P, h, w) float class maps.
        fg_cls (Tensor): (P,) int64 0-based foreground class ids.
        size (tuple[int, int]): (H, W) of the seed.
        data_sample (SegDataSample, optional): The image's data sample.
        image (np.ndarray, optional): (H, W, 3) uint8 RGB image.
    """
    cams: Tensor
    fg_cls: Tensor
    size: Tuple[int, int]
    data_sample: Any
    image: Optional[np.ndarray]


class BaseSeeder:
    """Common interface: ``seeder(cams, fg_cls, size, data_sample=None,
    image=None, **overrides) -> (H, W) int64 seed``.

    ``__call__`` checks the class maps and hands them to :meth:`_seed`,
    which each seeder implements.

    Args of ``__call__``:
        cams (Tensor): (P, h, w) class maps (raw or refined CAMs) of the
            classes ``fg_cls``.
        fg_cls (Tensor): (P,) 0-based foreground class ids.
        size (tuple[int, int]): (H, W) of the seed (the image's size).
        data_sample (SegDataSample, optional): The image's data sample
            (``img_path`` for masks / image).
        image (np.ndarray, optional): (H, W, 3) uint8 RGB image, when the
            caller has it already.
        **overrides: Per-call values of the seeder's parameters (e.g.
            ``alpha``).
    """

    def __call__(self,
                 cams: Tensor,
                 fg_cls: Tensor,
                 size: Tuple[int, int],
                 data_sample: Any = None,
                 image: Optional[np.ndarray] = None,
                 **overrides: Any) -> Tensor:
        cams, fg_cls = _check(cams, fg_cls)
        size = (int(size[0]), int(size[1]))
        return self._seed(
            SeedInputs(cams, fg_cls, size, data_sample, image), **overrides)

    def _seed(self, inputs: SeedInputs, **overrides: Any) -> Tensor:
        """The (H, W) int64 seed of checked inputs (each seeder)."""
        raise NotImplementedError


@MODELS.register_module()
class SAMSSeeder(BaseSeeder):
    """SAMS seeding (FMA-WSSS eqs. 8-10) with cached or generated SAM masks.

    Args:
        alpha (float): Background exponent of eq. 9 (VOC: 0.6 coarse, 0.7
            fine; COCO 0.3-0.5 coarse, 1.0 fine).
        mask_dir (str, optional): SAM mask cache of
            ``tools/gen_sam_masks.py``.
        fingerprint (str, optional): Expected SAM fingerprint of the cache.
        sam_generator (dict, optional): Mask generator config for images
            the cache lacks.
        owner (str): Config key for error messages.

    ``overrides`` of ``__call__`` may set ``alpha`` (the coarse-seed stage
    tries several). With a data sample that carries ``sam_masks`` (a
    (S, H, W) bool tensor, e.g. masks augmented with a training crop by
    ``LoadSAMMasks``) and ``sam_levels`` in its metainfo, those are used
    instead of the cache; they are zero-padded at the bottom / right up to
    ``size`` (the batch padding).
    """

    def __init__(self,
                 alpha: float = 0.7,
                 mask_dir: Optional[str] = None,
                 fingerprint: Optional[str] = None,
                 sam_generator: Optional[Dict[str, Any]] = None,
                 owner: str = 'model.seeder') -> None:
        self.alpha = float(alpha)
        self.mask_dir = mask_dir
        self._source = None
        if mask_dir is not None or sam_generator is not None:
            self._source = SAMMaskSource(
                mask_dir, fingerprint, sam_generator, owner, build=MODELS.build)
        self.owner = owner

    def _seed(self,
              inputs: SeedInputs,
              alpha: Optional[float] = None) -> Tensor:
        cams, fg_cls, size, data_sample, image = inputs
        alpha = self.alpha if alpha is None else float(alpha)
        if data_sample is not None and 'sam_masks' in data_sample:
            masks = data_sample.sam_masks.data.to(cams.device).bool()
            levels = torch.as_tensor(
                np.asarray(data_sample.metainfo['sam_levels'], np.int64))
            mh, mw = masks.shape[-2:]
            if mh > size[0] or mw > size[1]:
                raise ValueError(
                    f'{data_sample.metainfo.get("img_path")}: sam_masks '
                    f'are {(mh, mw)}, larger than the seed size {size}')
            # batch padding (bottom / right) is covered by no mask
            masks = F.pad(masks, (0, size[1] - mw, 0, size[0] - mh))
            return sams_seed(
                cams, masks, levels, fg_cls, alpha=alpha,
                image_size=size).seed.long()
        if self._source is None:
            raise ValueError(f'{self.owner}: SAMSSeeder needs mask_dir (run '
                             'tools/gen_sam_masks.py first) or sam_generator')
        record = self._source.get(_img_path(data_sample), size)
        return sams_seed_from_record(
            cams, record, fg_cls, alpha=alpha).seed.long()


@MODELS.register_module()
class ThresholdSeeder(BaseSeeder):
    """Argmax over min-max normalised CAMs and a constant background score
    (classic CAM and CLIP-ES without CRF).

    Args:
        bg_threshold (float): Background score; a pixel is foreground where
            its best class map exceeds it.
    """

    def __init__(self, bg_threshold: float = 0.5) -> None:
        self.bg_threshold = float(bg_threshold)

    def _seed(self,
              inputs: SeedInputs,
              bg_threshold: Optional[float] = None) -> Tensor:
        cams, fg_cls, size, data_sample, image = inputs
        thr = self.bg_threshold if bg_threshold is None else bg_threshold
        h, w = size
        if fg_cls.numel() == 0:
            return torch.zeros((h, w), dtype=torch.long, device=cams.device)
        maps = normalized_at_size(cams, (h, w))
        scores = torch.cat([maps.new_full((1, h, w), thr), maps])
        lut = torch.cat([fg_cls.new_zeros(1), fg_cls + 1]).to(maps.device)
        return lut[scores.argmax(0)]


@MODELS.register_module()
class CRFSeeder(BaseSeeder):
    """Dense-CRF seeds from normalised CAMs (CLIP-ES's post-processing).

    Args:
        alpha (float): Background ``(1 - max)^alpha``. CLIP-ES uses 1.
        conf_thresh (float, optional): Low-confidence pixels become 255
            (CLIP-ES pseudo masks use 0.95); None keeps every pixel.
        crf (dict, optional): :func:`~mmwsss.functional.crf.dense_crf`
            parameters; CLIP-ES's by default.
    """

    def __init__(self,
                 alpha: float = 1.0,
                 conf_thresh: Optional[float] = None,
                 crf: Optional[dict] = None) -> None:
        self.alpha = float(alpha)
        self.conf_thresh = conf_thresh
        self.crf = dict(CLIP_ES_CRF if crf is None else crf)

    def _seed(self,
              inputs: SeedInputs,
              alpha: Optional[float] = None) -> Tensor:
        cams, fg_cls, size, data_sample, image = inputs
        if image is None:
            image = read_rgb_image(_img_path(data_sample))
        if tuple(image.shape[:2]) != size:
            raise ValueError(f'CRFSeeder: image is {image.shape[:2]}, seed '
                             f'size {size}')
        maps = normalized_at_size(cams, tuple(image.shape[:2]))
        res = crf_seed(
            image,
            maps.cpu(),
            fg_cls.cpu().numpy(),
            alpha=self.alpha if alpha is None else alpha,
            conf_thresh=self.conf_thresh,
            **self.crf)
        return torch.from_numpy(res.seed.astype(np.int64)).to(cams.device)
