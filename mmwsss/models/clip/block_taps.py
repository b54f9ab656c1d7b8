"""Per-block taps of :class:`~.frozen_clip.FrozenCLIP`'s image tower, as the
WeCLIP / WeCLIP+ backbone uses them (:class:`CLIPBlockTapsMixin`):

* :meth:`~CLIPBlockTapsMixin.encode_image_blocks`: the raw residual stream
  after each of the first ``n`` blocks and their head-averaged attention,
  from one pass without autograd graph;
* :meth:`~CLIPBlockTapsMixin.last_block_logits`: one block applied to given
  tokens, then the patch-mean image embedding and CLIP logits against text
  rows, with the block's ``ln_1`` output as the GradCAM leaf.

Unlike :meth:`~.image_encoder.CLIPImageEncoderMixin.encode_image` (which
pads), the input is CROPPED to a multiple of the patch size: the authors'
``conv1`` has stride = kernel = patch, so it drops the remainder rows and
columns, and the positional embedding is resized to that grid.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .vit_ops import block_forward

__all__ = ['CLIPBlockTapsMixin', 'crop_to_patch_multiple']

#: Layer count of the CLIP (ViT-L/14) whose logit scale WeCLIP divides by 4.
_QUARTER_SCALE_LAYERS = 24


def crop_to_patch_multiple(img: Tensor, patch: int) -> Tensor:
    """Drop the bottom rows and right columns that do not fill a patch.

    What a stride-``patch`` convolution with kernel ``patch`` ignores anyway
    (the authors' ``conv1``), done explicitly.

    Args:
        img (Tensor): (B, 3, H, W) images.
        patch (int): Patch size.

    Returns:
        Tensor: (B, 3, (H // patch) * patch, (W // patch) * patch); ``img``
        itself when nothing is dropped.

    Raises:
        ValueError: A side shorter than one patch.
    """
    H, W = img.shape[-2:]
    h, w = H // patch, W // patch
    if h < 1 or w < 1:
        raise ValueError(f'images of {H}x{W} pixels are smaller than one '
                         f'{patch}x{patch} patch')
    if (h * patch, w * patch) == (H, W):
        return img
    return img[..., :h * patch, :w * patch]


class CLIPBlockTapsMixin:
    """WeCLIP's taps of the image tower of FrozenCLIP.

    Uses ``self.model`` (open_clip CLIP), ``self._embed_patches``,
    ``self.patch_size``, ``self.num_layers`` and ``self.logit_scale`` of
    :class:`~.frozen_clip.FrozenCLIP`.
    """

    def encode_image_blocks(
            self,
            img: Tensor,
            num_blocks: Optional[int] = None) -> Tuple[List[Tensor], Tensor]:
        """The residual stream after each of the first ``num_blocks`` image
        blocks, and their attention (WeCLIP's ``encode_image``).

        Under ``torch.no_grad()``: the input is cropped to a multiple of the
        patch size (:func:`crop_to_patch_multiple`, no padding), patch
        embedding, class token, the positional embedding resized bilinearly
        (``align_corners=False``) to the grid when it is not the pretrained
        one, ``ln_pre``, then blocks ``0 .. num_blocks - 1``.

        The default runs all blocks but the last (11 of ViT-B/16's 12), as
        the authors' ``Transformer.forward`` does for images. Their test for
        that is ``x.shape[0] == 77`` (meant for the text tower), so an image
        whose grid has exactly 76 patches (77 tokens, e.g. 4x19) runs all 12
        blocks there; that quirk is deliberately NOT reproduced: every grid
        runs ``num_blocks``. The authors' fp16 rounding of the resized
        positional embedding is not reproduced either (float32, as the
        spec's reference).

        Args:
            img (Tensor): (B, 3, H, W) normalised images (WeCLIP feeds the
                ImageNet-normalised image), H and W >= the patch size.
            num_blocks (int, optional): How many blocks to run, 1 ..
                :attr:`num_layers`. Defaults to ``num_layers - 1``.

        Returns:
            tuple[list[Tensor], Tensor]:

            - ``num_blocks`` tensors (B, L, C), the raw residual stream
              after each block (no ``ln_post`` / ``proj``), ``L = 1 + h*w``,
              token 0 the class token, patch tokens row-major over the
              ``(h, w) = (H // p, W // p)`` grid;
            - (B, num_blocks, L, L) float32 attention probabilities of those
              blocks, averaged over heads (rows sum to 1).
        """
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(
                'FrozenCLIP.encode_image_blocks expects (B, 3, H, W) images, '
                f'got {tuple(img.shape)}')
        n = self.num_layers - 1 if num_blocks is None else int(num_blocks)
        if not 1 <= n <= self.num_layers:
            raise ValueError(
                f'FrozenCLIP.encode_image_blocks num_blocks={num_blocks}: '
                f'expected 1..{self.num_layers} ({self.model_name} has '
                f'{self.num_layers} image blocks)')
        blocks = self.model.visual.transformer.resblocks
        img = crop_to_patch_multiple(img, self.patch_size)
        outs: List[Tensor] = []
        attns: List[Tensor] = []
        with torch.no_grad():
            x, _ = self._embed_patches(img)
            for blk in blocks[:n]:
                x, w = block_forward(blk, x, need_weights=True)
                outs.append(x)
                attns.append(w.float())
        return outs, torch.stack(attns, dim=1)

    def last_block_logits(self,
                          tokens: Tensor,
                          text_features: Tensor,
                          block: int = -1) -> Tuple[Tensor, Tensor, Tensor]:
        """One image block on given tokens, then CLIP logits against text
        rows (WeCLIP's ``forward_last_layer``, without its softmax).

        Image block ``block`` is applied to ``tokens`` with its ``ln_1``
        output replaced by a fresh leaf that requires grad (also inside an
        outer ``torch.no_grad()``), then ``ln_post`` on every token, the
        mean over the patch tokens (class token excluded), ``proj`` and L2
        normalisation. ``logits = s * cos(image, text)`` with ``s =
        logit_scale.exp()`` (~100 for pretrained CLIP), divided by 4 for a
        24-layer CLIP (ViT-L/14) as the authors' code does. The text rows are
        L2-normalised again (a no-op for normalised rows, as in the authors'
        code).

        The caller takes the softmax, picks a class and calls
        ``torch.autograd.grad(prob, ln1)``: the GradCAM activation and
        gradient live on ``ln1``.

        Args:
            tokens (Tensor): (B, L, C) residual stream entering the block
                (e.g. block 9's output from :meth:`encode_image_blocks`).
                Used without its autograd graph.
            text_features (Tensor): (K, E) text embeddings, normalised (e.g.
                :meth:`prompt_text_features`).
            block (int): Index of the image block to apply (Python index,
                negative from the end). Defaults to -1, the last block.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``(logits, ln1, attn)``: (B, K)
            logits with an autograd graph to ``ln1``; (B, L, C) the leaf
            tensor (``requires_grad=True``); (B, L, L) float32 head-averaged
            attention of the block, detached.
        """
        if tokens.dim() != 3 or tokens.shape[-1] != self.vision_width:
            raise ValueError(
                'FrozenCLIP.last_block_logits expects (B, L, '
                f'{self.vision_width}) tokens, got {tuple(tokens.shape)}')
        if text_features.dim() != 2 or \
                text_features.shape[-1] != self.embed_dim:
            raise ValueError('FrozenCLIP.last_block_logits expects (K, '
                             f'{self.embed_dim}) text features, got '
                             f'{tuple(text_features.shape)}')
        if not -self.num_layers <= block < self.num_layers:
            raise ValueError(
                f'FrozenCLIP.last_block_logits block={block}: '
                f'{self.model_name} has {self.num_layers} image blocks')
        visual = self.model.visual
        blk = visual.transformer.resblocks[block]
        tokens = tokens.detach()
        with torch.no_grad():
            ln1 = blk.ln_1(tokens)
        with torch.enable_grad():
            ln1 = ln1.detach().requires_grad_(True)
            y, attn = block_forward(
                blk, tokens, need_weights=True, ln_1_out=ln1)
            pooled = visual.ln_post(y[:, 1:]).mean(dim=1)
            if visual.proj is not None:
                pooled = pooled @ visual.proj
            image = F.normalize(pooled, dim=-1)
            text = F.normalize(text_features.detach().to(image.dtype), dim=-1)
            logits = self.weclip_logit_scale * image @ text.t()
        return logits, ln1, attn.detach().float()

    @property
    def weclip_logit_scale(self) -> Tensor:
        """The logit scale WeCLIP's ``forward_last_layer`` uses:
        ``logit_scale.exp()``, divided by 4 for a 24-layer image tower."""
        scale = self.logit_scale
        if self.num_layers == _QUARTER_SCALE_LAYERS:
            scale = scale / 4
        return scale
