"""CoOp-style prompt learners for FMA-WSSS (paper Sec. 4.1).

A prompt learner owns learnable context vectors and builds, for every class,
the token embeddings CLIP's text encoder reads::

    [SOS] [V]_1 ... [V]_N  name tokens  .  [EOT] pad ...     (label 'end')
    [SOS] name tokens  [V]_1 ... [V]_N  .  [EOT] pad ...     (label 'front')
    [SOS] [V]_1 ... [V]_N  .  [EOT] pad ...                  (no label)

It returns the token embeddings together with the EOT positions, so
:meth:`mmwsss.models.clip.FrozenCLIP.encode_text` can pool them; the
learners themselves hold no CLIP weights (the frozen SOS / name / EOT
embeddings are non-persistent buffers, rebuilt from CLIP at construction, so
a checkpoint holds the context vectors only).

- :class:`ClsPromptLearner` (eq. 5): one context shared by all foreground and
  CLIP-ES background classes, label at the end (unified context).
- :class:`SegPromptLearner` (eqs. 6-7): class-specific context; foreground
  prompts put the label in front of their own context; background prompts
  are context only. Options cover the paper's ablations (Table 2: appended
  label, unified context, background prompts with labels) and the COCO
  setting of the authors' code (unified context, label at the end, CLIP-ES
  background names).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

__all__ = [
    'PromptLearner', 'FixedPromptLearner', 'ClsPromptLearner',
    'SegPromptLearner', 'build_prompt_learners'
]


class PromptLearner(BaseModule):
    """Learnable prompt contexts for a list of class names.

    Args:
        clip (nn.Module): The frozen CLIP (``FrozenCLIP``) whose tokenizer and
            token embedding build the fixed parts of the prompts. Not
            registered as a sub-module.
        class_names (Sequence[str]): Foreground class names as CLIP reads
            them (e.g. CLIP-ES synonyms), one prompt each.
        bg_names (Sequence[str]): Background prompt names; ``''`` gives a
            context-only prompt. Their prompts follow the foreground ones.
        n_ctx (int): Context length N. Ignored when ``ctx_init`` is set.
        ctx_init (str, optional): Initialise the context from the token
            embeddings of this phrase (e.g. ``'a photo of a'``); N becomes the
            phrase's token count. Defaults to None (random init).
        ctx_std (float): Std of the random normal init. Defaults to 0.015.
        class_specific (bool): One context per prompt (CSC) instead of one
            shared context. Defaults to False.
        label_position (str): ``'end'`` (label after the context) or
            ``'front'`` (label before it). Defaults to ``'end'``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 clip: nn.Module,
                 class_names: Sequence[str],
                 bg_names: Sequence[str] = (),
                 n_ctx: int = 16,
                 ctx_init: Optional[str] = None,
                 ctx_std: float = 0.015,
                 class_specific: bool = False,
                 label_position: str = 'end',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if label_position not in ('end', 'front'):
            raise ValueError('label_position must be "end" or "front", got '
                             f'{label_position!r}')
        if len(class_names) == 0:
            raise ValueError('PromptLearner needs at least one class name')
        self.class_names = [n.replace('_', ' ') for n in class_names]
        self.bg_names = [n.replace('_', ' ') for n in bg_names]
        self.class_specific = class_specific
        self.label_position = label_position
        names = self.class_names + self.bg_names
        n_prompts = len(names)

        dim = clip.text_width
        if ctx_init:
            phrase = ctx_init.replace('_', ' ').strip()
            ids = clip.tokenize([phrase])
            eot = int(ids[0].argmax())
            n_ctx = eot - 1
            with torch.no_grad():
                vectors = clip.token_embedding(ids)[0, 1:1 + n_ctx].float()
            if class_specific:
                vectors = vectors.unsqueeze(0).repeat(n_prompts, 1, 1)
        else:
            shape = (n_prompts, n_ctx, dim) if class_specific else (n_ctx, dim)
            vectors = torch.empty(shape).normal_(0, ctx_std)
        self.n_ctx = n_ctx
        self.ctx = nn.Parameter(vectors.clone())

        # Fixed parts: tokenise "X X ... X name." and keep the embeddings of
        # everything that is not a context placeholder.
        placeholder = ' '.join(['X'] * n_ctx)
        texts = [(f'{placeholder} {n}.' if n else f'{placeholder}.')
                 for n in names]
        ids = clip.tokenize(texts)
        with torch.no_grad():
            embeds = clip.token_embedding(ids).float()
        # name tokens of each prompt: tokens between the context and '.'
        name_lens = [
            len(clip.tokenize([n])[0].nonzero()) - 2 if n else 0 for n in names
        ]
        self.register_buffer('token_prefix', embeds[:, :1], persistent=False)
        self.register_buffer(
            'token_suffix', embeds[:, 1 + n_ctx:], persistent=False)
        self.register_buffer('eot_idx', ids.argmax(dim=-1), persistent=False)
        # For label_position 'front': where each output token comes from in
        # cat([prefix (1), suffix (S), ctx (N)], dim=1).
        n_suffix = embeds.shape[1] - 1 - n_ctx
        pos = torch.arange(embeds.shape[1]).unsqueeze(0)
        lens = torch.tensor(name_lens).unsqueeze(1)
        index = torch.where(
            pos <= lens, pos,
            torch.where(pos <= lens + n_ctx, pos - lens + n_suffix,
                        pos - n_ctx))
        self.register_buffer('_front_index', index, persistent=False)
        self.register_buffer(
            '_front_rows',
            torch.arange(n_prompts).unsqueeze(1),
            persistent=False)

    @property
    def num_prompts(self) -> int:
        """Number of prompts: foreground classes then background ones."""
        return len(self.class_names) + len(self.bg_names)

    @property
    def num_fg(self) -> int:
        """Number of foreground prompts (they come first)."""
        return len(self.class_names)

    def _ctx(self) -> Tensor:
        """(num_prompts, N, D) context of every prompt."""
        if self.class_specific:
            return self.ctx
        return self.ctx.unsqueeze(0).expand(self.num_prompts, -1, -1)

    def forward(self) -> Tuple[Tensor, Tensor]:
        """Token embeddings of all prompts.

        Returns:
            tuple[Tensor, Tensor]: ``(token_embeds, eot_idx)``: (M, T, D)
            embeddings with the learned context inserted, and the (M,) EOT
            positions for pooling, M = foreground + background prompts.
        """
        ctx = self._ctx().to(self.token_prefix.dtype)
        prefix, suffix = self.token_prefix, self.token_suffix
        if self.label_position == 'end':
            return torch.cat([prefix, ctx, suffix], dim=1), self.eot_idx
        # label in front: gather [prefix | name | ctx | rest of suffix] from
        # one concatenation, with per-prompt name lengths.
        pool = torch.cat([prefix, suffix, ctx], dim=1)
        return pool[self._front_rows, self._front_index], self.eot_idx


@MODELS.register_module()
class FixedPromptLearner(BaseModule):
    """Hand-written prompts (no learnable context), e.g. CLIP-ES's
    ``'a clean origami {}.'``: same output contract as the learners, so the
    prompt model runs training-free baselines unchanged.

    Args:
        clip (nn.Module): The frozen CLIP.
        class_names (Sequence[str]): Foreground names.
        bg_names (Sequence[str]): Background names (formatted too).
        template (str): Format string with one ``{}``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 clip: nn.Module,
                 class_names: Sequence[str],
                 bg_names: Sequence[str] = (),
                 template: str = 'a clean origami {}.',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if '{}' not in template:
            raise ValueError(f'template needs a "{{}}" slot: {template!r}')
        self.class_names = list(class_names)
        self.bg_names = list(bg_names)
        texts = [template.format(n) for n in self.class_names + self.bg_names]
        ids = clip.tokenize(texts)
        with torch.no_grad():
            embeds = clip.token_embedding(ids).float()
        self.register_buffer('token_embeds', embeds, persistent=False)
        self.register_buffer('eot_idx', ids.argmax(dim=-1), persistent=False)

    @property
    def num_fg(self) -> int:
        """Number of foreground prompts (they come first)."""
        return len(self.class_names)

    def forward(self) -> Tuple[Tensor, Tensor]:
        """``(token_embeds, eot_idx)`` of all prompts, as the learners."""
        return self.token_embeds, self.eot_idx


@MODELS.register_module()
class ClsPromptLearner(PromptLearner):
    """Classification-specific prompts (eq. 5): unified context shared by the
    foreground and the CLIP-ES background classes, label at the end.

    Args:
        clip (nn.Module): The frozen CLIP.
        class_names (Sequence[str]): Foreground names.
        bg_names (Sequence[str]): CLIP-ES background class names.
        n_ctx (int): Context length. Defaults to 16.
        ctx_init (str, optional): Phrase init. Defaults to None.
        ctx_std (float): Random init std. Defaults to 0.015.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 clip: nn.Module,
                 class_names: Sequence[str],
                 bg_names: Sequence[str] = (),
                 n_ctx: int = 16,
                 ctx_init: Optional[str] = None,
                 ctx_std: float = 0.015,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            clip,
            class_names,
            bg_names,
            n_ctx=n_ctx,
            ctx_init=ctx_init,
            ctx_std=ctx_std,
            class_specific=False,
            label_position='end',
            init_cfg=init_cfg)


@MODELS.register_module()
class SegPromptLearner(PromptLearner):
    """Segmentation-specific prompts (eqs. 6-7).

    Default (the paper's VOC design, Table 2 last row): class-specific
    context, each foreground prompt is ``[CLS] [V]^c_1 .. [V]^c_N .`` and each
    of ``num_bg`` background prompts is ``[V]^b_1 .. [V]^b_N .`` (no label).

    Args:
        clip (nn.Module): The frozen CLIP.
        class_names (Sequence[str]): Foreground names.
        num_bg (int): Number of label-free background prompts. Ignored when
            ``bg_names`` is given. Defaults to 25 (as many as CLIP-ES's VOC
            background classes, as the authors' code does).
        bg_names (Sequence[str], optional): Background prompts WITH labels
            (ablation "w/ bg." of Table 2, and the authors' COCO setting).
        n_ctx (int): Context length. Defaults to 16.
        ctx_init (str, optional): Phrase init. Defaults to None.
        ctx_std (float): Random init std. Defaults to 0.015.
        class_specific (bool): CSC (True) or unified context (False, the
            "Unified Context" ablation / the authors' COCO seg prompts).
        label_position (str): ``'front'`` (prepend, default) or ``'end'``
            (append, Table 2 "Append").
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 clip: nn.Module,
                 class_names: Sequence[str],
                 num_bg: int = 25,
                 bg_names: Optional[Sequence[str]] = None,
                 n_ctx: int = 16,
                 ctx_init: Optional[str] = None,
                 ctx_std: float = 0.015,
                 class_specific: bool = True,
                 label_position: str = 'front',
                 init_cfg: Optional[dict] = None) -> None:
        names: List[str] = list(
            bg_names) if bg_names is not None else [''] * num_bg
        super().__init__(
            clip,
            class_names,
            names,
            n_ctx=n_ctx,
            ctx_init=ctx_init,
            ctx_std=ctx_std,
            class_specific=class_specific,
            label_position=label_position,
            init_cfg=init_cfg)


def build_prompt_learners(
        cls_prompt: Optional[dict], seg_prompt: Optional[dict],
        clip: nn.Module, class_names: Sequence[str],
        bg_names: Sequence[str]
) -> Tuple[Optional[nn.Module], Optional[nn.Module]]:
    """Build the cls / seg prompt learners of a prompt model.

    Args:
        cls_prompt (dict, optional): Config of the cls prompt learner; it
            gets ``clip``, ``class_names`` and ``bg_names``.
        seg_prompt (dict, optional): Config of the seg prompt learner; it
            gets ``clip`` and ``class_names``. ``bg_names='clip_es'`` gives
            it ``bg_names`` (the authors' COCO setting); without
            ``bg_names``, ``num_bg`` defaults to ``len(bg_names)``.
        clip (nn.Module): The frozen CLIP.
        class_names (Sequence[str]): Foreground prompt names.
        bg_names (Sequence[str]): Background prompt names of the cls task.

    Returns:
        tuple: ``(cls_learner, seg_learner)``, None for a task without a
        config.

    Raises:
        ValueError: If both configs are None.
    """
    cls_learner = seg_learner = None
    if cls_prompt is not None:
        cls_learner = MODELS.build(
            cls_prompt,
            default_args=dict(
                clip=clip, class_names=class_names, bg_names=bg_names))
    if seg_prompt is not None:
        seg_prompt = dict(seg_prompt)
        if seg_prompt.get('bg_names') == 'clip_es':  # COCO setting
            seg_prompt['bg_names'] = bg_names
        if seg_prompt.get('bg_names') is None:
            seg_prompt.setdefault('num_bg', len(bg_names))
        seg_learner = MODELS.build(
            seg_prompt,
            default_args=dict(clip=clip, class_names=class_names))
    if cls_learner is None and seg_learner is None:
        raise ValueError('FMAPromptModel needs cls_prompt or seg_prompt')
    return cls_learner, seg_learner
