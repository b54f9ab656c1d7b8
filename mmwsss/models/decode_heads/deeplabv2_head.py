"""DeepLab-v2 ASPP head (Chen et al., TPAMI 2017), as WSSS papers train it.

The classic DeepLab-v2 classifier on ResNet-101: four parallel 3x3 atrous
convolutions with rates 6, 12, 18 and 24 map the backbone feature (stride
8) **straight to class logits**, and the four logit maps are **summed**. No
image-pooling branch, no 1x1 branch, no BN/ReLU, no projection conv
(unlike DeepLab-v3's ``ASPPHead`` in mmseg). WSSS works (and the
foundation-model WSSS survey) report their segmentation numbers with this
head, so it is offered here for comparison with those tables.
"""
from typing import List, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """DeepLab-v2 ASPP: summed parallel atrous 3x3 convs to class logits.

    Each branch is ``nn.Conv2d(in_channels, out_channels, 3, padding=r,
    dilation=r, bias=True)``; the head's output is the sum of the branches.
    The weights are initialised N(0, 0.01) with zero bias, as in DeepLab.
    mmseg's ``conv_seg`` is not used (the branches already produce the
    logits) and is removed, so no unused parameters reach DDP.

    Args:
        in_channels (int): Channels of the selected backbone feature
            (2048 for ResNet-101's last stage).
        num_classes (int): Number of classes (background included).
        dilations (Sequence[int]): Atrous rates of the parallel branches.
            Defaults to (6, 12, 18, 24) (DeepLab-v2 ASPP-L).
        channels (int, optional): Accepted for config compatibility with
            other mmseg heads; it must be None or equal to the number of
            output channels, because the branches output logits directly.
        dropout_ratio (float): Dropout2d applied to the backbone feature
            before the branches. Defaults to 0 (DeepLab-v2 ResNet-101 has
            no dropout in its classifier).
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to N(0, 0.01), bias 0, on the branches.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``in_index``,
            ``loss_decode``, ``align_corners``, ``out_channels`` ...).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 channels: Optional[int] = None,
                 dropout_ratio: float = 0.,
                 init_cfg: OptConfigType = dict(
                     type='Normal',
                     std=0.01,
                     bias=0.,
                     override=dict(name='aspp_convs')),
                 **kwargs) -> None:
        if kwargs.get('input_transform') is not None:
            raise ValueError('DeepLabV2Head takes a single feature map: '
                             'decode_head.input_transform must be None, got '
                             f'{kwargs["input_transform"]!r}')
        if not isinstance(in_channels, int):
            raise TypeError('decode_head.in_channels of DeepLabV2Head must '
                            f'be an int, got {in_channels!r}')
        dilations = tuple(int(d) for d in dilations)
        if len(dilations) == 0 or min(dilations) < 1:
            raise ValueError('decode_head.dilations must be a non-empty '
                             f'sequence of rates >= 1, got {dilations}')
        out_channels = kwargs.get('out_channels') or num_classes
        if channels is not None and channels != out_channels:
            raise ValueError(
                'DeepLabV2Head maps features straight to logits, so '
                'decode_head.channels must be None (or equal to the number '
                f'of output channels {out_channels}), got {channels}. When '
                'replacing another head in an inherited config, use '
                "decode_head=dict(_delete_=True, type='DeepLabV2Head', ...).")
        super().__init__(
            in_channels,
            out_channels,
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs)
        del self.conv_seg
        self.dilations = dilations
        self.aspp_convs = nn.ModuleList(
            nn.Conv2d(
                self.in_channels,
                self.out_channels,
                kernel_size=3,
                padding=rate,
                dilation=rate,
                bias=True) for rate in dilations)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Sum of the atrous branches' logits.

        Args:
            inputs (list[Tensor]): Multi-level backbone features; the one
                at ``in_index`` is used, shape (N, in_channels, h, w).

        Returns:
            Tensor: Logits of shape (N, out_channels, h, w).
        """
        x = self._transform_inputs(inputs)
        if self.dropout is not None:
            x = self.dropout(x)
        out = self.aspp_convs[0](x)
        for conv in self.aspp_convs[1:]:
            out = out + conv(x)
        return out

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Not used: the ASPP branches already output class logits."""
        raise NotImplementedError(
            'DeepLabV2Head has no conv_seg; forward() returns logits.')


__all__ = ['DeepLabV2Head']
