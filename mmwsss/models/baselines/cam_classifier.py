"""Classic CAM baseline (WSSS survey sec. 2.1, eqs. 1-2).

A CNN (ResNet-50 by default) with a bias-free 1x1 convolution classifier
after global average pooling, trained with multi-label BCE on image-level
labels; at test time the CAMs of the labelled classes (``ReLU(w_c^T F)``,
optionally over several scales and flips, as IRN computes them) become seeds
through a seeder (:mod:`mmwsss.models.seeders`): a background threshold by
default, SAMS with ``seeder=dict(type='SAMSSeeder', ...)``.
"""
from typing import Any, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from .. import seeders  # noqa: F401  (registers the default seeder)
from mmwsss.functional.cam_ops import class_activation_maps, multi_hot, multilabel_bce
from .sam_text import image_label_classes

__all__ = ['CAMClassifier']


@MODELS.register_module()
class CAMClassifier(BaseModel):
    """Multi-label classifier whose CAMs make seeds.

    Args:
        backbone (dict): Backbone config (e.g. ``mmpretrain.ResNet``); its
            last output is the feature map ``F``.
        in_channels (int): Channels of ``F`` (2048 for ResNet-50).
        num_classes (int): Foreground classes K (20 for VOC).
        seeder (dict): Seeder config; ``ThresholdSeeder`` (IRN's CAM
            threshold 0.15) by default.
        test_scales (Sequence[float]): Input scales whose CAMs are summed
            (IRN: 1.0, 0.5, 1.5, 2.0).
        test_flip (bool): Add the CAMs of the flipped image (IRN: True).
        loss_weight (float): Weight of the BCE loss.
        data_preprocessor (dict, optional): ``SegDataPreProcessor`` with the
            backbone's normalisation.
        init_cfg (dict, optional): Initialisation; the backbone's own
            ``init_cfg`` loads ImageNet weights.
    """

    def __init__(self,
                 backbone: dict,
                 in_channels: int = 2048,
                 num_classes: int = 20,
                 seeder: Optional[dict] = None,
                 test_scales: Sequence[float] = (1.0, ),
                 test_flip: bool = False,
                 loss_weight: float = 1.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.classifier = nn.Conv2d(in_channels, num_classes, 1, bias=False)
        self.num_classes = int(num_classes)
        self.seeder = MODELS.build(
            seeder or dict(type='ThresholdSeeder', bg_threshold=0.15))
        self.test_scales = tuple(float(s) for s in test_scales)
        if not self.test_scales:
            raise ValueError('model.test_scales must not be empty')
        self.test_flip = bool(test_flip)
        self.loss_weight = float(loss_weight)

    def init_weights(self) -> None:
        """Backbone per its ``init_cfg``; classifier Xavier (IRN)."""
        super().init_weights()
        nn.init.xavier_uniform_(self.classifier.weight)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """The last feature map ``F`` (B, C, h, w)."""
        feats = self.backbone(inputs)
        return feats[-1] if isinstance(feats, (list, tuple)) else feats

    def loss(self, inputs: Tensor,
             data_samples: Sequence[SegDataSample]) -> dict:
        """Eq. 1 on ``z = W · GAP(F)``.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            data_samples (Sequence[SegDataSample]): With ``img_labels``.

        Returns:
            dict: ``loss_cls``.
        """
        names = [ds.metainfo.get('img_path', '?') for ds in data_samples]
        for ds, name in zip(data_samples, names):
            if 'img_labels' not in ds.metainfo:
                raise KeyError(f'{name}: data sample has no img_labels')
        targets = multi_hot([ds.img_labels for ds in data_samples],
                            self.num_classes, names).to(inputs.device)
        pooled = self.extract_feat(inputs).mean((2, 3), keepdim=True)
        logits = self.classifier(pooled).flatten(1)
        return dict(loss_cls=self.loss_weight *
                    multilabel_bce(logits, targets))

    def image_cams(self, image: Tensor, classes: Tensor) -> Tensor:
        """CAMs of one image summed over the test scales (and flips), at the
        feature resolution of scale 1.

        Args:
            image (Tensor): (3, H, W) normalised image.
            classes (Tensor): (P,) 0-based classes.

        Returns:
            Tensor: (P, h, w) non-negative CAMs.
        """
        weight = self.classifier.weight
        total = None
        for scale in self.test_scales:
            x = image[None]
            if scale != 1.0:
                size = [max(1, round(s * scale)) for s in image.shape[-2:]]
                x = F.interpolate(
                    x, size, mode='bilinear', align_corners=False)
            if self.test_flip:
                x = torch.cat([x, x.flip(-1)])
            feats = self.extract_feat(x)
            cams = class_activation_maps(feats[0], weight, classes)
            if self.test_flip:
                cams = cams + class_activation_maps(feats[1], weight,
                                                    classes).flip(-1)
            if total is None:
                total = cams
            else:
                total = total + F.interpolate(
                    cams[None],
                    total.shape[-2:],
                    mode='bilinear',
                    align_corners=False)[0]
        return total

    @torch.no_grad()
    def predict(self, inputs: Tensor,
                data_samples: Sequence[SegDataSample]) -> List[SegDataSample]:
        """Seeds of the labelled classes at the original image size.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images (original size,
                padded in a batch).
            data_samples (Sequence[SegDataSample]): With ``img_labels``,
                ``img_shape``, ``ori_shape`` (and ``img_path`` for SAMS).

        Returns:
            list[SegDataSample]: With ``pred_sem_seg`` (1, H, W) and the
            CAMs as ``seg_logits`` ((P, h, w), classes in
            ``metainfo['cam_classes']``).
        """
        for i, ds in enumerate(data_samples):
            h, w = ds.metainfo.get('img_shape', inputs.shape[-2:])[:2]
            classes = torch.as_tensor(
                image_label_classes(ds, self.num_classes),
                dtype=torch.long,
                device=inputs.device) - 1
            cams = self.image_cams(inputs[i, :, :h, :w], classes)
            size = tuple(ds.metainfo.get('ori_shape', (h, w))[:2])
            seed = self.seeder(cams, classes, size, data_sample=ds)
            ds.set_metainfo(dict(cam_classes=(classes + 1).tolist()))
            ds.set_data(
                dict(
                    pred_sem_seg=PixelData(data=seed[None].long()),
                    seg_logits=PixelData(data=cams)))
        return list(data_samples)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[Sequence[SegDataSample]] = None,
                mode: str = 'tensor') -> Any:
        """mmengine entry point.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            data_samples (Sequence[SegDataSample], optional): Samples.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'`` (class
                logits).

        Returns:
            dict | list | Tensor: Losses, samples with seeds, or (B, K)
            logits.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            pooled = self.extract_feat(inputs).mean((2, 3), keepdim=True)
            return self.classifier(pooled).flatten(1)
        raise ValueError(f'CAMClassifier: unknown mode {mode!r}')
