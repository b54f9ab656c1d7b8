"""FrozenCLIP: an open_clip ViT CLIP, frozen, with the hooks WSSS needs.

Image side (:meth:`FrozenCLIP.encode_image`): one batched pass that returns

* the image embedding used for classification logits (mean of the projected
  patch tokens as in FMA-WSSS, or the class token as in plain CLIP);
* the Softmax-GradCAM target: the last block's ``ln_1`` output, as a leaf
  tensor with ``requires_grad`` from which the embedding is computed, so the
  first L-1 blocks run without autograd graph;
* the head-averaged attention probabilities of the last K blocks (CAA), from
  the same pass;

at any input size (positional embedding interpolated bilinearly, inputs
padded to the patch size).

Text side: tokenizer, frozen token embedding lookup, and a text encoder that
takes token EMBEDDINGS plus EOT positions, so learned context vectors can be
spliced in (CoOp) and get gradients of any order.
"""
import logging
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import open_clip
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS

from mmwsss.utils import print_log_once
from .loading import build_open_clip
from .vit_ops import (block_forward, check_standard_block,
                      interpolate_pos_embed, native_block_forward,
                      pad_to_patch_multiple)

_POOLINGS = ('patch_mean', 'cls')


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


def sharpen_random_attention(visual: torch.nn.Module, scale: float) -> None:
    """Multiply the query and key projections (weights and biases) of
    every block of an open_clip ViT by ``scale`` (attention logits grow by
    ``scale ** 2``).

    Args:
        visual (nn.Module): open_clip ``VisionTransformer``.
        scale (float): The factor.
    """
    with torch.no_grad():
        for blk in visual.transformer.resblocks:
            d = blk.attn.embed_dim
            blk.attn.in_proj_weight[:2 * d] *= scale
            if blk.attn.in_proj_bias is not None:
                blk.attn.in_proj_bias[:2 * d] *= scale


@MODELS.register_module()
class FrozenCLIP(BaseModule):
    """Frozen open_clip ViT CLIP with GradCAM / attention / prompt hooks.

    Every CLIP parameter has ``requires_grad=False`` and CLIP stays in eval
    mode even when the enclosing model is put in train mode.

    Args:
        model_name (str): open_clip architecture name (``'ViT-B-16'``,
            ``'ViT-L-14'``, ``'mmwsss-tiny-ViT-16'`` for tests, ...).
        pretrained (str, optional): open_clip tag (``'openai'``,
            ``'laion2b_s34b_b88k'``, ...), a local checkpoint (open_clip
            state dict, possibly wrapped in ``{'state_dict': ...}``, or the
            OpenAI release ``ViT-B-16.pt`` TorchScript archive), or None for
            random weights. Defaults to ``'openai'``.
        pooling (str): Image embedding. ``'patch_mean'``: mean over the patch
            tokens of ``ln_post(tokens) @ proj`` (FMA-WSSS, default; CLIP-ES's
            ``forward_last_layer`` pools the same way); ``'cls'``:
            ``ln_post(class token) @ proj``, i.e. open_clip's / OpenAI's
            ``encode_image``.
        attn_layers (int): Default number K of last blocks whose attention
            :meth:`encode_image` returns (8 as in CLIP-ES / FMA-WSSS CAA);
            0 returns none.
        cache_dir (str, optional): open_clip download cache for tags.
        init_cfg (dict, optional): mmengine init config; CLIP's weights come
            from ``pretrained``, so normally None.
        quick_gelu (bool, optional): Force QuickGELU (True) or GELU (False);
            None follows the weights (see
            :func:`mmwsss.models.clip.loading.build_open_clip`).
        random_attn_scale (float, optional): Random-weight demos only
            (``pretrained=None``): multiply the query and key projections of
            every image block by this factor. A randomly initialised ViT
            attends almost uniformly (max weight ~1/197 at 224), so CAA's
            affinity averages every CAM flat; sharper random attention keeps
            the CAMs' spatial structure through CAA (the demo uses 4).
            Ignored, with a warning, when ``pretrained`` is given (real
            weights are never changed). Defaults to None.
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 pooling: str = 'patch_mean',
                 attn_layers: int = 8,
                 cache_dir: Optional[str] = None,
                 init_cfg: Optional[dict] = None,
                 quick_gelu: Optional[bool] = None,
                 random_attn_scale: Optional[float] = None):
        super().__init__(init_cfg=init_cfg)
        if pooling not in _POOLINGS:
            raise ValueError(
                f'FrozenCLIP pooling={pooling!r}; expected one of {_POOLINGS}')
        model, info = build_open_clip(
            model_name, pretrained, cache_dir=cache_dir, quick_gelu=quick_gelu)
        self.model_name = model_name
        self.pretrained = pretrained
        self.pooling = pooling
        self.quick_gelu = info['quick_gelu']
        self.model = model
        self.model.requires_grad_(False)
        self.model.eval()
        if random_attn_scale is not None and pretrained is not None:
            print_log(
                f'FrozenCLIP: random_attn_scale={random_attn_scale} ignored: '
                f'it is for random weights, and pretrained={pretrained!r}',
                logger='current',
                level=logging.WARNING)
        elif random_attn_scale is not None:
            sharpen_random_attention(self.model.visual, random_attn_scale)

        visual = self.model.visual
        if getattr(visual, 'attn_pool', None) is not None:
            raise ValueError(
                f'{model_name}: attentional pooling is not supported')
        for i, blk in enumerate(visual.transformer.resblocks):
            check_standard_block(blk, f'{model_name} visual block {i}')
        for i, blk in enumerate(self.model.transformer.resblocks):
            check_standard_block(blk, f'{model_name} text block {i}')
        ph, pw = _pair(visual.patch_size)
        if ph != pw:
            raise ValueError(f'{model_name}: non-square patches {ph}x{pw}')
        self._num_layers = len(visual.transformer.resblocks)
        self.attn_layers = self._check_attn_layers(attn_layers, 'attn_layers')
        self._vision_batch_first = getattr(visual.transformer, 'batch_first',
                                           False)
        self._tokenizer = open_clip.get_tokenizer(model_name)

        mean, std = info['mean'], info['std']
        if mean is None or std is None:
            mean, std = _model_mean_std(self.model)
        self.mean = tuple(float(m) * 255 for m in mean)
        self.std = tuple(float(s) * 255 for s in std)

    # ------------------------------------------------------------------
    # module state
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'FrozenCLIP':
        """Set the wrapper's mode; CLIP itself always stays in eval mode."""
        super().train(mode)
        self.model.eval()
        return self

    def init_weights(self) -> None:
        """CLIP's weights come from ``pretrained``: nothing to initialise
        unless an explicit ``init_cfg`` asks for it."""
        if self.init_cfg:
            super().init_weights()
        self._is_init = True

    # ------------------------------------------------------------------
    # properties
    # ------------------------------------------------------------------
    @property
    def patch_size(self) -> int:
        """Patch size in pixels."""
        return _pair(self.model.visual.patch_size)[0]

    @property
    def embed_dim(self) -> int:
        """Size E of the joint image-text embedding."""
        return int(self.model.visual.output_dim)

    @property
    def vision_width(self) -> int:
        """Width C of the image tokens (the GradCAM target's channels)."""
        return int(self.model.visual.transformer.width)

    @property
    def text_width(self) -> int:
        """Size D of the text token embeddings."""
        return int(self.model.token_embedding.embedding_dim)

    @property
    def context_length(self) -> int:
        """Text context length T (77)."""
        return int(self.model.context_length)

    @property
    def num_layers(self) -> int:
        """Number of blocks of the image transformer."""
        return self._num_layers

    @property
    def pretrained_grid(self) -> Tuple[int, int]:
        """Patch grid of the pretrained positional embedding (14x14 for
        ViT-B/16 at 224)."""
        return tuple(self.model.visual.grid_size)

    @property
    def logit_scale(self) -> Tensor:
        """CLIP's temperature, already exponentiated (100 for pretrained
        CLIP), a tensor without grad on CLIP's device."""
        return self.model.logit_scale.detach().exp()

    @property
    def device(self) -> torch.device:
        """Device of CLIP's weights."""
        return self.model.visual.conv1.weight.device

    # ------------------------------------------------------------------
    # image side
    # ------------------------------------------------------------------
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

    # ------------------------------------------------------------------
    # text side
    # ------------------------------------------------------------------
    def tokenize(self, texts: Union[str, Sequence[str]]) -> Tensor:
        """open_clip's tokenizer for this model.

        Each row is ``[SOS] tokens... [EOT] 0 ...``, truncated to
        :attr:`context_length` (the EOT kept).

        Args:
            texts (str | Sequence[str]): N strings.

        Returns:
            Tensor: (N, T) long token ids on CLIP's device.
        """
        if isinstance(texts, str):
            texts = [texts]
        ids = self._tokenizer(list(texts))
        return ids.long().to(self.device)

    def eot_index(self, ids: Tensor) -> Tensor:
        """Position of the token whose feature pools the text, per row.

        For OpenAI-style BPE the EOT token has the largest id (open_clip's
        ``'argmax'`` pooling).

        Args:
            ids (Tensor): (N, T) token ids from :meth:`tokenize`.

        Returns:
            Tensor: (N,) long positions.
        """
        pool = getattr(self.model, 'text_pool_type', 'argmax')
        if pool == 'eos':
            return (ids == self.model.text_eos_id).int().argmax(dim=-1)
        if pool == 'first':
            return ids.new_zeros(ids.shape[0])
        if pool == 'last':
            return ids.new_full((ids.shape[0], ), ids.shape[1] - 1)
        return ids.argmax(dim=-1)

    def token_embedding(self, ids: Tensor) -> Tensor:
        """Frozen token embedding lookup.

        Args:
            ids (Tensor): (N, T) token ids.

        Returns:
            Tensor: (N, T, D) embeddings (no graph), CLIP's dtype/device.
        """
        with torch.no_grad():
            return self.model.token_embedding(ids.to(self.device))

    def encode_text(self, token_embeds: Tensor, eot_idx: Tensor) -> Tensor:
        """Text transformer on token embeddings.

        Adds the positional embedding, runs the causal transformer (explicit
        attention: differentiable to any order w.r.t. ``token_embeds``),
        takes the token at ``eot_idx``, then ``ln_final`` and
        ``text_projection``. With ``token_embeds =
        token_embedding(tokenize(texts))`` and ``eot_idx =
        eot_index(ids)`` this equals open_clip's ``encode_text(ids)``.

        A CoOp prompt is laid out as ``[SOS] [V]1..[V]N name . [EOT] 0..``:
        build it from :meth:`token_embedding` of a tokenized template, splice
        learned (N, D) vectors into rows 1..N, and pass the template's
        ``eot_index``.

        Args:
            token_embeds (Tensor): (N, T, D) token embeddings, T <=
                :attr:`context_length`.
            eot_idx (Tensor): (N,) position pooled for each row.

        Returns:
            Tensor: (N, E) text embeddings, not L2-normalised.
        """
        if token_embeds.dim() != 3 or token_embeds.shape[-1] != \
                self.text_width or token_embeds.shape[1] > \
                self.context_length:
            raise ValueError(
                'FrozenCLIP.encode_text expects (N, T<=%d, %d) token '
                'embeddings, got %s' % (self.context_length, self.text_width,
                                        tuple(token_embeds.shape)))
        N, T, _ = token_embeds.shape
        eot_idx = torch.as_tensor(eot_idx, device=token_embeds.device).long()
        if eot_idx.shape != (N, ):
            raise ValueError(
                f'FrozenCLIP.encode_text: eot_idx must have shape ({N},), '
                f'got {tuple(eot_idx.shape)}')
        model = self.model
        mask = getattr(model, 'attn_mask', None)
        if mask is not None and N:
            # causal attention: tokens after the last EOT never reach a
            # pooled one, so the padding is not computed (~3.5x faster for
            # 16-token prompts, identical output)
            T = min(T, int(eot_idx.max()) + 1)
            token_embeds = token_embeds[:, :T]
            mask = mask[:T, :T]
        dtype = model.token_embedding.weight.dtype
        x = token_embeds.to(dtype) + model.positional_embedding[:T].to(dtype)
        for blk in model.transformer.resblocks:
            x, _ = block_forward(blk, x, attn_mask=mask)
        pooled = x[torch.arange(N, device=x.device), eot_idx]
        pooled = model.ln_final(pooled)
        proj = model.text_projection
        if proj is None:
            return pooled
        if isinstance(proj, torch.nn.Linear):
            return proj(pooled)
        return pooled @ proj

    def encode_text_from_strings(self, texts: Union[str,
                                                    Sequence[str]]) -> Tensor:
        """Tokenize, embed and encode strings.

        Args:
            texts (str | Sequence[str]): N strings.

        Returns:
            Tensor: (N, E) text embeddings, not L2-normalised.
        """
        ids = self.tokenize(texts)
        return self.encode_text(self.token_embedding(ids), self.eot_index(ids))


def _pair(v) -> Tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _model_mean_std(model) -> Tuple[Sequence[float], Sequence[float]]:
    """Normalisation (0..1 scale) open_clip attached to ``model``, falling
    back to OpenAI's."""
    visual = model.visual
    cfg = getattr(visual, 'preprocess_cfg', None) or {}
    mean = cfg.get('mean', getattr(visual, 'image_mean', None))
    std = cfg.get('std', getattr(visual, 'image_std', None))
    if mean is None or std is None:
        print_log(
            'FrozenCLIP: model has no normalisation, using OpenAI\'s',
            logger='current',
            level=logging.DEBUG)
        mean, std = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD
    return mean, std


__all__ = ['FrozenCLIP', 'CLIPImageOutput', 'pad_to_patch_multiple']
