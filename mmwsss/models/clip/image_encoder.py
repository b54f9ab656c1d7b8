"""The image side of :class:`~.frozen_clip.FrozenCLIP`
(:meth:`CLIPImageEncoderMixin.encode_image`): one batched pass that returns

* the image embedding used for classification logits (mean of the projected
  patch tokens as in FMA-WSSS, or the class token as in plain CLIP);
* the Softmax-GradCAM target: the last block's ``ln_1`` output, as a leaf
  tensor with ``requires_grad`` from which the embedding is computed, so the
  first L-1 blocks run without autograd graph;
* the head-averaged attention probabilities of the last K blocks (CAA), from
  the same pass;

at any input size (positional embedding interpolated bilinearly, inputs
padded to the patch size).
"""
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from mmwsss.utils import print_log_once
from .vit_ops import (block_forward, interpolate_pos_embed,
                      native_block_forward, pad_to_patch_multiple)

__all__ = ['CLIPImageOutput', 'CLIPImageEncoderMixin', 'pair']


class CLIPImageOutput(NamedTuple):
    """Result of :meth:`FrozenCLIP.encode_image`.

    Attributes:
        embedding (Tensor): (B, E) image embedding, not L2-normalised,
            computed from ``target``.
        target (Tensor): (B, 1 + h*w, C) tokens entering the last block's
            attention (its ``ln_1`` output), token 0 = class token, patch
            tokens in row-major grid order. A leaf with ``requires_grad``
            when asked for (``target_grad=True``).
        attn (Tensor | None): (B, K, 1 + h*w, 1 + h*w) attention
            probabilities averaged over heads, of the last K blocks in order
            (the last block last); rows sum to 1; float32 (also under
            autocast); no autograd graph.
        grid (tuple[int, int]): Patch grid ``(h, w)`` (of the padded input).
    """
    embedding: Tensor
    target: Tensor
    attn: Optional[Tensor]
    grid: Tuple[int, int]


class CLIPImageEncoderMixin:
    """The image side of FrozenCLIP (:meth:`encode_image`).

    Uses the open_clip model ``self.model`` and the attributes FrozenCLIP
    sets: ``model_name``, ``pooling``, ``attn_layers``, ``_num_layers`` and
    ``_vision_batch_first``.
    """

    @property
    def patch_size(self) -> int:
        """Patch size in pixels."""
        return pair(self.model.visual.patch_size)[0]

    @property
    def vision_width(self) -> int:
        """Width C of the image tokens (the GradCAM target's channels)."""
        return int(self.model.visual.transformer.width)

    @property
    def num_layers(self) -> int:
        """Number of blocks of the image transformer."""
        return self._num_layers

    @property
    def pretrained_grid(self) -> Tuple[int, int]:
        """Patch grid of the pretrained positional embedding (14x14 for
        ViT-B/16 at 224)."""
        return tuple(self.model.visual.grid_size)

    def _check_attn_layers(self, k: Optional[int], key: str) -> int:
        """Validate K; more blocks than the model has -> all blocks."""
        k = int(k or 0)
        if k < 0:
            raise ValueError(f'FrozenCLIP {key}={k}: must be >= 0')
        if k > self._num_layers:
            # once per run, whichever option asked (constructor, CAA's K)
            print_log_once(
                f'FrozenCLIP: {k} attention layers asked ({key}) > '
                f'{self._num_layers} blocks of {self.model_name}: using all '
                f'{self._num_layers}',
                key=('FrozenCLIP attn_layers', self.model_name, k))
            k = self._num_layers
        return k

    def _embed_patches(self, img: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """Patch embedding + class token + (interpolated) positions + ln_pre.

        Returns:
            tuple[Tensor, tuple[int, int]]: (B, 1 + h*w, C) tokens and the
            grid (h, w).
        """
        visual = self.model.visual
        x = visual.conv1(img.to(visual.conv1.weight.dtype))  # (B, C, h, w)
        grid = (int(x.shape[-2]), int(x.shape[-1]))
        x = x.flatten(2).transpose(1, 2)
        cls_tok = visual.class_embedding.to(x.dtype).view(1, 1, -1)
        x = torch.cat([cls_tok.expand(x.shape[0], -1, -1), x], dim=1)
        pos = interpolate_pos_embed(visual.positional_embedding,
                                    self.pretrained_grid, grid)
        x = x + pos.to(x.dtype)
        return visual.ln_pre(x), grid

    def _pool(self, tokens: Tensor) -> Tensor:
        """(B, 1 + L, C) last-block output -> (B, E) image embedding."""
        visual = self.model.visual
        ln_after = getattr(visual, 'final_ln_after_pool', False)
        if self.pooling == 'cls':
            pooled = visual.ln_post(tokens[:, 0])
        elif ln_after:
            pooled = visual.ln_post(tokens[:, 1:].mean(dim=1))
        else:
            pooled = visual.ln_post(tokens[:, 1:]).mean(dim=1)
        if visual.proj is not None:
            pooled = pooled @ visual.proj
        return pooled

    def encode_image(self,
                     img: Tensor,
                     *,
                     target_grad: bool = True,
                     attn_layers: Optional[int] = None) -> CLIPImageOutput:
        """Encode normalised RGB images.

        Inputs whose H or W is not a multiple of the patch size are
        zero-padded on the bottom/right (:func:`pad_to_patch_multiple`);
        other grids than the pretrained one get the positional embedding
        interpolated bilinearly (``align_corners=False``, as CLIP-ES).

        Blocks 1..L-1 run under ``torch.no_grad()``; only the last block
        carries an autograd graph, from ``target`` (a detached leaf) to
        ``embedding``, so ``torch.autograd.grad(score(embedding), target)``
        gives the GradCAM gradients (also to second order). Attention of
        the blocks asked for is computed explicitly in the same pass.

        Args:
            img (Tensor): (B, 3, H, W) images normalised with
                :attr:`mean` / :attr:`std`.
            target_grad (bool): Make ``target`` a leaf requiring grad and
                build the last block's graph (also inside an outer
                ``torch.no_grad()``). False: the whole pass without graph.
            attn_layers (int, optional): Number K of last blocks whose
                attention to return; None uses the constructor's
                ``attn_layers``; 0 returns ``attn=None``.

        Returns:
            CLIPImageOutput: ``(embedding, target, attn, grid)``.
        """
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(
                'FrozenCLIP.encode_image expects (B, 3, H, W) images, got '
                f'{tuple(img.shape)}')
        k = self.attn_layers if attn_layers is None else \
            self._check_attn_layers(attn_layers, 'encode_image attn_layers')
        blocks = self.model.visual.transformer.resblocks
        first_attn = self._num_layers - k
        img, _ = pad_to_patch_multiple(img, self.patch_size)
        attns: List[Tensor] = []
        with torch.no_grad():
            x, grid = self._embed_patches(img)
            for i in range(self._num_layers - 1):
                if i >= first_attn:
                    x, w = block_forward(blocks[i], x, need_weights=True)
                    attns.append(w.float())
                else:
                    x = native_block_forward(blocks[i], x,
                                             self._vision_batch_first)
            last = blocks[-1]
            target = last.ln_1(x)
        grad_ctx = torch.enable_grad() if target_grad else torch.no_grad()
        with grad_ctx:
            target = target.detach().requires_grad_(target_grad)
            y, w = block_forward(last, x, need_weights=k > 0, ln_1_out=target)
            embedding = self._pool(y)
        if k > 0:
            attns.append(w.detach().float())
        attn = torch.stack(attns, dim=1) if k > 0 else None
        return CLIPImageOutput(embedding, target, attn, grid)

    def forward(self, img: Tensor) -> Tensor:
        """(B, 3, H, W) normalised images -> (B, E) embeddings, no graph."""
        return self.encode_image(
            img, target_grad=False, attn_layers=0).embedding


def pair(v) -> Tuple[int, int]:
    """``v`` or ``(v, v)`` as a pair of ints."""
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)
