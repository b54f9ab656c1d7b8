"""FrozenCLIP: an open_clip ViT CLIP, frozen, with the hooks WSSS needs.

One class, three files by job:

* this file: building and loading CLIP (:func:`~.loading.build_open_clip`),
  checking that its blocks are the standard ones the hooks reimplement,
  freezing it, and the module state (train / eval, init);
* :mod:`.image_encoder` (:class:`~.image_encoder.CLIPImageEncoderMixin`):
  :meth:`FrozenCLIP.encode_image`, one batched pass that returns the image
  embedding, the Softmax-GradCAM target and the attention of the last K
  blocks (CAA), at any input size;
* :mod:`.block_taps` (:class:`~.block_taps.CLIPBlockTapsMixin`): the
  WeCLIP / WeCLIP+ taps, :meth:`FrozenCLIP.encode_image_blocks` (every
  block's raw output and attention, input cropped to the patch grid) and
  :meth:`FrozenCLIP.last_block_logits` (one block on given tokens, logits
  against text rows, GradCAM leaf at its ``ln_1``);
* :mod:`.text_encoder` (:class:`~.text_encoder.CLIPTextEncoderMixin`):
  tokenizer, frozen token embedding lookup, and a text encoder that takes
  token EMBEDDINGS plus EOT positions, so learned context vectors can be
  spliced in (CoOp) and get gradients of any order; template-averaged
  class features (:meth:`FrozenCLIP.prompt_text_features`).
"""
import logging
from typing import Optional, Sequence, Tuple

import open_clip
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmseg.registry import MODELS

from .block_taps import CLIPBlockTapsMixin
from .image_encoder import CLIPImageEncoderMixin, CLIPImageOutput, pair
from .loading import build_open_clip
from .text_encoder import CLIPTextEncoderMixin
from .vit_ops import check_standard_block, pad_to_patch_multiple

_POOLINGS = ('patch_mean', 'cls')


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


def check_frozen_clip_architecture(model: nn.Module, model_name: str) -> None:
    """Raise ValueError unless every block of both towers is a standard
    open_clip block (what the hooks reimplement), the image tower has no
    attentional pooling and square patches.

    Args:
        model (nn.Module): ``open_clip.CLIP``.
        model_name (str): For the messages.
    """
    visual = model.visual
    if getattr(visual, 'attn_pool', None) is not None:
        raise ValueError(
            f'{model_name}: attentional pooling is not supported')
    for i, blk in enumerate(visual.transformer.resblocks):
        check_standard_block(blk, f'{model_name} visual block {i}')
    for i, blk in enumerate(model.transformer.resblocks):
        check_standard_block(blk, f'{model_name} text block {i}')
    ph, pw = pair(visual.patch_size)
    if ph != pw:
        raise ValueError(f'{model_name}: non-square patches {ph}x{pw}')


@MODELS.register_module()
class FrozenCLIP(CLIPImageEncoderMixin, CLIPBlockTapsMixin,
                 CLIPTextEncoderMixin, BaseModule):
    """Frozen open_clip ViT CLIP with GradCAM / attention / prompt hooks.

    Every CLIP parameter has ``requires_grad=False`` and CLIP stays in eval
    mode even when the enclosing model is put in train mode. The image side
    (:meth:`encode_image`) and the text side (:meth:`encode_text`, ...) are
    :class:`~.image_encoder.CLIPImageEncoderMixin` and
    :class:`~.text_encoder.CLIPTextEncoderMixin`.

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

        check_frozen_clip_architecture(self.model, model_name)
        visual = self.model.visual
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
    def embed_dim(self) -> int:
        """Size E of the joint image-text embedding."""
        return int(self.model.visual.output_dim)

    @property
    def logit_scale(self) -> Tensor:
        """CLIP's temperature, already exponentiated (100 for pretrained
        CLIP), a tensor without grad on CLIP's device."""
        return self.model.logit_scale.detach().exp()

    @property
    def device(self) -> torch.device:
        """Device of CLIP's weights."""
        return self.model.visual.conv1.weight.device


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
