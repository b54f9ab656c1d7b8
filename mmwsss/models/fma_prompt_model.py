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
image at its own resolution (resized to the nearest patch multiple, as the
authors do): CAMs of the labelled classes -> CAA -> seeder (SAMS by default)
-> ``pred_sem_seg`` (0 = background, class indices) in a SegDataSample, so
mmseg's metrics and visualisers work on it.

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

from mmwsss.class_names import IGNORE_INDEX, get_dataset_info
from mmwsss.evaluation.seed_io import is_done, read_seed_png, seed_path
from .caa import caa_refine, merge_attention
from .gradcam import grad_cam, normalized_at_size, softmax_scores

__all__ = ['FMAPromptModel']

TASKS = ('cls', 'seg')
PHASES = ('cls', 'seg', 'joint')


def _round_to_multiple(x: int, m: int) -> int:
    """Nearest positive multiple of ``m`` (the authors' patch alignment)."""
    return max(m, int(round(x / m)) * m)


@MODELS.register_module()
class FMAPromptModel(BaseModel):
    """FMA-WSSS prompt learning and seed generation with a frozen CLIP.

    Args:
        clip (dict): Config of the frozen CLIP (``FrozenCLIP``).
        dataset (str): Name of the class tables in
            :mod:`mmwsss.class_names` (``'voc'`` / ``'coco'``) used for the
            default prompt names and CLIP-ES background classes.
        class_names (Sequence[str], optional): Foreground prompt names;
            defaults to the dataset's CLIP-ES names.
        bg_names (Sequence[str], optional): Background class names of the cls
            prompts; defaults to the dataset's CLIP-ES background classes.
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
            :func:`mmwsss.models.caa.caa_refine` (``threshold``,
            ``sinkhorn_iters``, ``power``, ``aff_at``) plus ``last_k``.
        seeder (dict): Per task seeder configs (``SAMSSeeder``,
            ``ThresholdSeeder``, ...), turning CAMs into seed maps.
        joint_seeder (dict, optional): Seeder for the online D_C of the
            ``'joint'`` phase; defaults to ``seeder['cls']``.
        cam_input_size (str): ``'align'`` resizes each test image to the
            nearest patch multiple (authors), ``'pad'`` zero-pads it.
        reuse_seeds_from (str, optional): Seed folder of an earlier run;
            images with a seed PNG there are read back instead of
            recomputed (set it to ``test_evaluator.seed_dir`` of SeedMetric).
        output_cams (bool): ``predict`` also returns the refined CAMs as
            ``seg_logits`` ((C, H, W), min-max normalised, zeros for the
            classes not in the image) for visualisation or other seeders.
            Defaults to False.
        data_preprocessor (dict, optional): Data preprocessor config (CLIP
            normalisation).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 clip: dict,
                 dataset: str = 'voc',
                 class_names: Optional[Sequence[str]] = None,
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
                 cam_input_size: str = 'align',
                 reuse_seeds_from: Optional[str] = None,
                 output_cams: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):  # mmseg scope, any caller
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        info = get_dataset_info(dataset)
        self.dataset_classes = info['classes']
        self.class_names = list(class_names or info['prompt_names'])
        self.bg_names = list(info['bg_classes'] if bg_names is
                             None else bg_names)
        self.num_fg = len(self.class_names)
        if self.num_fg != len(self.dataset_classes) - 1:
            raise ValueError(
                f'FMAPromptModel: {self.num_fg} class_names given but dataset '
                f'"{dataset}" has {len(self.dataset_classes) - 1} foreground '
                'classes')

        self.clip = MODELS.build(clip)
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
        self.mcl_loss = MODELS.build(mcl_loss)
        self.cal_loss = MODELS.build(cal_loss)

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
        if cal_labels not in ('crop', 'image'):
            raise ValueError(
                f'cal_labels must be "crop" or "image", got {cal_labels!r}')
        self.cal_labels = cal_labels
        if cam_input_size not in ('align', 'pad'):
            raise ValueError('cam_input_size must be "align" or "pad", got '
                             f'{cam_input_size!r}')
        self.cam_input_size = cam_input_size
        self.reuse_seeds_from = reuse_seeds_from
        self.output_cams = output_cams
        self.phase = phase
        self.test_task = test_task
        self._text_cache: Dict[str, Tensor] = {}
        self._register_state_dict_hook(self._drop_clip_weights)

    # ------------------------------------------------------------------
    # state: only prompts are saved / loaded
    # ------------------------------------------------------------------
    @staticmethod
    def _drop_clip_weights(module, state_dict, prefix, local_metadata):
        """Keep CLIP's frozen weights out of checkpoints."""
        for key in [k for k in state_dict if k.startswith(prefix + 'clip.')]:
            del state_dict[key]
        return state_dict

    def load_state_dict(self, state_dict, strict: bool = True, assign=False):
        """Load prompt weights; CLIP weights in ``state_dict`` are ignored
        and CLIP's own keys are never reported missing."""
        state_dict = {
            k: v
            for k, v in state_dict.items() if not k.startswith('clip.')
        }
        own = {k for k in self.state_dict().keys()}
        missing = sorted(own - set(state_dict))
        unexpected = sorted(set(state_dict) - own)
        if strict and (missing or unexpected):
            raise RuntimeError(
                'FMAPromptModel checkpoint does not match: missing '
                f'{missing}, unexpected {unexpected}')
        super().load_state_dict(state_dict, strict=False)
        self._text_cache.clear()
        return torch.nn.modules.module._IncompatibleKeys(missing, unexpected)

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
                softmax of eq. 1 runs over these plus all background prompts.
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
            scores = softmax_scores(logits, fg_present)
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
                self.logits(out.embedding, text.detach()), labels.bool())
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
    def _prepare_image(self, inputs: Tensor, i: int,
                       ds: SegDataSample) -> Tensor:
        """Crop batch padding, then align to the patch grid."""
        h, w = ds.metainfo.get('img_shape', inputs.shape[-2:])[:2]
        img = inputs[i:i + 1, :, :h, :w]
        p = self.clip.patch_size
        if self.cam_input_size == 'align':
            size = (_round_to_multiple(h, p), _round_to_multiple(w, p))
            if size != (h, w):
                img = F.interpolate(
                    img, size=size, mode='bilinear', align_corners=False)
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
        cams, _, out = self.compute_cams(
            img,
            labels[i:i + 1],
            task,
            attn_layers=caa.get('last_k', 8) if caa else 0)
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
