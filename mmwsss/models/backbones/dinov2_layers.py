"""The layers of facebookresearch/dinov2's ViT, in its key layout, and its
positional-embedding interpolation (no OpenMMLab imports).

Module and parameter names are those of the official hub models
(``dinov2/layers/*.py``), so an official ``*_pretrain.pth`` state dict loads
with ``strict=True``:

* :class:`PatchEmbed`: ``proj`` (Conv2d, kernel = stride = patch);
* :class:`Block`: ``norm1``, ``attn.qkv``, ``attn.proj``, ``ls1.gamma``,
  ``norm2``, ``mlp`` (:class:`Mlp`: ``fc1``/``fc2``, or :class:`SwiGLUFFN`:
  ``w12``/``w3`` for ViT-g/14), ``ls2.gamma``.

The computation follows the hub code: pre-norm blocks with LayerNorm eps
1e-6, exact (erf) GELU, layer scale on both branches, softmax attention
with ``q`` scaled by ``head_dim ** -0.5``, no dropout / drop path (inference).
"""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    'PatchEmbed', 'Attention', 'Mlp', 'SwiGLUFFN', 'LayerScale', 'Block',
    'swiglu_hidden_features', 'interpolate_dinov2_pos_embed', 'FFN_LAYERS'
]

#: LayerNorm epsilon of every DINOv2 norm.
LN_EPS = 1e-6


class PatchEmbed(nn.Module):
    """(B, 3, H, W) -> (B, (H/p)*(W/p), C) patch tokens, row-major.

    Args:
        patch_size (int): Patch size p (14).
        embed_dim (int): Width C.
    """

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(
            3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f'DINOv2 patch embedding: {H}x{W} is not a multiple of the '
                f'patch size {self.patch_size}')
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with a packed ``qkv`` projection.

    Args:
        dim (int): Width C.
        num_heads (int): Heads (C must divide).
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'DINOv2 attention: width {dim} is not a '
                             f'multiple of {num_heads} heads')
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads,
                                  C // self.num_heads).permute(2, 0, 3, 1, 4)
        # softmax(q k^T / sqrt(head_dim)) v, the hub's scale
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))`` with exact GELU.

    Args:
        dim (int): Width C.
        hidden (int): Hidden width (4C).
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


def swiglu_hidden_features(hidden: int) -> int:
    """The hub's SwiGLU width: 2/3 of ``hidden``, rounded up to a multiple
    of 8 (6144 -> 4096 for ViT-g/14)."""
    return (int(hidden * 2 / 3) + 7) // 8 * 8


class SwiGLUFFN(nn.Module):
    """``w3(SiLU(a) * b)`` with ``(a, b)`` the halves of ``w12(x)`` (the
    hub's ``SwiGLUFFNFused``, ViT-g/14).

    Args:
        dim (int): Width C.
        hidden (int): Nominal hidden width (4C), reduced by
            :func:`swiglu_hidden_features`.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        hidden = swiglu_hidden_features(hidden)
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(a) * b)


#: ``ffn`` name of an architecture -> FFN class.
FFN_LAYERS = {'mlp': Mlp, 'swiglu': SwiGLUFFN}


class LayerScale(nn.Module):
    """``x * gamma`` per channel.

    Args:
        dim (int): Width C.
        init_value (float): Initial ``gamma`` (the hub models use 1.0).
    """

    def __init__(self, dim: int, init_value: float = 1.0) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, ), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Block(nn.Module):
    """``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``.

    Args:
        dim (int): Width C.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden width / C.
        ffn (str): ``'mlp'`` or ``'swiglu'``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.0,
                 ffn: str = 'mlp') -> None:
        super().__init__()
        if ffn not in FFN_LAYERS:
            raise ValueError(f'DINOv2 ffn={ffn!r}; expected one of '
                             f'{tuple(FFN_LAYERS)}')
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = FFN_LAYERS[ffn](dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


def interpolate_dinov2_pos_embed(pos_embed: Tensor,
                                 grid: Tuple[int, int],
                                 offset: float = 0.1,
                                 antialias: bool = False) -> Tensor:
    """The hub's ``interpolate_pos_encoding`` for a ``grid = (h, w)`` of
    patches.

    The pretrained (M x M) patch rows are resized bicubically
    (``align_corners=False``) with ``scale_factor = ((h + offset) / M,
    (w + offset) / M)``, NOT ``size=(h, w)``: PyTorch then maps output
    index ``i`` to source ``(i + 0.5) * M / (h + offset) - 0.5``, so the
    result differs from a plain resize to ``(h, w)`` (timm's). The output
    grid must come out as ``(h, w)`` (the hub asserts it). Computed in
    float32, returned in ``pos_embed``'s dtype; the class row is kept. The
    pretrained grid itself is returned unchanged.

    Args:
        pos_embed (Tensor): (1, 1 + M*M, C) pretrained embedding.
        grid (tuple[int, int]): Patch grid ``(h, w)`` of the input.
        offset (float): The hub's ``interpolate_offset`` (0.1). 0 resizes
            with ``size=(h, w)`` instead, as the hub does then.
        antialias (bool): The hub's ``interpolate_antialias`` (False).

    Returns:
        Tensor: (1, 1 + h*w, C).
    """
    n = pos_embed.shape[1] - 1
    m = int(math.sqrt(n))
    if m * m != n:
        raise ValueError(f'DINOv2 pos_embed has {n} patch rows, not a '
                         'square grid')
    h, w = int(grid[0]), int(grid[1])
    if (h, w) == (m, m):
        return pos_embed
    dim = pos_embed.shape[-1]
    patch = pos_embed[:, 1:].float().reshape(1, m, m, dim).permute(0, 3, 1, 2)
    if offset:
        kwargs = dict(scale_factor=((h + offset) / m, (w + offset) / m))
    else:
        kwargs = dict(size=(h, w))
    patch = F.interpolate(patch, mode='bicubic', antialias=antialias, **kwargs)
    if tuple(patch.shape[-2:]) != (h, w):
        raise RuntimeError(
            f'DINOv2 position interpolation gave a {tuple(patch.shape[-2:])} '
            f'grid for {(h, w)} (offset {offset})')
    patch = patch.permute(0, 2, 3, 1).reshape(1, h * w, dim)
    return torch.cat([pos_embed[:, :1].float(), patch],
                     dim=1).to(pos_embed.dtype)
