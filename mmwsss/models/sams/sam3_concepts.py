"""SAM 3 concept segmentation: text prompt -> instance masks and scores,
and SAM 3's masks as quasi-superpixels for SAMS.

:class:`SAM3ConceptSegmenter` wraps ``sam3``'s image processor: one image
embedding, then the grounding of the text prompts on it, either one pass per
prompt (:meth:`~SAM3ConceptSegmenter.segment`, ``Sam3Processor``'s own
path) or all prompts of the image batched (:meth:`~SAM3ConceptSegmenter.
segment_prompts`: the image embedding is shared, text features, fusion
encoder, decoder and heads run over a batch of prompts, in chunks of
``prompt_batch_size`` to bound memory). A prompt's text features are cached,
they do not depend on the image. The output per prompt is what
``Sam3Processor`` returns: instances whose score (query probability x
presence probability) exceeds ``confidence_threshold``, with mask
probabilities at the image size (bilinear, binarised at 0.5); both paths
give the same instances (equal up to float rounding).

Note that SAM 3's fusion encoder conditions the image tokens on the text in
every layer and its pixel decoder upsamples those tokens, so most of the
work per prompt stays per prompt in a batch: batching removes the per-pass
overheads (many small operations on a GPU), not the arithmetic.

:class:`SAM3QuasiSuperpixelGenerator` (registered, the same
``generate_record(rgb)`` interface and cache format as the SAM family)
prompts every image with a fixed vocabulary (by default the dataset's
foreground class names, optionally also CLIP-ES's background names) and
stores every returned instance as a quasi-superpixel. SAM 3 has no
multimask levels: every mask is stored as a whole (level 2), so the level
filter keeps them all and SAMS paints overlaps by score. The stored
``predicted_iou`` is the instance score; ``stability_score`` is SAM's
stability of the mask logits (offset 1.0).
"""
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from segment_anything.utils.amg import (calculate_stability_score,
                                        mask_to_rle_pytorch)

from mmseg.registry import MODELS
from .levelled_amg import check_rgb_image, xyxy_to_xywh
from mmwsss.io.mask_cache import SAMMaskRecord, config_fingerprint
from .mask_generator import build_generator_model
from .sam3_builder import SAM3_RESOLUTION, build_sam3_model

__all__ = [
    'SAM3ConceptSegmenter', 'SAM3QuasiSuperpixelGenerator', 'ConceptMasks'
]

#: Level stored for SAM 3 masks (no multimask levels: all are wholes).
WHOLE = 2


class ConceptMasks(NamedTuple):
    """Instances of one text prompt, by decreasing score.

    Attributes:
        probs (Tensor): (N, H, W) mask probabilities at the image size.
        scores (Tensor): (N,) instance scores.
        boxes (Tensor): (N, 4) XYXY boxes in image pixels.
    """
    probs: torch.Tensor
    scores: torch.Tensor
    boxes: torch.Tensor


class SAM3ConceptSegmenter:
    """Text-prompted instance segmentation with SAM 3.

    Args:
        model_type (str): ``'sam3'`` or ``'tiny'``.
        checkpoint (str, optional): Local ``sam3.pt``.
        random_init (bool): Random weights for ``'sam3'`` (benchmarks).
        seed (int): Seed of a random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        bpe_path (str, optional): CLIP BPE vocabulary (default open_clip's).
        confidence_threshold (float): Instances kept above this score
            (``Sam3Processor``'s default 0.5).
        prompt_batch_size (int): Prompts per batched pass of
            :meth:`segment_prompts` (memory grows with it: at the released
            size, on the CPU, a peak of +2.6 GiB at 8 against +0.8 GiB at
            1); 1 runs :meth:`segment` once per prompt.
    """

    def __init__(self,
                 model_type: str = 'sam3',
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 seed: int = 0,
                 device: Optional[str] = None,
                 bpe_path: Optional[str] = None,
                 confidence_threshold: float = 0.5,
                 prompt_batch_size: int = 8) -> None:
        if int(prompt_batch_size) < 1:
            raise ValueError('prompt_batch_size must be >= 1, got '
                             f'{prompt_batch_size!r}')
        self.prompt_batch_size = int(prompt_batch_size)
        self.model, self.weights = build_generator_model(
            build_sam3_model,
            'SAM 3',
            model_type,
            checkpoint,
            random_init,
            seed,
            device,
            bpe_path=bpe_path)
        self.model.requires_grad_(False)
        from sam3.model.sam3_image_processor import Sam3Processor
        self.device = next(self.model.parameters()).device
        self.processor = Sam3Processor(
            self.model,
            resolution=SAM3_RESOLUTION[model_type],
            device=str(self.device),
            confidence_threshold=float(confidence_threshold))
        self.model_type = model_type
        self.confidence_threshold = float(confidence_threshold)
        self._text_cache: Dict[str, Dict[str, torch.Tensor]] = {}

    @torch.inference_mode()
    def embed(self, rgb: np.ndarray) -> Dict[str, Any]:
        """Image embedding of an HWC uint8 RGB image (a processor state)."""
        check_rgb_image(rgb)
        chw = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
        return self.processor.set_image(chw)

    @torch.inference_mode()
    def segment(self, state: Dict[str, Any], prompt: str) -> ConceptMasks:
        """Instances of one text prompt on an embedded image.

        Args:
            state (dict): From :meth:`embed`.
            prompt (str): The concept, e.g. ``'dog'``.

        Returns:
            ConceptMasks: ``(probs, scores, boxes)`` on the CPU, by
            decreasing score.
        """
        text = self.text_features([prompt])[0]
        state['backbone_out'].update(text)
        if 'geometric_prompt' not in state:
            state['geometric_prompt'] = self.model._get_dummy_prompt()
        out = self.processor._forward_grounding(state)
        scores = out['scores'].float().cpu()
        order = torch.argsort(scores, descending=True, stable=True)
        probs = out['masks_logits'][:, 0].float().cpu()[order]
        return ConceptMasks(probs, scores[order],
                            out['boxes'].float().cpu()[order])

    @torch.inference_mode()
    def text_features(self,
                      prompts: Sequence[str]) -> List[Dict[str, torch.Tensor]]:
        """Text features of each prompt, cached (they do not depend on the
        image).

        Uncached prompts are encoded one at a time, as :meth:`segment`
        always did, so that both paths see the same features.

        Args:
            prompts (Sequence[str]): The concepts.

        Returns:
            list[dict]: Per prompt, ``forward_text``'s output.
        """
        for prompt in prompts:
            if prompt not in self._text_cache:
                self._text_cache[prompt] = self.model.backbone.forward_text(
                    [prompt], device=self.device)
        return [self._text_cache[p] for p in prompts]

    @torch.inference_mode()
    def segment_prompts(
            self,
            state: Dict[str, Any],
            prompts: Sequence[str],
            batch_size: Optional[int] = None) -> List[ConceptMasks]:
        """Instances of every text prompt on an embedded image, batched.

        The prompts share the image embedding; text features, fusion
        encoder, decoder and segmentation heads run over ``batch_size``
        prompts at a time. The result equals :meth:`segment` per prompt
        (up to float rounding).

        Args:
            state (dict): From :meth:`embed` (left unchanged).
            prompts (Sequence[str]): The concepts.
            batch_size (int, optional): Prompts per pass; default
                ``prompt_batch_size``. 1: :meth:`segment` per prompt.

        Returns:
            list[ConceptMasks]: One per prompt, in order, on the CPU, each
            by decreasing score.
        """
        size = self.prompt_batch_size if batch_size is None else int(
            batch_size)
        if size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size!r}')
        prompts = list(prompts)
        if size == 1:
            return [self.segment(state, p) for p in prompts]
        out: List[ConceptMasks] = []
        for i in range(0, len(prompts), size):
            out += self._segment_batch(state, prompts[i:i + size])
        return out

    def _segment_batch(self, state: Dict[str, Any],
                       prompts: List[str]) -> List[ConceptMasks]:
        """One grounding pass of ``prompts`` on one image (see
        ``Sam3Processor._forward_grounding``, the same steps per prompt)."""
        from sam3.model import box_ops
        from sam3.model.data_misc import FindStage, interpolate
        n = len(prompts)
        texts = self.text_features(prompts)
        backbone_out = dict(state['backbone_out'])  # the state stays as is
        for key, dim in (('language_features', 1), ('language_mask', 0),
                         ('language_embeds', 1)):
            backbone_out[key] = torch.cat([t[key] for t in texts], dim=dim)
        ids = torch.arange(n, device=self.device, dtype=torch.long)
        find = FindStage(
            img_ids=torch.zeros_like(ids),  # every prompt on image 0
            text_ids=ids,
            input_boxes=None,
            input_boxes_mask=None,
            input_boxes_label=None,
            input_points=None,
            input_points_mask=None)
        outputs = self.model.forward_grounding(
            backbone_out=backbone_out,
            find_input=find,
            geometric_prompt=self.model._get_dummy_prompt(num_prompts=n),
            find_target=None)
        probs_all = outputs['pred_logits'].sigmoid()
        presence = outputs['presence_logit_dec'].sigmoid().unsqueeze(1)
        probs_all = (probs_all * presence).squeeze(-1)  # (n, Q)
        h, w = state['original_height'], state['original_width']
        scale = torch.tensor([w, h, w, h]).to(self.device)
        results = []
        for i in range(n):
            keep = probs_all[i] > self.confidence_threshold
            scores = probs_all[i][keep].float().cpu()
            boxes = box_ops.box_cxcywh_to_xyxy(
                outputs['pred_boxes'][i][keep]) * scale[None, :]
            masks = interpolate(
                outputs['pred_masks'][i][keep].unsqueeze(1), (h, w),
                mode='bilinear',
                align_corners=False).sigmoid()
            order = torch.argsort(scores, descending=True, stable=True)
            results.append(
                ConceptMasks(masks[:, 0].float().cpu()[order], scores[order],
                             boxes.float().cpu()[order]))
        return results


@MODELS.register_module()
class SAM3QuasiSuperpixelGenerator:
    """SAM 3 instances of a fixed concept vocabulary as quasi-superpixels.

    Args:
        model_type (str): ``'sam3'`` or ``'tiny'``.
        dataset (str): Class tables of
            :func:`mmwsss.class_names.get_dataset_info`.
        prompts (Sequence[str], optional): The vocabulary; default: the
            dataset's foreground ``text_names`` (+ ``bg_classes`` when
            ``background_prompts``).
        background_prompts (bool): Also prompt CLIP-ES's background names
            (sky, road, ...), so background regions get masks too.
        min_mask_region_area (int): Masks smaller than this are dropped.
        stability_score_offset (float): Logit offset of the stored
            stability score.
        **segmenter_kwargs: The other :class:`SAM3ConceptSegmenter`
            arguments (keywords only): ``checkpoint``, ``random_init``,
            ``seed``, ``device``, ``bpe_path``, ``confidence_threshold``
            (the instance score threshold), ``prompt_batch_size`` (prompts
            per batched pass; 1: one pass per prompt; the masks do not
            depend on it).
    """

    family = 'sam3'

    def __init__(self,
                 model_type: str = 'sam3',
                 *,
                 dataset: str = 'voc',
                 prompts: Optional[Sequence[str]] = None,
                 background_prompts: bool = True,
                 min_mask_region_area: int = 100,
                 stability_score_offset: float = 1.0,
                 **segmenter_kwargs: Any) -> None:
        self.prompts = vocabulary_prompts(prompts, dataset, background_prompts)
        self.segmenter = SAM3ConceptSegmenter(model_type, **segmenter_kwargs)
        self.model_type = model_type
        self.min_mask_region_area = int(min_mask_region_area)
        self.stability_score_offset = float(stability_score_offset)
        fields = dict(
            algorithm='sam3-concepts-v1',
            model_type=model_type,
            weights=self.segmenter.weights,
            prompts=self.prompts,
            confidence_threshold=self.segmenter.confidence_threshold,
            min_mask_region_area=self.min_mask_region_area,
            stability_score_offset=self.stability_score_offset)
        self._fingerprint = config_fingerprint(f'sam3-{model_type}', fields)

    @property
    def fingerprint(self) -> str:
        """Identity of the model, weights, vocabulary and thresholds."""
        return self._fingerprint

    @property
    def device(self) -> torch.device:
        """Device SAM 3 runs on."""
        return self.segmenter.device

    def generate_record(self, image: np.ndarray) -> SAMMaskRecord:
        """Instances of every vocabulary prompt on one image.

        Args:
            image (np.ndarray): HWC uint8 RGB image.

        Returns:
            SAMMaskRecord: all instances (level 2), by prompt order then
            decreasing score; ``predicted_iou`` = instance score.
        """
        state = self.segmenter.embed(image)
        rles: List[Dict[str, Any]] = []
        scores, stability, boxes = [], [], []
        for probs, score, _ in self.segmenter.segment_prompts(
                state, self.prompts):
            if probs.shape[0] == 0:
                continue
            logits = torch.logit(probs.clamp(1e-6, 1 - 1e-6))
            masks = logits > 0
            keep = masks.flatten(1).sum(1) >= max(self.min_mask_region_area, 1)
            if not keep.any():
                continue
            masks, logits, score = masks[keep], logits[keep], score[keep]
            stability.append(
                calculate_stability_score(logits, 0.0,
                                          self.stability_score_offset))
            scores.append(score)
            boxes.append(_mask_boxes_xyxy(masks))
            rles += mask_to_rle_pytorch(masks)
        n = len(rles)
        cat = (lambda xs, shape: torch.cat(xs).numpy()
               if xs else np.zeros(shape, np.float32))
        return SAMMaskRecord.from_rles(
            rles,
            levels=np.full(n, WHOLE, np.int8),
            predicted_iou=cat(scores, (0, )),
            stability_score=cat(stability, (0, )),
            image_size=image.shape[:2],
            fingerprint=self.fingerprint,
            bbox=xyxy_to_xywh(cat(boxes, (0, 4)).astype(np.float32)))


def vocabulary_prompts(prompts: Optional[Sequence[str]], dataset: str,
                       background_prompts: bool) -> List[str]:
    """The text prompts of :class:`SAM3QuasiSuperpixelGenerator`.

    Args:
        prompts (Sequence[str], optional): Explicit vocabulary.
        dataset (str): Class tables used when ``prompts`` is None: the
            foreground ``text_names`` (+ ``bg_classes`` when
            ``background_prompts``).
        background_prompts (bool): Add the background names.

    Returns:
        list[str]: The prompts.

    Raises:
        ValueError: An empty vocabulary.
    """
    from mmwsss.class_names import get_dataset_info
    if prompts is None:
        info = get_dataset_info(dataset)
        prompts = list(info['text_names'])
        if background_prompts:
            prompts += list(info['bg_classes'])
    prompts = [str(p) for p in prompts]
    if not prompts:
        raise ValueError('sam_generator.prompts is empty.')
    return prompts


def _mask_boxes_xyxy(masks: torch.Tensor) -> torch.Tensor:
    """XYXY boxes (inclusive pixel bounds) of non-empty (N, H, W) masks."""
    from segment_anything.utils.amg import batched_mask_to_box
    return batched_mask_to_box(masks).float()
