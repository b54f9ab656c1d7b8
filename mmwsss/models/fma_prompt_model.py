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

Prediction (``tools/test.py``, the coarse-seed stage of training) is the
:class:`~.seed_predictor.SeedPredictor`'s: per image at its own scale, CAMs
of the labelled classes -> CAA -> seeder -> ``pred_sem_seg``.

The model is put together from parts with one job each:

- :class:`~.prompt_classes.PromptClasses`: class list, prompt names and
  the labels read from data samples;
- :class:`~.clip_cams.CLIPCAMExtractor` (``model.cam_extractor``):
  prompts to text features (cached in eval mode), images to
  Softmax-GradCAMs (CAM input resize, ``cam_dtype``);
- :class:`~.seed_predictor.SeedPredictor` (``model.seed_predictor``):
  extractor + CAA + seeders, resume from finished seeds;
- this class: the prompt learners and losses, the training phases and the
  checkpoint policy.

Only the prompt learners hold trainable parameters and only they are saved
in checkpoints; CLIP's weights always come from ``clip.pretrained``.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from .baselines.frozen_parts import exclude_from_checkpoint
from .clip_cams import TASKS, CLIPCAMExtractor, checked_choice
from .prompt_checkpoint import check_prompt_checkpoint
from .prompt_classes import PromptClasses
from .prompt_learners import build_prompt_learners
from .seed_predictor import SeedPredictor

__all__ = ['FMAPromptModel']

PHASES = ('cls', 'seg', 'joint')
CAL_LABELS = ('crop', 'image')
#: What FMAPromptModel held before it was split (issue 24), and its part now.
_MOVED = dict(
    **dict.fromkeys(('cam_input_size', 'cam_softmax', 'cam_dtype',
                     'text_features', 'logits', 'compute_cams'),
                    'cam_extractor'),
    **dict.fromkeys(('caa_cfg', 'seeders', 'refine', 'image_cams'),
                    'seed_predictor'))


def _moved(name: str) -> str:
    return (f'FMAPromptModel.{name} moved to its part: use '
            f'model.{_MOVED[name]}.{name}')


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
        caa (dict): Per task CAA settings, see
            :class:`~.seed_predictor.SeedPredictor`.
        seeder (dict): Per task seeder configs, see
            :class:`~.seed_predictor.SeedPredictor`.
        joint_seeder (dict, optional): Seeder for the online D_C of the
            ``'joint'`` phase; defaults to ``seeder['cls']``.
        cam_input_size (str): ``'round_up'`` or ``'pad'``, see
            :class:`~.clip_cams.CLIPCAMExtractor`.
        cam_softmax (str): ``'global_max'`` or ``'exact'``, see
            :class:`~.clip_cams.CLIPCAMExtractor`.
        reuse_seeds_from (str, optional): Seed folder of an earlier run;
            images with a finished seed there are read back instead of
            recomputed (set it to ``test_evaluator.seed_dir`` of SeedMetric).
        output_cams (bool): ``predict`` also returns the refined CAMs as
            ``seg_logits`` for visualisation or other seeders. Defaults to
            False.
        allow_untrained_prompts (bool): Accept a checkpoint without the
            learned prompts (e.g. ``tools/test.py CONFIG none``) and keep
            the prompts' initial values. Without it such a checkpoint is an
            error naming the missing keys. Defaults to False.
        cam_dtype (str): Precision of the seed CAMs, see
            :class:`~.clip_cams.CLIPCAMExtractor`.
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
        self.class_table = PromptClasses(dataset, classes, class_names,
                                         bg_names)
        self.dataset_classes = self.class_table.dataset_classes
        self.class_names = self.class_table.prompt_names
        self.bg_names = self.class_table.bg_names
        self.num_fg = self.class_table.num_fg
        self.clip = MODELS.build(clip)
        self.cls_prompt, self.seg_prompt = build_prompt_learners(
            cls_prompt, seg_prompt, self.clip, self.class_names,
            self.bg_names)
        self.mcl_loss = MODELS.build(mcl_loss)
        self.cal_loss = MODELS.build(cal_loss)
        self.cam_extractor = CLIPCAMExtractor(
            self.clip,
            dict(cls=self.cls_prompt, seg=self.seg_prompt),
            cam_input_size=cam_input_size,
            cam_softmax=cam_softmax,
            cam_dtype=cam_dtype,
            data_preprocessor=self.data_preprocessor)
        self.seed_predictor = SeedPredictor(
            self.cam_extractor,
            len(self.dataset_classes),
            caa=caa,
            seeder=seeder)
        self.joint_seeder = (
            MODELS.build(joint_seeder) if joint_seeder is not None else
            self.seed_predictor.seeders.get('cls'))
        self.cal_labels = checked_choice('FMAPromptModel', 'cal_labels',
                                         cal_labels, CAL_LABELS)
        self.phase = phase
        self.test_task = test_task
        self.reuse_seeds_from = reuse_seeds_from
        self.output_cams = output_cams
        self.allow_untrained_prompts = allow_untrained_prompts
        exclude_from_checkpoint(self, ['clip'])

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str],
                              unexpected_keys: List[str],
                              error_msgs: List[str]) -> None:
        """Only the prompts are loaded, and they must be there
        (:func:`~.prompt_checkpoint.check_prompt_checkpoint`)."""
        check_prompt_checkpoint(self, state_dict, prefix,
                                self.allow_untrained_prompts)
        self.cam_extractor.clear_cache()
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def __getattr__(self, name: str):
        if name in _MOVED:
            raise AttributeError(_moved(name))
        return super().__getattr__(name)

    def __setattr__(self, name: str, value) -> None:
        if name in _MOVED:  # would be silently unused
            raise AttributeError(_moved(name))
        super().__setattr__(name, value)

    def train(self, mode: bool = True) -> 'FMAPromptModel':
        """Set the mode; drops the cached text features."""
        super().train(mode)
        self.cam_extractor.clear_cache()
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

    def log_param_count(self) -> None:
        """Print the number of trainable prompt parameters."""
        n = self.num_trainable_params()
        print_log(
            f'FMAPromptModel: {n:,} trainable prompt parameters '
            f'({n * 4 / 2**20:.2f} MiB fp32, {n * 2 / 2**20:.2f} MiB fp16); '
            'CLIP frozen',
            logger='current')

    def multi_hot(self, data_samples: Sequence[SegDataSample]) -> Tensor:
        """(B, G) image labels on the model's device (``img_labels``)."""
        return self.class_table.multi_hot(data_samples,
                                          self.clip.logit_scale.device)

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
        labels = self.multi_hot(data_samples)
        for i in torch.nonzero(labels.sum(1) == 0).flatten().tolist():
            raise ValueError(
                f'{data_samples[i].metainfo.get("img_path", i)}: image has no '
                'foreground label; WSSS training needs at least one per image'
                ' (drop such images from the split)')
        if self.phase == 'cls':
            logits = self.cam_extractor.class_logits(inputs, 'cls')
            return {'loss_mcl': self.mcl_loss(logits[:, :self.num_fg], labels)}
        if self.phase == 'joint':
            return self._joint_losses(inputs, data_samples, labels)
        lb = torch.stack([ds.gt_sem_seg.data[0]
                          for ds in data_samples]).long()
        return self._cal(inputs, lb, labels)

    def _cal(self, inputs: Tensor, lb: Tensor,
             labels: Tensor) -> Dict[str, Tensor]:
        """CAL loss of the seg CAMs against the seed maps ``lb``."""
        present = (self.class_table.present_in(lb)
                   if self.cal_labels == 'crop' else labels)
        if not bool(present.any()):
            # no class in any seed crop (e.g. all-background D_C): a zero
            # loss that keeps the graph, so the optimizer step is a no-op
            zero = sum(p.sum() for p in self.seg_prompt.parameters()) * 0.
            return {'loss_cal_fg': zero, 'loss_cal_bg': zero.clone()}
        cams, _, _ = self.cam_extractor.compute_cams(
            inputs, present, 'seg', create_graph=True, attn_layers=0)
        return self.cal_loss(cams, present, lb)

    def _joint_losses(self, inputs: Tensor,
                      data_samples: List[SegDataSample],
                      labels: Tensor) -> Dict[str, Tensor]:
        """Eq. 11 in one step: MCL on the cls logits, and CAL on the seg
        CAMs against a D_C made online from the cls CAMs of the crop."""
        logits, cams, pairs, out = self.cam_extractor.cams_with_logits(
            inputs, labels, 'cls', self.seed_predictor.attn_layers('cls'))
        with torch.enable_grad():
            losses = {
                'loss_mcl': self.mcl_loss(logits[:, :self.num_fg], labels)
            }
        lb = self.seed_predictor.crop_seeds(cams.detach(), pairs, out.attn,
                                            data_samples,
                                            tuple(inputs.shape[-2:]),
                                            self.joint_seeder)
        losses.update(self._cal(inputs, lb, labels))
        return losses

    def predict_cams(self,
                     inputs: Tensor,
                     data_samples: List[SegDataSample],
                     task: Optional[str] = None) -> List[tuple]:
        """Refined CAMs and class ids of every image of a batch
        (:meth:`SeedPredictor.image_cams`, ``test_task`` by default)."""
        return self.seed_predictor.predict_cams(inputs, data_samples,
                                                self.multi_hot(data_samples),
                                                task or self.test_task)

    def predict(self, inputs: Tensor,
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        """Seeds of the labelled classes (``test_task`` prompts); see
        :meth:`SeedPredictor.predict`.

        Returns:
            list[SegDataSample]: ``pred_sem_seg`` = seed (1, H, W) at the
            original image size (0 background, class indices).
        """
        self.seed_predictor.seeder(self.test_task)  # fails before the labels
        return self.seed_predictor.predict(inputs, data_samples,
                                           self.multi_hot(data_samples),
                                           self.test_task,
                                           self.reuse_seeds_from,
                                           self.output_cams)

    def forward(
            self,
            inputs: Tensor,
            data_samples: Optional[List[SegDataSample]] = None,
            mode: str = 'tensor') -> Union[Dict[str, Tensor], list, Tensor]:
        """``'loss'``, ``'predict'`` or ``'tensor'`` ((B, G) logits)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            logits = self.cam_extractor.class_logits(inputs, self.test_task)
            return logits[:, :self.num_fg]
        raise RuntimeError(f'Invalid mode "{mode}"')
