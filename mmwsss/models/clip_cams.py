"""CLIPCAMExtractor: prompts to text features, images to Softmax-GradCAMs.

The CLIP side of FMA-WSSS, shared by training (MCL logits, the CAMs the CAL
loss trains) and seed prediction (the CAMs of one test image at its own
scale): the text features of a task's prompts (cached in eval mode), the
scaled cosine logits, the Softmax-GradCAM of a batch
(:mod:`mmwsss.functional.gradcam`), and the CAM input of one test image (the
authors' patch-grid resize, :mod:`mmwsss.functional.cam_input`) computed
in the precision ``cam_dtype`` asks for.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.functional.cam_input import (patch_aligned_size,
                                         resize_normalized_like_pil)
from mmwsss.functional.gradcam import SOFTMAX_MODES, grad_cam, softmax_scores

__all__ = ['CLIPCAMExtractor', 'checked_choice']

TASKS = ('cls', 'seg')
CAM_INPUT_SIZES = ('round_up', 'pad')
CAM_DTYPES = ('float32', 'bfloat16', 'float16')


def checked_choice(owner: str, key: str, value: str,
                   choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming the
    config key.

    Args:
        owner (str): Who checks (the start of the message).
        key (str): The config key.
        value (str): Its value.
        choices (Sequence[str]): The allowed values.

    Returns:
        str: ``value``.
    """
    if value not in choices:
        raise ValueError(f'{owner}: {key} must be one of '
                         f'{tuple(choices)}, got {value!r}')
    return value


class CLIPCAMExtractor:
    """Text features, logits and Softmax-GradCAMs of a frozen CLIP with
    prompt learners.

    Not an ``nn.Module``: it holds no state of its own. The modules it uses
    belong to the model that builds it (``FMAPromptModel`` saves the prompt
    contexts under its own keys), as the prompt learners use the CLIP they
    are given without registering it.

    Args:
        clip (nn.Module): The frozen CLIP (``FrozenCLIP``).
        prompts (dict[str, nn.Module | None]): Prompt learner of each task
            (``'cls'``, ``'seg'``); None: the model has no such prompts.
        cam_input_size (str): CAM input of a test image
            (:meth:`prepare_image`).
            ``'round_up'`` (the FMA-WSSS and CLIP-ES code): each side rounded
            up to the next patch multiple, PIL bicubic on the uint8 image
            (:func:`~mmwsss.functional.cam_input.resize_normalized_like_pil`;
            skipped when the size already fits, so a pipeline that resized
            already is not resized twice). ``'pad'``: no resize, zero
            padding (= the mean colour) up to the patch grid.
        cam_softmax (str): Softmax before GradCAM
            (:func:`~mmwsss.functional.gradcam.softmax_scores`):
            ``'global_max'`` (FMA-WSSS: AlchemyCat's masked softmax, max over
            all logits, eps 1e-5) or ``'exact'`` (CLIP-ES).
        cam_dtype (str): Precision of the CAMs of a test image
            (:meth:`image_cams`): ``'float32'`` (the authors' seeds; an outer
            autocast, e.g. a test loop with ``fp16=True``, is switched off
            for them), ``'bfloat16'`` or ``'float16'`` (autocast on the
            inputs' device). Training follows the optim wrapper's autocast.
        data_preprocessor (nn.Module, optional): The data preprocessor that
            normalised the inputs; its mean / std undo the normalisation
            for the ``'round_up'`` resize.
    """

    def __init__(self,
                 clip: nn.Module,
                 prompts: Dict[str, Optional[nn.Module]],
                 cam_input_size: str = 'round_up',
                 cam_softmax: str = 'global_max',
                 cam_dtype: str = 'float32',
                 data_preprocessor: Optional[nn.Module] = None) -> None:
        owner = type(self).__name__
        self.clip = clip
        self.prompts = {t: prompts.get(t) for t in TASKS}
        self.cam_input_size = checked_choice(owner, 'cam_input_size',
                                             cam_input_size, CAM_INPUT_SIZES)
        self.cam_softmax = checked_choice(owner, 'cam_softmax', cam_softmax,
                                          SOFTMAX_MODES)
        self.cam_dtype = getattr(
            torch, checked_choice(owner, 'cam_dtype', cam_dtype, CAM_DTYPES))
        self.data_preprocessor = data_preprocessor
        self._text_cache: Dict[str, Tensor] = {}

    # ------------------------------------------------------------------
    # text side
    # ------------------------------------------------------------------
    def learner(self, task: str) -> nn.Module:
        """The prompt learner of ``task``; a ValueError if there is none."""
        learner = self.prompts.get(task)
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
            Cached while the prompt learner is in eval mode (until
            :meth:`clear_cache`).
        """
        learner = self.learner(task)
        if not learner.training and task in self._text_cache:
            return self._text_cache[task]
        embeds, eot = learner()
        feats = F.normalize(self.clip.encode_text(embeds, eot), dim=-1)
        if not learner.training:
            self._text_cache[task] = feats.detach()
        return feats

    def clear_cache(self) -> None:
        """Forget the cached text features (the prompts changed)."""
        self._text_cache.clear()

    def logits(self, image_embedding: Tensor, text: Tensor) -> Tensor:
        """Scaled cosine similarity, (B, E) x (M, E) -> (B, M)."""
        img = F.normalize(image_embedding, dim=-1)
        return self.clip.logit_scale * img @ text.to(img.dtype).t()

    def class_logits(self, inputs: Tensor, task: str) -> Tensor:
        """Logits of all prompts of ``task`` (no image-side gradient).

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images.
            task (str): ``'cls'`` or ``'seg'``.

        Returns:
            Tensor: (B, M), foreground prompts first.
        """
        out = self.clip.encode_image(inputs, target_grad=False, attn_layers=0)
        return self.logits(out.embedding, self.text_features(task))

    # ------------------------------------------------------------------
    # CAMs of a batch
    # ------------------------------------------------------------------
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

    def cams_with_logits(
            self,
            inputs: Tensor,
            fg_present: Tensor,
            task: str,
            attn_layers: int = 0) -> Tuple[Tensor, Tensor, Tensor, object]:
        """One image pass for logits that train the prompts and CAMs that
        do not (the joint phase, eq. 11).

        The logits see the image embedding detached (they train the prompts
        through the text side only); the CAMs see the text features detached
        (the image-side graph belongs to the GradCAM).

        Args:
            inputs (Tensor): (B, 3, H, W) normalised crops.
            fg_present (Tensor): (B, G) 0/1 classes to compute CAMs for.
            task (str): ``'cls'`` or ``'seg'`` prompts.
            attn_layers (int): Attention maps of the last K blocks to return.

        Returns:
            tuple: ``(logits, cams, pairs, clip_out)``: (B, M) logits, raw
            CAMs (P, h, w), (P, 2) pairs and the CLIP image output.
        """
        with torch.enable_grad():
            out = self.clip.encode_image(
                inputs, target_grad=True, attn_layers=attn_layers)
            text = self.text_features(task)
            logits = self.logits(out.embedding.detach(), text)
            pairs = torch.nonzero(fg_present.bool())
            scores = softmax_scores(
                self.logits(out.embedding, text.detach()), fg_present.bool(),
                self.cam_softmax)
            cams = grad_cam(out.target, scores, pairs, out.grid)
        return logits, cams, pairs, out

    # ------------------------------------------------------------------
    # CAMs of one test image
    # ------------------------------------------------------------------
    def _input_normalization(
            self) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """(3, 1, 1) mean / std the data preprocessor normalised the
        inputs with (0-255 units), or ``(None, None)`` without one."""
        pre = self.data_preprocessor
        if not getattr(pre, '_enable_normalize', False):
            return None, None
        return pre.mean, pre.std

    def prepare_image(self, inputs: Tensor, i: int, data_sample) -> Tensor:
        """CAM input of image ``i``: crop the batch padding, then (with
        ``cam_input_size='round_up'``) resize to the patch grid as the
        authors do (see :mod:`mmwsss.functional.cam_input`).

        Args:
            inputs (Tensor): (B, 3, H, W) normalised batch.
            i (int): Image index in the batch.
            data_sample (SegDataSample): Its data sample (``img_shape``).

        Returns:
            Tensor: (1, 3, h, w) normalised image.
        """
        h, w = data_sample.metainfo.get('img_shape', inputs.shape[-2:])[:2]
        img = inputs[i:i + 1, :, :h, :w]
        if self.cam_input_size == 'round_up':
            size = patch_aligned_size((h, w), self.clip.patch_size)
            if size != (h, w):
                mean, std = self._input_normalization()
                img = resize_normalized_like_pil(img, size, mean, std)
        return img

    def image_cams(self,
                   inputs: Tensor,
                   i: int,
                   data_sample,
                   fg_present: Tensor,
                   task: str,
                   attn_layers: int = 0) -> Tuple[Tensor, Optional[Tensor]]:
        """Raw CAMs of image ``i`` of a batch at its own scale, in
        ``cam_dtype``.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised batch.
            i (int): Image index in the batch.
            data_sample (SegDataSample): Its data sample (``img_shape``).
            fg_present (Tensor): (1, G) 0/1 classes of the image.
            task (str): ``'cls'`` or ``'seg'`` prompts.
            attn_layers (int): Attention maps of the last K blocks to return
                (for CAA); 0 for none.

        Returns:
            tuple[Tensor, Tensor | None]: CAMs (P, h, w) on the patch grid
            (with the graph of the GradCAM; detach them) and the image's
            attention maps (K, 1+L, 1+L), None when ``attn_layers`` is 0.
        """
        img = self.prepare_image(inputs, i, data_sample)
        with torch.autocast(
                img.device.type,
                dtype=self.cam_dtype,
                enabled=self.cam_dtype != torch.float32):
            cams, _, out = self.compute_cams(
                img, fg_present, task, attn_layers=attn_layers)
        return cams, (out.attn[0] if attn_layers else None)
