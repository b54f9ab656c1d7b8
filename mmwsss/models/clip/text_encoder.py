"""The text side of :class:`~.frozen_clip.FrozenCLIP`: tokenizer, frozen
token embedding lookup, and a text encoder that takes token EMBEDDINGS plus
EOT positions, so learned context vectors can be spliced in (CoOp) and get
gradients of any order.
"""
from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from .vit_ops import block_forward

__all__ = ['CLIPTextEncoderMixin']


class CLIPTextEncoderMixin:
    """The text side of FrozenCLIP (:meth:`encode_text` and its inputs).

    Uses the open_clip model ``self.model``, its tokenizer
    ``self._tokenizer`` and ``self.device``.
    """

    @property
    def text_width(self) -> int:
        """Size D of the text token embeddings."""
        return int(self.model.token_embedding.embedding_dim)

    @property
    def context_length(self) -> int:
        """Text context length T (77)."""
        return int(self.model.context_length)

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

    def prompt_text_features(self, names: Sequence[str],
                             templates: Sequence[str]) -> Tensor:
        """Zero-shot class text features from prompt templates.

        Every template is filled with every name (``template.format(name)``,
        e.g. WeCLIP's single ``'a clean origami {}.'``), each string is
        encoded (:meth:`encode_text_from_strings`) and L2-normalised, the
        embeddings of one name are averaged over the templates, and the mean
        is L2-normalised again (CLIP's ``zeroshot_classifier``). No autograd
        graph.

        Args:
            names (Sequence[str]): K class names (a name may hold several
                words, e.g. ``'person with clothes,people,human'``).
            templates (Sequence[str]): T templates with one ``{}``.

        Returns:
            Tensor: (K, E) unit-norm text features on CLIP's device.
        """
        if isinstance(names, str) or isinstance(templates, str):
            raise TypeError(
                'FrozenCLIP.prompt_text_features takes sequences of names and '
                'templates, not a single string')
        names, templates = list(names), list(templates)
        if not names or not templates:
            raise ValueError(
                'FrozenCLIP.prompt_text_features needs at least one name and '
                f'one template, got names={names!r}, templates={templates!r}')
        for t in templates:
            if '{}' not in t:
                raise ValueError(
                    f'FrozenCLIP.prompt_text_features: template {t!r} has no '
                    '"{}" for the class name')
        texts = [t.format(n) for t in templates for n in names]
        with torch.no_grad():
            feats = F.normalize(self.encode_text_from_strings(texts), dim=-1)
            feats = feats.view(len(templates), len(names), -1).mean(dim=0)
            return F.normalize(feats, dim=-1)
