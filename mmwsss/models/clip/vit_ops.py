"""Tensor operations on open_clip transformer blocks (no OpenMMLab imports).

open_clip's blocks call ``nn.MultiheadAttention(..., need_weights=False)``,
which dispatches to fused ``scaled_dot_product_attention`` kernels: fast, but
they return no attention probabilities and some (the CPU flash kernel) have
no double backward. The functions here run the same block with the attention
written out (``softmax(q k^T / sqrt(d) + mask) v``) from the block's own
weights, so that

* the head-averaged attention probabilities come out of the SAME pass that
  produces the features (CAA needs them), and
* gradients of any order flow through it (second-order Softmax-GradCAM, CoOp
  style prompt learning through the text encoder), also under ``vmap``
  (``autograd.grad(..., is_grads_batched=True)``).

All tensors are batch first, ``(B, N, C)``.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_standard_block(block: nn.Module, where: str = 'block') -> None:
    """Raise if ``block`` is not a plain open_clip ``ResidualAttentionBlock``.

    Supported: ``ln_1 -> nn.MultiheadAttention (packed q/k/v projection, no
    bias_k/v) -> ls_1 -> residual -> ln_2 -> mlp -> ls_2 -> residual``, which
    is what open_clip builds for every OpenAI / LAION ViT config.

    Args:
        block (nn.Module): A transformer block.
        where (str): Name used in the error message.
    """
    for name in ('ln_1', 'attn', 'ln_2', 'mlp'):
        if not hasattr(block, name):
            raise NotImplementedError(
                f'{where}: {type(block).__name__} has no "{name}"; only '
                'open_clip ResidualAttentionBlock transformers are supported')
    attn = block.attn
    if not isinstance(attn, nn.MultiheadAttention):
        raise NotImplementedError(
            f'{where}: attention is {type(attn).__name__}, expected '
            'nn.MultiheadAttention (custom open_clip blocks with qk-norm or '
            'scaled cosine attention are not supported)')
    if (not attn._qkv_same_embed_dim or attn.bias_k is not None
            or attn.add_zero_attn or hasattr(block, 'ln_1_kv')):
        raise NotImplementedError(
            f'{where}: only self-attention with a packed in_proj_weight is '
            'supported')


def multi_head_attention(
        attn: nn.MultiheadAttention,
        x: Tensor,
        attn_mask: Optional[Tensor] = None,
        need_weights: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
    """Self-attention of ``nn.MultiheadAttention`` written out explicitly.

    Same result as ``attn(x, x, x, attn_mask=attn_mask)[0]`` (up to float
    rounding), for either ``batch_first`` setting of ``attn`` since only its
    weights are used. Dropout is not applied (CLIP uses none).

    Args:
        attn (nn.MultiheadAttention): Module providing ``in_proj_weight``,
            ``in_proj_bias``, ``out_proj`` and ``num_heads``.
        x (Tensor): (B, N, C) input tokens.
        attn_mask (Tensor, optional): (N, N) additive float mask (e.g. the
            causal ``-inf`` mask of the text encoder) or boolean mask where
            True means "not allowed", as in ``nn.MultiheadAttention``.
        need_weights (bool): Also return the attention probabilities
            averaged over heads.

    Returns:
        tuple[Tensor, Tensor | None]: (B, N, C) output and the (B, N, N)
        head-averaged attention probabilities (rows sum to 1) or None.
    """
    B, N, C = x.shape
    heads = attn.num_heads
    head_dim = C // heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    q = q * head_dim**-0.5
    logits = q @ k.transpose(-2, -1)  # (B, heads, N, N)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            logits = logits.masked_fill(attn_mask, float('-inf'))
        else:
            logits = logits + attn_mask.to(logits.dtype)
    probs = logits.softmax(dim=-1)
    out = (probs @ v).transpose(1, 2).reshape(B, N, C)
    out = F.linear(out, attn.out_proj.weight, attn.out_proj.bias)
    weights = probs.mean(dim=1) if need_weights else None
    return out, weights


def block_forward(
        block: nn.Module,
        x: Tensor,
        attn_mask: Optional[Tensor] = None,
        need_weights: bool = False,
        ln_1_out: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
    """One open_clip ``ResidualAttentionBlock`` with explicit attention.

    Args:
        block (nn.Module): The block (see :func:`check_standard_block`).
        x (Tensor): (B, N, C) residual stream entering the block.
        attn_mask (Tensor, optional): Additive (N, N) attention mask.
        need_weights (bool): Return the head-averaged attention.
        ln_1_out (Tensor, optional): Use this tensor as ``block.ln_1(x)``
            (e.g. a detached leaf that gradients are taken with respect to).

    Returns:
        tuple[Tensor, Tensor | None]: (B, N, C) block output and the
        (B, N, N) attention probabilities or None.
    """
    h = block.ln_1(x) if ln_1_out is None else ln_1_out
    a, weights = multi_head_attention(block.attn, h, attn_mask, need_weights)
    x = x + block.ls_1(a) if hasattr(block, 'ls_1') else x + a
    m = block.mlp(block.ln_2(x))
    x = x + block.ls_2(m) if hasattr(block, 'ls_2') else x + m
    return x, weights


def native_block_forward(block: nn.Module, x: Tensor,
                         batch_first: bool) -> Tensor:
    """Run ``block`` with its own (fused-kernel) forward on batch-first ``x``.

    Args:
        block (nn.Module): open_clip block.
        x (Tensor): (B, N, C) tokens.
        batch_first (bool): Whether the block's transformer expects (B, N, C)
            (open_clip >= 2.24) or (N, B, C) (older releases).

    Returns:
        Tensor: (B, N, C) block output.
    """
    if batch_first:
        return block(x)
    return block(x.transpose(0, 1)).transpose(0, 1)


def interpolate_pos_embed(pos_embed: Tensor, src_grid: Tuple[int, int],
                          dst_grid: Tuple[int, int]) -> Tensor:
    """Resize a ViT positional embedding to another patch grid.

    The class-token row is kept; the patch rows, seen as a (C, h, w) image,
    are resized with ``F.interpolate(mode='bilinear', align_corners=False)``,
    as CLIP-ES (``upsample_pos_emb``, ``F.upsample`` default
    ``align_corners``) and FMA-WSSS do for inputs larger than 224.

    Args:
        pos_embed (Tensor): (1 + h0 * w0, C) pretrained embedding.
        src_grid (tuple[int, int]): Pretrained grid ``(h0, w0)``.
        dst_grid (tuple[int, int]): Wanted grid ``(h, w)``.

    Returns:
        Tensor: (1 + h * w, C); ``pos_embed`` itself when the grids match.
    """
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    if pos_embed.shape[0] != 1 + src_grid[0] * src_grid[1]:
        raise ValueError(
            f'positional embedding has {pos_embed.shape[0]} rows, expected '
            f'1 + {src_grid[0]}*{src_grid[1]}')
    if src_grid == dst_grid:
        return pos_embed
    cls_pos, patch_pos = pos_embed[:1], pos_embed[1:]
    C = pos_embed.shape[1]
    patch_pos = patch_pos.reshape(1, src_grid[0], src_grid[1],
                                  C).permute(0, 3, 1, 2)
    # interpolate in float32 (half precision bilinear is not on every device)
    patch_pos = F.interpolate(
        patch_pos.float(), size=dst_grid, mode='bilinear',
        align_corners=False).to(pos_embed.dtype)
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(-1, C)
    return torch.cat([cls_pos, patch_pos], dim=0)


def pad_to_patch_multiple(img: Tensor,
                          patch: int) -> Tuple[Tensor, Tuple[int, int]]:
    """Zero-pad images on the bottom/right to multiples of the patch size.

    Zero is the mean colour for normalised inputs (the value mmseg's
    ``SegDataPreProcessor`` pads with after normalisation). A pixel at
    ``(y, x)`` of the input stays at ``(y, x)``, so ``grid`` cells map to
    the input by ``y // patch``; crop results back with ``[:H, :W]``.

    Args:
        img (Tensor): (B, 3, H, W) images.
        patch (int): Patch size.

    Returns:
        tuple[Tensor, tuple[int, int]]: The padded images (B, 3, H', W')
        with ``H' = ceil(H / patch) * patch`` (same for W) and the original
        ``(H, W)``. The input itself is returned when no padding is needed.
    """
    if img.dim() != 4:
        raise ValueError(
            f'expected images of shape (B, 3, H, W), got {tuple(img.shape)}')
    H, W = img.shape[-2:]
    pad_h = (-H) % patch
    pad_w = (-W) % patch
    if pad_h or pad_w:
        img = F.pad(img, (0, pad_w, 0, pad_h), value=0.)
    return img, (H, W)
