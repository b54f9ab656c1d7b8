"""Test-time refinement of any mmseg segmentor with SAMS (or a dense CRF).

``SAMSTTAModel`` and ``CRFTTAModel`` are :class:`mmseg.models.SegTTAModel`
subclasses: they average the softmax of the multi-scale / flip predictions
exactly as SegTTAModel does, then re-label the merged prediction. Any mmseg
model gets the refinement by config alone::

    tta_model = dict(type='SAMSTTAModel', mask_dir='work_dirs/sam_masks/voc')
    # python tools/test.py CONFIG CHECKPOINT --tta

(mmseg's test.py with ``--tta`` wraps ``cfg.model`` into ``cfg.tta_model``
and runs ``cfg.tta_pipeline``.) Swap ``type='CRFTTAModel'`` for the dense-CRF
comparison of FMA-WSSS Table 3.

What SAMS does to the merged class probabilities ``prob`` (C, H, W):

* present classes = the foreground classes of ``argmax(prob)`` (the paper's
  test-time rule; ``present_classes='all'`` takes every class);
* ``scoring='prob'`` (default, what the authors' code ran on segmentation
  outputs, ``configs/anns_seed/val/mm`` with the ``ann_prob`` patch): the
  scores of a quasi-superpixel are the mask means of ``[prob_bg, prob_c...]``,
  the background mean raised to ``alpha`` (``norm_first='no_norm'``,
  ``bg_method='alpha_bg'``; the authors tried alpha 1-5; alpha > 1 gives more
  foreground), argmax;
* ``scoring='eq8'``: eq. 8 as for CAMs (reference section 1.1): the present
  classes' probability maps are averaged per mask, min-max normalised over
  the masks, background ``(1 - max)^alpha`` (the model's own background
  probability is not used);
* masks painted by (level, conf, input order), wholes last;
* pixels no mask covers keep the merged argmax (``uncovered='pred'``,
  default: SAM leaves gaps, and the model's prediction is the better guess
  there) or become background (``uncovered='background'``, the reference
  seeding rule).

``seg_logits`` of the output holds the merged probabilities (not logits), so
metrics and visualisers keep working; ``pred_sem_seg`` the refined labels.
"""
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor, nn

from mmwsss.functional.crf import CLIP_ES_CRF, dense_crf
from mmwsss.io.mask_cache import SAMMaskRecord
from mmwsss.io import SAMMaskSource, read_rgb_image
from mmwsss.functional.sams import SAMSResult, sams_seed_from_record

__all__ = ['SAMSTTAModel', 'CRFTTAModel']

_PRESENT = ('pred', 'all')


class _RefiningTTAModel(SegTTAModel):
    """SegTTAModel whose merged prediction is re-labelled by
    :meth:`refine`.

    Args:
        module (dict | nn.Module): The segmentor.
        data_preprocessor (dict | nn.Module, optional): See BaseTTAModel.
        background_index (int, optional): Channel of the background class
            (0 for VOC / COCO); None for datasets without one.
        present_classes (str): ``'pred'``: the classes of the merged argmax;
            ``'all'``: every class.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 background_index: Optional[int] = 0,
                 present_classes: str = 'pred') -> None:
        super().__init__(module, data_preprocessor)
        if present_classes not in _PRESENT:
            raise ValueError(f'tta_model.present_classes must be one of '
                             f'{_PRESENT}, got {present_classes!r}')
        self.background_index = (None if background_index is None else
                                 int(background_index))
        self.present_classes = present_classes

    # -- merging -------------------------------------------------------
    def merge_probs(self, data_samples: SampleList) -> Tensor:
        """Mean softmax of one image's augmented predictions (C, H, W)."""
        if getattr(self.module, 'out_channels', 2) == 1 or \
                data_samples[0].seg_logits.data.shape[0] < 2:
            raise ValueError(
                f'{type(self).__name__} refines multi-class softmax '
                'predictions; this model has a single (sigmoid) output '
                'channel.')
        probs = None
        for sample in data_samples:
            p = sample.seg_logits.data.softmax(dim=0)
            probs = p if probs is None else probs + p
        return probs / len(data_samples)

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Merge the augmented predictions, then refine them.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, the
                predictions of all its augmentations.

        Returns:
            list[SegDataSample]: Per image ``seg_logits`` = merged
            probabilities (C, H, W) and ``pred_sem_seg`` = refined labels.
        """
        predictions = []
        for data_samples in data_samples_list:
            probs = self.merge_probs(data_samples)
            pred = probs.argmax(dim=0)
            refined = self.refine(probs, pred, data_samples[0])
            out = data_samples[0]
            out.set_data({
                'seg_logits': PixelData(data=probs),
                'pred_sem_seg': PixelData(data=refined[None].to(pred.dtype))
            })
            predictions.append(out)
        return predictions

    def present(self, pred: Tensor, num_classes: int) -> Tensor:
        """Foreground channels to refine: (P,) int64, ascending."""
        if self.present_classes == 'all':
            cls = torch.arange(num_classes, device=pred.device)
        else:
            cls = torch.unique(pred)
        if self.background_index is not None:
            cls = cls[cls != self.background_index]
        return cls.long()

    def refine(self, probs: Tensor, pred: Tensor, data_sample: Any) -> Tensor:
        """Refined (H, W) labels of one image (subclasses)."""
        raise NotImplementedError


@MODELS.register_module()
class SAMSTTAModel(_RefiningTTAModel):
    """Multi-scale / flip TTA + SAMS refinement for any mmseg segmentor.

    Args:
        module (dict | nn.Module): The segmentor (test.py --tta fills it).
        mask_dir (str, optional): Folder of the SAM mask cache
            (``<mask_dir>/<image stem>.npz``, see tools/gen_sam_masks.py).
            With ``sam_generator`` too, missing files are generated and
            written there (resumable).
        alpha (float): Background exponent (see ``scoring``). Defaults
            to 1.0 (plain mask-mean vote of the probabilities).
        scoring (str): ``'prob'`` (the authors' post-processing of
            segmentation outputs) or ``'eq8'`` (min-max + (1-max)^alpha).
        fingerprint (str, optional): Expected SAM fingerprint of the cached
            files; checked when given.
        sam_generator (dict, optional): Config of a mask generator built
            from MODELS (e.g. ``dict(type='SAMQuasiSuperpixelGenerator',
            model_type='vit_h', checkpoint=...)``) exposing
            ``generate_record(rgb_uint8_hwc) -> SAMMaskRecord``; used when
            ``mask_dir`` is None or lacks an image.
        uncovered (str): ``'pred'`` keeps the merged argmax where no mask
            covers a pixel; ``'background'`` paints background there.
        background_index (int, optional): Background channel (0 for VOC /
            COCO); None for datasets without background (``scoring='prob'``
            only).
        present_classes (str): ``'pred'`` or ``'all'``.
        data_preprocessor (dict | nn.Module, optional): See BaseTTAModel.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 mask_dir: Optional[str] = None,
                 alpha: float = 1.0,
                 scoring: str = 'prob',
                 fingerprint: Optional[str] = None,
                 sam_generator: Optional[Dict[str, Any]] = None,
                 uncovered: str = 'pred',
                 background_index: Optional[int] = 0,
                 present_classes: str = 'pred',
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None
                 ) -> None:
        super().__init__(module, data_preprocessor, background_index,
                         present_classes)
        if mask_dir is None and sam_generator is None:
            raise ValueError(
                'SAMSTTAModel needs tta_model.mask_dir (cached SAM masks '
                'from tools/gen_sam_masks.py) or tta_model.sam_generator '
                '(generate them on the fly).')
        if scoring not in ('prob', 'eq8'):
            raise ValueError("tta_model.scoring must be 'prob' or 'eq8', "
                             f'got {scoring!r}')
        if uncovered not in ('pred', 'background'):
            raise ValueError("tta_model.uncovered must be 'pred' or "
                             f"'background', got {uncovered!r}")
        if self.background_index is None and (scoring == 'eq8'
                                              or uncovered == 'background'):
            raise ValueError(
                "tta_model.background_index=None (no background class) "
                "works only with scoring='prob' and uncovered='pred'.")
        self.mask_dir = mask_dir
        self.alpha = float(alpha)
        self.scoring = scoring
        self.fingerprint = fingerprint
        self.sam_generator_cfg = sam_generator
        self.masks = SAMMaskSource(
            mask_dir,
            fingerprint,
            sam_generator,
            owner='tta_model',
            build=MODELS.build)
        self.uncovered = uncovered

    @property
    def generator(self) -> Any:
        """The mask generator, built on first use (SAM is heavy)."""
        return self.masks.generator

    def load_record(self, data_sample: Any) -> SAMMaskRecord:
        """Quasi-superpixels of a data sample's image.

        From ``mask_dir`` when cached, else generated with ``sam_generator``
        (and written to ``mask_dir`` atomically when it is set).
        """
        size = tuple(int(v) for v in data_sample.ori_shape[:2])
        return self.masks.get(data_sample.img_path, size)

    def refine(self, probs: Tensor, pred: Tensor, data_sample: Any) -> Tensor:
        """SAMS labels of one image's merged probabilities.

        Args:
            probs (Tensor): (C, H, W) merged probabilities.
            pred (Tensor): (H, W) their argmax.
            data_sample (SegDataSample): Carries ``img_path``, ``ori_shape``.

        Returns:
            Tensor: (H, W) int64 class indices.
        """
        record = self.load_record(data_sample)
        present = self.present(pred, probs.shape[0])
        maps, options = self.sams_inputs(probs, present)
        res = sams_seed_from_record(maps, record, present, **options)
        return self.labels_from_seed(res, pred)

    def sams_inputs(self, probs: Tensor,
                    present: Tensor) -> Tuple[Tensor, Dict[str, Any]]:
        """The maps SAMS scores and its options, by ``scoring``.

        Args:
            probs (Tensor): (C, H, W) merged probabilities.
            present (Tensor): (P,) foreground channels to refine.

        Returns:
            tuple[Tensor, dict]: The maps (``'eq8'`` and no background:
            the present channels; ``'prob'``: the background channel
            first) and the :func:`~.seeding.sams_seed` options.
        """
        bg = self.background_index
        if self.scoring == 'eq8':
            return probs[present], dict(alpha=self.alpha)
        if bg is None:
            return probs[present], dict(
                norm_first='no_norm', bg_method={'method': 'no_bg'})
        channels = torch.cat([present.new_tensor([bg]), present])
        return probs[channels], dict(
            norm_first='no_norm',
            bg_method={
                'method': 'alpha_bg',
                'alpha': self.alpha
            })

    def labels_from_seed(self, res: SAMSResult, pred: Tensor) -> Tensor:
        """Class indices from a SAMS result over the present channels.

        Args:
            res (SAMSResult): ``seed`` = channel + 1 (0: background or
                uncovered) and ``mask_map`` (-1 where no mask covers).
            pred (Tensor): (H, W) merged argmax.

        Returns:
            Tensor: (H, W) int64 class indices: background where the seed
            is 0, the merged argmax where no mask covers a pixel
            (``uncovered='pred'``).
        """
        bg = self.background_index
        seed = res.seed.long()
        refined = seed - 1  # seed = channel + 1, 0 = background / uncovered
        if bg is not None:
            refined = torch.where(seed == 0, torch.full_like(seed, bg),
                                  refined)
        if self.uncovered == 'pred':
            refined = torch.where(res.mask_map >= 0, refined, pred)
        return refined


@MODELS.register_module()
class CRFTTAModel(_RefiningTTAModel):
    """Multi-scale / flip TTA + dense CRF refinement (the SAMS comparator).

    The CRF (pydensecrf2, CLIP-ES parameters by default) gets the merged
    probabilities of the background and the present classes as unary and
    the RGB image read from ``img_path``.

    Args:
        module (dict | nn.Module): The segmentor.
        crf_cfg (dict, optional): :func:`mmwsss.functional.crf.dense_crf`
            parameters; defaults to ``CLIP_ES_CRF``.
        background_index (int, optional): Background channel; None if the
            dataset has none.
        present_classes (str): ``'pred'`` or ``'all'``.
        data_preprocessor (dict | nn.Module, optional): See BaseTTAModel.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 crf_cfg: Optional[Dict[str, Any]] = None,
                 background_index: Optional[int] = 0,
                 present_classes: str = 'pred',
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None
                 ) -> None:
        super().__init__(module, data_preprocessor, background_index,
                         present_classes)
        self.crf_cfg = dict(CLIP_ES_CRF if crf_cfg is None else crf_cfg)

    def refine(self, probs: Tensor, pred: Tensor, data_sample: Any) -> Tensor:
        """Dense-CRF labels of one image's merged probabilities."""
        present = self.present(pred, probs.shape[0])
        if self.background_index is not None:
            present = torch.cat(
                [present.new_tensor([self.background_index]), present])
        if present.numel() < 2:
            return pred
        image = read_rgb_image(data_sample.img_path)
        if tuple(image.shape[:2]) != tuple(pred.shape):
            raise ValueError(f'{data_sample.img_path} is {image.shape[:2]} '
                             f'but the prediction is {tuple(pred.shape)}')
        q = dense_crf(image, probs[present].float().cpu().numpy(),
                      **self.crf_cfg)
        idx = torch.as_tensor(q.argmax(axis=0), device=pred.device)
        return present[idx]
