"""FMAPromptModel: frozen CLIP + two learned prompt sets (FMA-WSSS stage 1).

Data flow of one training step (paper Fig. 2, authors' two-phase schedule):

- phase ``'cls'``: image embedding . cls-prompt text embeddings -> logits;
  MCL loss over the foreground logits (eq. 12).
- phase ``'seg'``: Softmax-GradCAM of the seg prompts, differentiable w.r.t.
  the prompts (second order), against the coarse seed map D_C that arrives
  as ``gt_sem_seg`` (augmented with the image, 255 ignored); CAL loss
  (eqs. 13-15).
- phase ``'joint'`` (the paper's eq. 11): both losses in one step, D_C made
  online from the cls CAMs of the same crop (CAA + seeder), no coarse-seed
  files needed. SAMS needs the crop's SAM masks in the batch
  (``LoadSAMMasks`` in the train pipeline); without them the seeder falls
  back to what it can do (see :mod:`mmwsss.models.seeders`).

Prediction (``tools/test.py``, the coarse-seed stage of training) works per
image at its own scale, as the authors' CAM inference does: each side
rounded UP to the next multiple of the patch size (500x281 -> 512x288),
resized with PIL bicubic on the uint8 RGB image, CLIP-normalised; CAMs of
the labelled classes (masked softmax with the global max, then GradCAM) ->
CAA -> seeder (SAMS by default) at the image's own size -> ``pred_sem_seg``
(0 = background, class indices) in a SegDataSample, so mmseg's metrics and
visualisers work on it.

Only the prompt learners hold trainable parameters and only they are saved
in checkpoints; CLIP's weights always come from ``clip.pretrained``.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from mmwsss.class_names import (IGNORE_INDEX, get_dataset_info,
                                 resolve_class_info)
from mmwsss.io import is_done, read_seed_png, seed_path
from .baselines.frozen_parts import exclude_from_checkpoint
from mmwsss.functional.caa import caa_refine, merge_attention
from mmwsss.functional.cam_input import patch_aligned_size, resize_normalized_like_pil
from mmwsss.functional.gradcam import (SOFTMAX_MODES, grad_cam, normalized_at_size,
                      softmax_scores)

__all__ = ['FMAPromptModel', 'model_class_info']

TASKS = ('cls', 'seg')
PHASES = ('cls', 'seg', 'joint')
CAM_INPUT_SIZES = ('round_up', 'pad')
CAL_LABELS = ('crop', 'image')
CAM_DTYPES = ('float32', 'bfloat16', 'float16')


def _checked(key: str, value: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming the
    config key."""
    if value not in choices:
        raise ValueError(f'FMAPromptModel: {key} must be one of '
                         f'{tuple(choices)}, got {value!r}')
    return value


def model_class_info(dataset: Optional[str],
                     classes: Optional[Union[str, Sequence[str]]],
                     class_names: Optional[Union[Sequence[str], dict]],
                     bg_names: Optional[Sequence[str]]) -> dict:
    """Class tables of a prompt model (:func:`resolve_class_info`).

    A ``class_names`` list without ``classes`` whose length differs from
    ``dataset``'s foreground count is the class list itself (so
    ``class_names=['dog', 'cat']`` gives a 2-class model).

    Returns:
        dict: ``classes``, ``prompt_names``, ``bg_classes``, ...
    """
    if (classes is None and class_names is not None
            and not isinstance(class_names, dict)):
        known = get_dataset_info(dataset) if dataset else None
        if known is None or len(class_names) != len(known['classes']) - 1:
            print_log(
                f'FMAPromptModel: class list {list(class_names)} (from '
                'class_names)', logger='current')
            classes, class_names = list(class_names), None
    return resolve_class_info(dataset, classes, class_names, bg_names)


@MODELS.register_module()
class FMAPromptModel(BaseModel):
    """FMA-WSSS prompt learning and seed generation with a frozen CLIP.

    Args:
        clip (dict): Config of the frozen CLIP (``FrozenCLIP``).
        dataset (str, optional): Name of the class tables in
            :mod:`mmwsss.class_names` (``'voc'`` / ``'coco'``) used for the
            default prompt names and CLIP-ES background classes.
        classes (str | Sequence[str], optional): The dataset's own class
            list (background first or left out) or its ``classes.txt``, for
            any C; it must equal the training dataset's ``classes`` (the
            train loop checks). Defaults to the ``dataset`` tables.
        class_names (Sequence[str] | dict, optional): Foreground prompt
            names: in class order, or a mapping stored name -> text
            (``{'pottedplant': 'potted plant'}``). Defaults to the
            dataset's CLIP-ES names, or the class names themselves. A list
            whose length differs from ``dataset``'s class count (and no
            ``classes``) is taken as the class list.
        bg_names (Sequence[str], optional): Background class names of the cls
            prompts; defaults to the dataset's CLIP-ES background classes
            (CLIP-ES's 25 for a custom list, minus names equal to a class).
        cls_prompt (dict): Config of the classification prompt learner.
        seg_prompt (dict, optional): Config of the segmentation prompt
            learner; ``num_bg`` defaults to ``len(bg_names)``;
            ``bg_names='clip_es'`` gives it the labelled CLIP-ES background
            prompts (the authors' COCO setting). None disables the seg task
            (e.g. CLIP-ES or cls-only models).
        mcl_loss (dict): MCL loss config.
        cal_loss (dict): CAL loss config.
        phase (str): Training phase, ``'cls'``, ``'seg'`` or ``'joint'``.
            The two-phase train loop switches it.
        cal_labels (str): Classes whose CAMs the CAL loss trains:
            ``'crop'`` (those present in the augmented D_C, the authors' VOC
            setting) or ``'image'`` (image-level labels, COCO setting).
        test_task (str): Which prompts make the CAMs in ``predict``:
            ``'seg'`` (fine seeds) or ``'cls'`` (coarse seeds).
        caa (dict): Per task CAA settings (``None`` for no CAA), keys of
            :func:`mmwsss.functional.caa.caa_refine` (``threshold``,
            ``sinkhorn_iters``, ``n_iters`` (the affinity's matrix power),
            ``aff_at``, ``mask_type``) plus ``last_k``.
        seeder (dict): Per task seeder configs (``SAMSSeeder``,
            ``ThresholdSeeder``, ...), turning CAMs into seed maps.
        joint_seeder (dict, optional): Seeder for the online D_C of the
            ``'joint'`` phase; defaults to ``seeder['cls']``.
        cam_input_size (str): CAM input of a test image. ``'round_up'``
            (the FMA-WSSS and CLIP-ES code): each side rounded up to the
            next patch multiple, PIL bicubic on the uint8 image
            (:func:`~mmwsss.functional.cam_input.resize_normalized_like_pil`;
            skipped when the size already fits, so a pipeline that resized
            already is not resized twice). ``'pad'``: no resize, zero
            padding (= the mean colour) up to the patch grid.
        cam_softmax (str): Softmax before GradCAM
            (:func:`~mmwsss.functional.gradcam.softmax_scores`):
            ``'global_max'`` (FMA-WSSS: AlchemyCat's masked softmax, max over
            all logits, eps 1e-5) or ``'exact'`` (CLIP-ES).
        reuse_seeds_from (str, optional): Seed folder of an earlier run;
            images with a seed PNG there are read back instead of
            recomputed (set it to ``test_evaluator.seed_dir`` of SeedMetric).
        output_cams (bool): ``predict`` also returns the refined CAMs as
            ``seg_logits`` ((C, H, W), min-max normalised, zeros for the
            classes not in the image) for visualisation or other seeders.
            Defaults to False.
        allow_untrained_prompts (bool): Accept a checkpoint without the
            learned prompts (e.g. ``tools/test.py CONFIG none``) and keep
            the prompts' initial values. Without it such a checkpoint is an
            error naming the missing keys. Defaults to False.
        cam_dtype (str): Precision of the seed CAMs (``image_cams``:
            GradCAM, ``predict``): ``'float32'`` (default; the authors' seeds
            are float32, and an outer autocast, e.g. a test loop with
            ``fp16=True``, is switched off for them), ``'bfloat16'`` or
            ``'float16'`` (autocast on the inputs' device; CAA and seeding
            still run in float32). Training steps follow the optim
            wrapper's autocast (``tools/train.py --amp``) instead.
        data_preprocessor (dict, optional): Data preprocessor config (CLIP
            normalisation).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 clip: dict,
                 dataset: Optional[str] = 'voc',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 class_names: Optional[Union[Sequence[str], dict]] = None,
                 bg_names: Optional[Sequence[str]] = None,
                 cls_prompt: Optional[dict] = dict(
                     type='ClsPromptLearner', n_ctx=16, ctx_std=0.015),
                 seg_prompt: Optional[dict] = dict(
                     type='SegPromptLearner', n_ctx=16, ctx_std=0.125),
                 mcl_loss: dict = dict(type='MCLLoss'),
                 cal_loss: dict = dict(type='CALLoss'),
                 phase: str = 'cls',
                 cal_labels: str = 'crop',
                 test_task: str = 'seg',
                 caa: Optional[Dict[str, Optional[dict]]] = None,
                 seeder: Optional[Dict[str, dict]] = None,
                 joint_seeder: Optional[dict] = None,
                 cam_input_size: str = 'round_up',
                 cam_softmax: str = 'global_max',
                 reuse_seeds_from: Optional[str] = None,
                 output_cams: bool = False,
                 allow_untrained_prompts: bool = False,
                 cam_dtype: str = 'float32',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):  # mmseg scope, any caller
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._init_class_names(dataset, classes, class_names, bg_names)
        self.clip = MODELS.build(clip)
        self._init_prompts(cls_prompt, seg_prompt)
        self.mcl_loss = MODELS.build(mcl_loss)
        self.cal_loss = MODELS.build(cal_loss)
        self._init_caa_and_seeders(caa, seeder, joint_seeder)
        self.cal_labels = _checked('cal_labels', cal_labels, CAL_LABELS)
        self.cam_input_size = _checked('cam_input_size', cam_input_size,
                                       CAM_INPUT_SIZES)
        self.cam_softmax = _checked('cam_softmax', cam_softmax, SOFTMAX_MODES)
        self.reuse_seeds_from = reuse_seeds_from
        self.output_cams = output_cams
        self.cam_dtype = getattr(torch, _checked('cam_dtype', cam_dtype,
                                                 CAM_DTYPES))
        self.phase = phase
        self.test_task = test_task
        self._text_cache: Dict[str, Tensor] = {}
        self.allow_untrained_prompts = allow_untrained_prompts
        exclude_from_checkpoint(self, ['clip'])

    def _init_class_names(self, dataset: Optional[str],
                          classes: Optional[Union[str, Sequence[str]]],
                          class_names: Optional[Sequence[str]],
                          bg_names: Optional[Sequence[str]]) -> None:
        """Class tables (:func:`model_class_info`) and the prompt names."""
        info = model_class_info(dataset, classes, class_names, bg_names)
        self.dataset_classes = info['classes']
        self.class_names = list(info['prompt_names'])
        self.bg_names = list(info['bg_classes'])
        self.num_fg = len(self.class_names)

    def _init_prompts(self, cls_prompt: Optional[dict],
                      seg_prompt: Optional[dict]) -> None:
        """Build the cls / seg prompt learners (None = no such task)."""
        self.cls_prompt = None
        if cls_prompt is not None:
            self.cls_prompt = MODELS.build(
                cls_prompt,
                default_args=dict(
                    clip=self.clip,
                    class_names=self.class_names,
                    bg_names=self.bg_names))
        self.seg_prompt = None
        if seg_prompt is not None:
            seg_prompt = dict(seg_prompt)
            if seg_prompt.get('bg_names') == 'clip_es':  # COCO setting
                seg_prompt['bg_names'] = self.bg_names
            if seg_prompt.get('bg_names') is None:
                seg_prompt.setdefault('num_bg', len(self.bg_names))
            self.seg_prompt = MODELS.build(
                seg_prompt,
                default_args=dict(
                    clip=self.clip, class_names=self.class_names))
        if self.cls_prompt is None and self.seg_prompt is None:
            raise ValueError('FMAPromptModel needs cls_prompt or seg_prompt')

    def _init_caa_and_seeders(self, caa: Optional[Dict[str, Optional[dict]]],
                              seeder: Optional[Dict[str, dict]],
                              joint_seeder: Optional[dict]) -> None:
        """Per task CAA settings and seeders (the authors' VOC defaults)."""
        caa = dict(
            cls=dict(threshold=0.4, aff_at='score'),
            seg=dict(threshold=0.5, aff_at='cam')) if caa is None else caa
        self.caa_cfg = {
            t: (None if caa.get(t) is None else dict(caa[t]))
            for t in TASKS
        }
        seeder = seeder or dict(
            cls=dict(type='SAMSSeeder', alpha=0.6),
            seg=dict(type='SAMSSeeder', alpha=0.7))
        self.seeders = {
            t: MODELS.build(seeder[t])
            for t in TASKS if seeder.get(t) is not None
        }
        self.joint_seeder = (
            MODELS.build(joint_seeder)
            if joint_seeder is not None else self.seeders.get('cls'))

    # ------------------------------------------------------------------
    # state: only prompts are saved / loaded
    # ------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Check that a checkpoint holds the learned prompts.

        Both ``torch.nn.Module.load_state_dict`` and mmengine's
        ``load_checkpoint`` (always ``strict=False``) call this on the model
        before its children, with the whole state dict. CLIP weights in it
        are dropped (CLIP always comes from ``clip.pretrained``); CLIP's own
        keys are never reported missing (:func:`exclude_from_checkpoint`).

        Raises:
            RuntimeError: If a prompt key is missing (an empty checkpoint
                such as ``none``, or one of another model) and
                ``allow_untrained_prompts`` is False.
        """
        clip_keys = [k for k in state_dict if k.startswith(prefix + 'clip.')]
        for key in clip_keys:
            del state_dict[key]
        if clip_keys:
            print_log(
                f'FMAPromptModel: ignored {len(clip_keys)} CLIP weights in the '
                'checkpoint; CLIP is loaded from clip.pretrained',
                logger='current',
                level=logging.WARNING)
        missing = [
            k for k in self.state_dict() if prefix + k not in state_dict
        ]
        if missing and not self.allow_untrained_prompts:
            others = [k for k in state_dict if k.startswith(prefix)]
            found = (f'it holds {len(others)} keys, e.g. '
                     f'{others[0]!r}' if others else 'it is empty')
            raise RuntimeError(
                'FMAPromptModel: the checkpoint lacks learned prompts '
                f'(missing {", ".join(missing)}; {found}). Give the '
                'checkpoint written by tools/train.py with a configs/fma '
                '*_prompts.py config, or set '
                'model.allow_untrained_prompts=True to use untrained prompts '
                'on purpose.')
        if missing:
            print_log(
                'FMAPromptModel: untrained prompts (allow_untrained_prompts'
                f'=True), not in the checkpoint: {", ".join(missing)}',
                logger='current',
                level=logging.WARNING)
        self._text_cache.clear()
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def train(self, mode: bool = True) -> 'FMAPromptModel':
        super().train(mode)
        self._text_cache.clear()
        return self

    @property
    def phase(self) -> str:
        """Current training phase: ``'cls'``, ``'seg'`` or ``'joint'``."""
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        if value not in PHASES:
            raise ValueError(f'phase must be one of {PHASES}, got {value!r}')
        self._phase = value

    @property
    def test_task(self) -> str:
        """Prompts used by ``predict``: ``'cls'`` or ``'seg'``."""
        return self._test_task

    @test_task.setter
    def test_task(self, value: str) -> None:
        if value not in TASKS:
            raise ValueError(f'test_task must be one of {TASKS}, got '
                             f'{value!r}')
        self._test_task = value

    def num_trainable_params(self) -> int:
        """Number of trainable parameters (the prompt contexts)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # ------------------------------------------------------------------
    # building blocks
    # ------------------------------------------------------------------
    def _learner(self, task: str):
        learner = self.cls_prompt if task == 'cls' else self.seg_prompt
        if learner is None:
            raise ValueError(f'This FMAPromptModel has no {task} prompts '
                             f'({task}_prompt=None)')
        return learner

    def text_features(self, task: str) -> Tensor:
        """L2-normalised text embeddings of all prompts of a task.

        Args:
            task (str): ``'cls'`` or ``'seg'``.

        Returns:
            Tensor: (M, E), foreground prompts first, then background ones.
            Cached while the model is in eval mode.
        """
        if not self.training and task in self._text_cache:
            return self._text_cache[task]
        embeds, eot = self._learner(task)()
        feats = F.normalize(self.clip.encode_text(embeds, eot), dim=-1)
        if not self.training:
            self._text_cache[task] = feats.detach()
        return feats

    def logits(self, image_embedding: Tensor, text: Tensor) -> Tensor:
        """Scaled cosine similarity, (B, E) x (M, E) -> (B, M)."""
        img = F.normalize(image_embedding, dim=-1)
        return self.clip.logit_scale * img @ text.to(img.dtype).t()

    def _multi_hot(self, data_samples: Sequence[SegDataSample]) -> Tensor:
        """(B, G) image-level labels from ``img_labels`` (1-based ids)."""
        device = self.clip.logit_scale.device
        out = torch.zeros(len(data_samples), self.num_fg, device=device)
        for i, ds in enumerate(data_samples):
            labels = ds.metainfo.get('img_labels', None)
            name = ds.metainfo.get('img_path', f'sample {i}')
            if labels is None:
                raise KeyError(
                    f'{name}: data sample has no "img_labels"; use an mmwsss '
                    'image-label dataset and PackWSSSInputs in the pipeline')
            for lb in labels:
                if not 1 <= int(lb) <= self.num_fg:
                    raise ValueError(
                        f'{name}: class id {lb} outside the {self.num_fg} '
                        'foreground classes (1..'
                        f'{self.num_fg})')
                out[i, int(lb) - 1] = 1
        return out

    def compute_cams(self,
                     inputs: Tensor,
                     fg_present: Tensor,
                     task: str,
                     create_graph: bool = False,
                     attn_layers: int = 0) -> Tuple[Tensor, Tensor, object]:
        """Softmax-GradCAMs of the present foreground classes.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images, H, W multiples
                of the patch size.
            fg_present (Tensor): (B, G) 0/1 classes to compute CAMs for; the
                softmax of eq. 1 (``cam_softmax``) keeps these plus all
                background prompts.
            task (str): ``'cls'`` or ``'seg'`` prompts.
            create_graph (bool): Keep the graph so the CAMs are
                differentiable w.r.t. the prompts (CAL loss).
            attn_layers (int): Attention maps of the last K blocks to return.

        Returns:
            tuple: ``(cams, pairs, clip_out)``: raw CAMs (P, h, w) on the
            patch grid in ``torch.nonzero(fg_present)`` order, the (P, 2)
            (image, class) pairs, and the CLIP image output (attention
            maps in ``clip_out.attn``).
        """
        with torch.enable_grad():
            out = self.clip.encode_image(
                inputs, target_grad=True, attn_layers=attn_layers)
            text = self.text_features(task)
            logits = self.logits(out.embedding, text)
            fg_present = fg_present.bool()
            scores = softmax_scores(logits, fg_present, self.cam_softmax)
            pairs = torch.nonzero(fg_present)
            cams = grad_cam(
                out.target, scores, pairs, out.grid, create_graph=create_graph)
        return cams, pairs, out

    def refine(self, cams: Tensor, attn: Optional[Tensor],
               task: str) -> Tensor:
        """CAA refinement of one image's CAMs (P, h, w) with its attention
        (K, 1+L, 1+L); identity when the task has no CAA."""
        cfg = self.caa_cfg[task]
        if cfg is None or cams.shape[0] == 0:
            return cams
        cfg = dict(cfg)
        last_k = cfg.pop('last_k', 8)
        merged = merge_attention(attn, last_k=last_k)
        return caa_refine(merged, cams.float(), **cfg)

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def loss(self, inputs: Tensor,
             data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """Losses of the current phase.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised crops.
            data_samples (list[SegDataSample]): With ``img_labels`` and, in
                the seg phase, ``gt_sem_seg`` = the augmented coarse seed.

        Returns:
            dict[str, Tensor]: ``loss_mcl`` and/or ``loss_cal_fg``,
            ``loss_cal_bg``.
        """
        labels = self._multi_hot(data_samples)
        for i in torch.nonzero(labels.sum(1) == 0).flatten().tolist():
            raise ValueError(
                f'{data_samples[i].metainfo.get("img_path", i)}: image has no '
                'foreground label; WSSS training needs at least one per image'
                ' (drop such images from the split)')
        losses: Dict[str, Tensor] = {}
        if self.phase in ('cls', 'joint'):
            if self.phase == 'cls':
                out = self.clip.encode_image(
                    inputs, target_grad=False, attn_layers=0)
                logits = self.logits(out.embedding, self.text_features('cls'))
                losses['loss_mcl'] = self.mcl_loss(logits[:, :self.num_fg],
                                                   labels)
            else:
                losses.update(
                    self._joint_cls_part(inputs, data_samples, labels))
        if self.phase == 'seg':
            lb = torch.stack([ds.gt_sem_seg.data[0]
                              for ds in data_samples]).long()
            losses.update(self._cal(inputs, lb, labels))
        return losses

    def _crop_labels(self, lb: Tensor) -> Tensor:
        """(B, G) classes present in each (augmented) seed map."""
        present = torch.zeros(lb.shape[0], self.num_fg + 2, device=lb.device)
        idx = lb.clone()
        idx[(idx < 0) | (idx > self.num_fg)] = self.num_fg + 1
        present.scatter_(1, idx.flatten(1), 1.0)
        return present[:, 1:self.num_fg + 1]

    def _cal(self, inputs: Tensor, lb: Tensor,
             labels: Tensor) -> Dict[str, Tensor]:
        present = self._crop_labels(lb) if self.cal_labels == 'crop' \
            else labels
        if not bool(present.any()):
            # no class in any seed crop (e.g. all-background D_C): a zero
            # loss that keeps the graph, so the optimizer step is a no-op
            zero = sum(p.sum() for p in self.seg_prompt.parameters()) * 0.
            return {'loss_cal_fg': zero, 'loss_cal_bg': zero.clone()}
        cams, _, _ = self.compute_cams(
            inputs, present, 'seg', create_graph=True, attn_layers=0)
        return self.cal_loss(cams, present, lb)

    def _joint_cls_part(self, inputs: Tensor,
                        data_samples: List[SegDataSample],
                        labels: Tensor) -> Dict[str, Tensor]:
        """Eq. 11 in one step: MCL on the cls logits, and CAL on the seg
        CAMs against a D_C made online from the cls CAMs of the crop."""
        last_k = (self.caa_cfg['cls'] or {}).get('last_k', 8)
        with torch.enable_grad():
            out = self.clip.encode_image(
                inputs,
                target_grad=True,
                attn_layers=last_k if self.caa_cfg['cls'] else 0)
            text = self.text_features('cls')
            # MCL trains the prompts through the text side only; the image
            # side graph belongs to the GradCAM below.
            logits = self.logits(out.embedding.detach(), text)
            losses = {
                'loss_mcl': self.mcl_loss(logits[:, :self.num_fg], labels)
            }
            pairs = torch.nonzero(labels.bool())
            scores = softmax_scores(
                self.logits(out.embedding, text.detach()), labels.bool(),
                self.cam_softmax)
            cams = grad_cam(out.target, scores, pairs, out.grid)
        cams = cams.detach()
        h, w = inputs.shape[-2:]
        seeds = []
        for b, ds in enumerate(data_samples):
            sel = pairs[:, 0] == b
            fg = pairs[sel, 1]
            refined = self.refine(cams[sel],
                                  None if out.attn is None else out.attn[b],
                                  'cls')
            seed = self.joint_seeder(
                refined, fg, (h, w), data_sample=ds, image=None)
            seeds.append(seed.to(inputs.device).long())
        lb = torch.stack(seeds)
        for b, ds in enumerate(data_samples):
            if 'gt_sem_seg' in ds:  # keep padding / ignore of the batch
                gt = ds.gt_sem_seg.data[0].to(lb.device)
                lb[b][gt == IGNORE_INDEX] = IGNORE_INDEX
        losses.update(self._cal(inputs, lb, labels))
        return losses

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def _input_normalization(
            self) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """(3, 1, 1) mean / std the data preprocessor normalised the
        inputs with (0-255 units), or ``(None, None)`` without one."""
        pre = self.data_preprocessor
        if not getattr(pre, '_enable_normalize', False):
            return None, None
        return pre.mean, pre.std

    def _prepare_image(self, inputs: Tensor, i: int,
                       ds: SegDataSample) -> Tensor:
        """CAM input of image ``i``: crop the batch padding, then (with
        ``cam_input_size='round_up'``) resize to the patch grid as the
        authors do (see :mod:`mmwsss.functional.cam_input`)."""
        h, w = ds.metainfo.get('img_shape', inputs.shape[-2:])[:2]
        img = inputs[i:i + 1, :, :h, :w]
        if self.cam_input_size == 'round_up':
            size = patch_aligned_size((h, w), self.clip.patch_size)
            if size != (h, w):
                mean, std = self._input_normalization()
                img = resize_normalized_like_pil(img, size, mean, std)
        return img

    def image_cams(self, inputs: Tensor, i: int, ds: SegDataSample,
                   labels: Tensor, task: str) -> Tuple[Tensor, Tensor]:
        """Refined CAMs of the labelled classes of image ``i`` of a batch.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised batch.
            i (int): Image index in the batch.
            ds (SegDataSample): Its data sample (``img_shape``, path).
            labels (Tensor): (B, G) image-level multi-hot labels.
            task (str): ``'cls'`` or ``'seg'`` prompts.

        Returns:
            tuple[Tensor, Tensor]: CAA-refined CAMs (P, h, w) on the patch
            grid and the (P,) 0-based class ids.
        """
        fg = torch.nonzero(labels[i]).flatten()
        if len(fg) == 0:
            print_log(f'{ds.metainfo.get("img_path", i)}: no foreground '
                      'label, the seed is all background',
                      logger='current', level=logging.WARNING)
            return inputs.new_zeros((0, 1, 1)), fg
        img = self._prepare_image(inputs, i, ds)
        caa = self.caa_cfg[task]
        # GradCAM in float32 unless cam_dtype asks for autocast, CAA in
        # float32 (even under an outer autocast; see the docstring)
        device = img.device.type
        with torch.autocast(
                device,
                dtype=self.cam_dtype,
                enabled=self.cam_dtype != torch.float32):
            cams, _, out = self.compute_cams(
                img,
                labels[i:i + 1],
                task,
                attn_layers=caa.get('last_k', 8) if caa else 0)
        with torch.autocast(device, enabled=False):
            return self.refine(cams.detach(), out.attn[0] if caa else None,
                               task), fg

    def predict_cams(
            self,
            inputs: Tensor,
            data_samples: List[SegDataSample],
            task: Optional[str] = None) -> List[Tuple[Tensor, Tensor]]:
        """:meth:`image_cams` of every image of a batch."""
        task = task or self.test_task
        labels = self._multi_hot(data_samples)
        return [
            self.image_cams(inputs, i, ds, labels, task)
            for i, ds in enumerate(data_samples)
        ]

    def predict(self, inputs: Tensor,
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        """Seeds of the labelled classes (``test_task`` prompts).

        With ``reuse_seeds_from`` set, an image whose seed PNG exists there
        is not recomputed: the file is read back (resumable seed writing).

        Returns:
            list[SegDataSample]: ``pred_sem_seg`` = seed (1, H, W) at the
            original image size (0 background, class indices).
        """
        task = self.test_task
        seeder = self.seeders.get(task)
        if seeder is None:
            raise ValueError(f'No seeder configured for task "{task}"')
        labels = self._multi_hot(data_samples)
        for i, ds in enumerate(data_samples):
            done = (
                seed_path(self.reuse_seeds_from, ds.img_path)
                if self.reuse_seeds_from else None)
            ori = tuple(ds.metainfo.get('ori_shape', inputs.shape[-2:])[:2])
            if done is not None and is_done(done) and \
                    not self.output_cams:
                seed = torch.from_numpy(read_seed_png(done).astype(np.int64))
            else:
                cams, fg = self.image_cams(inputs, i, ds, labels, task)
                seed = seeder(cams, fg, ori, data_sample=ds)
                if self.output_cams:
                    ds.set_data({
                        'seg_logits':
                        PixelData(data=self._full_cams(cams, fg, ori))
                    })
            ds.set_data(
                {'pred_sem_seg': PixelData(data=seed.long().unsqueeze(0))})
        return data_samples

    def _full_cams(self, cams: Tensor, fg: Tensor, size: Tuple[int,
                                                               int]) -> Tensor:
        """(C, H, W) min-max normalised CAMs at image size, zeros for the
        background channel and absent classes."""
        out = cams.new_zeros((len(self.dataset_classes), ) + tuple(size))
        if len(fg):
            out[fg + 1] = normalized_at_size(cams.float(), size)
        return out

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """Foreground logits of the test task's prompts, (B, G)."""
        out = self.clip.encode_image(inputs, target_grad=False, attn_layers=0)
        return self.logits(out.embedding,
                           self.text_features(self.test_task))[:, :self.num_fg]

    def forward(
            self,
            inputs: Tensor,
            data_samples: Optional[List[SegDataSample]] = None,
            mode: str = 'tensor') -> Union[Dict[str, Tensor], list, Tensor]:
        """mmengine entry: ``'loss'``, ``'predict'`` or ``'tensor'``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}"')

    def log_param_count(self) -> None:
        """Print the number of trainable prompt parameters."""
        n = self.num_trainable_params()
        print_log(
            f'FMAPromptModel: {n:,} trainable prompt parameters '
            f'({n * 4 / 2**20:.2f} MiB fp32, {n * 2 / 2**20:.2f} MiB fp16); '
            'CLIP frozen',
            logger='current')
