"""The trainable parts of WeCLIP / WeCLIP+: the SegFormer-style fusion head
and the transformer decoder shared by the CLIP and DINO branches.

Submodule names are the authors' (``WeCLIP+/WeCLIP_Plus/segformer_head.py``
and ``Decoder/TransDecoder.py``), so the keys of their saved state dicts map
onto these modules 1:1 (:func:`~.checkpoint.convert_weclip_state_dict`):

* ``SegFormerFuseHead``: ``linears_modulelist.{i}.proj`` /
  ``.proj_2`` (``MLP``), ``linear_fuse``, ``dropout``;
* ``DecoderTransformer``: ``transformer.resblocks.{i}.attn`` (PyTorch's
  ``in_proj_weight`` / ``in_proj_bias`` / ``out_proj`` layout, as the
  authors' ``myAtt.MultiheadAttention``), ``ln_1``, ``mlp.c_fc``,
  ``mlp.c_proj``, ``ln_2``, and ``linear_pred``.

Float32 throughout: the authors round the decoder's attention
out-projection to fp16 inside ``forward`` (reference section 1); this
implementation takes that cast as the identity.
"""
from collections import OrderedDict
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = [
    'MLP', 'SegFormerFuseHead', 'QuickGELU', 'DecoderBlock',
    'DecoderTransformer'
]


class MLP(nn.Module):
    """Token embedding ``Linear(C, D) -> ReLU -> Linear(D, D)``.

    Args:
        input_dim (int): Input channels C.
        embed_dim (int): Output channels D.
    """

    def __init__(self, input_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, embed_dim)
        self.proj_2 = nn.Linear(embed_dim, embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, h, w) -> (B, h*w, D) tokens."""
        x = x.flatten(2).transpose(1, 2)
        return self.proj_2(F.relu(self.proj(x)))


@MODELS.register_module()
class SegFormerFuseHead(BaseModule):
    """SegFormer-style fusion of ``n`` feature maps of one width.

    Every map goes through its own :class:`MLP`; the ``n`` results are
    concatenated along the channels in input order, fused by a 1x1
    convolution and passed through ``Dropout2d``.

    Args:
        in_channels (int): Channels C of every input map (768 for CLIP
            ViT-B/16 tokens, 384 for DINOv2 ViT-S/14).
        num_inputs (int): Number n of maps (the authors' ``index``: 1 in
            WeCLIP+, 11 in WeCLIP).
        embed_dim (int): Output channels. Defaults to 256.
        dropout (float): ``Dropout2d`` probability after the fusion (the
            authors' 0.1; active in train mode only). Defaults to 0.1.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_inputs: int = 1,
                 embed_dim: int = 256,
                 dropout: float = 0.1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_inputs < 1:
            raise ValueError(f'SegFormerFuseHead: num_inputs={num_inputs}')
        self.num_inputs = int(num_inputs)
        self.linears_modulelist = nn.ModuleList(
            [MLP(in_channels, embed_dim) for _ in range(self.num_inputs)])
        self.linear_fuse = nn.Conv2d(embed_dim * self.num_inputs, embed_dim,
                                     1)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, feats: Tensor) -> Tensor:
        """Fuse the maps.

        Args:
            feats (Tensor): (n, B, C, h, w) maps, in layer order.

        Returns:
            Tensor: (B, embed_dim, h, w).
        """
        if feats.dim() != 5 or feats.shape[0] != self.num_inputs:
            raise ValueError(
                f'SegFormerFuseHead expects ({self.num_inputs}, B, C, h, w) '
                f'features, got {tuple(feats.shape)}')
        n, b, _, h, w = feats.shape
        outs = [
            mlp(feats[i].float()).transpose(1, 2).reshape(b, -1, h, w)
            for i, mlp in enumerate(self.linears_modulelist)
        ]
        return self.dropout(self.linear_fuse(torch.cat(outs, dim=1)))


class QuickGELU(nn.Module):
    """CLIP's activation ``x * sigmoid(1.702 x)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class DecoderBlock(nn.Module):
    """A CLIP-form pre-LN block: ``x += attn(ln_1 x)``,
    ``x += mlp(ln_2 x)``, MLP ``width -> 4 width -> width`` with QuickGELU,
    no attention mask, no dropout.

    Args:
        width (int): Token width.
        heads (int): Attention heads.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = nn.Sequential(
            OrderedDict([('c_fc', nn.Linear(width, width * 4)),
                         ('gelu', QuickGELU()),
                         ('c_proj', nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width, eps=1e-5)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """(L, B, D) tokens -> tokens and the (B, L, L) head-averaged
        attention probabilities."""
        y = self.ln_1(x)
        out, attn = self.attn(
            y, y, y, need_weights=True, average_attn_weights=True)
        x = x + out
        x = x + self.mlp(self.ln_2(x))
        return x, attn


class _Transformer(nn.Module):
    """``resblocks`` of :class:`DecoderBlock` (the authors' names)."""

    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(
            *[DecoderBlock(width, heads) for _ in range(layers)])

    def forward(self, x: Tensor) -> Tuple[Tensor, List[Tensor]]:
        attns = []
        for blk in self.resblocks:
            x, a = blk(x)
            attns.append(a)
        return x, attns


@MODELS.register_module()
class DecoderTransformer(BaseModule):
    """The WeCLIP decoder: a small transformer over the fused tokens and a
    1x1 classifier (reference section 2.6). One instance is shared by the
    CLIP and the DINO branch of WeCLIP+.

    Args:
        width (int): Token width. Defaults to 256.
        layers (int): Blocks. Defaults to 3.
        heads (int): Attention heads (8 of 32 channels). Defaults to 8.
        num_classes (int): Output classes incl. background (21 for VOC).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 width: int = 256,
                 layers: int = 3,
                 heads: int = 8,
                 num_classes: int = 21,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.transformer = _Transformer(width, layers, heads)
        self.linear_pred = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tuple[Tensor, List[Tensor]]:
        """Decode.

        Args:
            x (Tensor): (B, width, h, w) fused features.

        Returns:
            tuple[Tensor, list[Tensor]]: (B, num_classes, h, w) logits and
            the (B, h*w, h*w) attention of every block.
        """
        b, c, h, w = x.shape
        tokens = x.reshape(b, c, h * w).permute(2, 0, 1)
        tokens, attns = self.transformer(tokens)
        x = tokens.permute(1, 2, 0).reshape(b, c, h, w)
        return self.linear_pred(x), attns
