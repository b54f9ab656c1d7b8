"""Grounding DINO (mmdet 3.3) as a text-prompted box detector.

:class:`GroundingDINOBoxes` wraps mmdet's ``GroundingDINO`` and returns, for
one image and a list of class names, the boxes that pass Grounding DINO's
box and text thresholds with the class name each one grounds
(:func:`~.box_seeds.assign_box_entities`). mmdet's own ``predict`` pools the
token scores per entity before any threshold, so the thresholds of the
original Grounding DINO / Grounded-SAM (box: max token probability; text:
tokens of the phrase) are applied here on the token probabilities of the
last decoder layer instead.

Runs on any device with mmcv-lite: the detector's deformable attention
modules are made ``PortableMultiScaleDeformableAttention``
(:mod:`mmwsss.compat.mmcv_ops`: mmcv's pure-PyTorch
``multi_scale_deformable_attn_pytorch`` when the compiled op is missing,
which mmcv's own module would call for CUDA tensors);
nothing else in the detector needs ``mmcv._ext``. With full mmcv the
compiled op is used.

Real weights (mmdet's Grounding DINO Swin-T, O365 + GoldG + Cap4M, the
Grounded-SAM default the survey uses)::

    detector = <model of mmdet::grounding_dino/
                grounding_dino_swin-t_pretrain_obj365_goldg_cap4m.py>
    checkpoint = 'groundingdino_swint_ogc_mmdet-822d7e9d.pth'
    # from https://download.openmmlab.com/mmdetection/v3.0/grounding_dino/
    # and detector.language_model.name = a local copy of bert-base-uncased
    # (a folder with config.json, vocab.txt and the weights; or the hub name
    # 'bert-base-uncased' where the Hugging Face hub can be reached).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.model import BaseModule
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_checkpoint
from torch import Tensor

from mmwsss.compat.mmcv_ops import use_portable_msda
from ..architectures import ArchitectureTable
from .box_seeds import LabelledBoxes, assign_box_entities

__all__ = [
    'GROUNDING_DINO_CHECKPOINT_URL', 'GroundingDINOBoxes', 'rescale_size',
    'LANGUAGE_MODEL_WRITERS'
]

#: name -> ``write(folder, words)``: writes a local language model (config,
#: weights, tokenizer) that ``detector.language_model.name`` then points at.
#: :mod:`mmwsss.testing` adds ``'tiny_bert'`` (a tiny random BERT).
LANGUAGE_MODEL_WRITERS = ArchitectureTable(
    'Grounding DINO', key='language model writer')

#: mmdet's converted Grounding DINO Swin-T (O365, GoldG, Cap4M) weights.
GROUNDING_DINO_CHECKPOINT_URL = (
    'https://download.openmmlab.com/mmdetection/v3.0/grounding_dino/'
    'groundingdino_swint_ogc_mmdet-822d7e9d.pth')


def rescale_size(hw: Tuple[int, int], scale: Sequence[int]) -> Tuple[int, int]:
    """mmcv's keep-ratio rescale: fit (h, w) into ``scale`` = (short, long)
    edge limits, as mmdet's ``FixScaleResize(scale=(800, 1333))``.

    Args:
        hw (tuple[int, int]): Image (h, w).
        scale (Sequence[int]): Two edge limits, in any order.

    Returns:
        tuple[int, int]: The new (h, w).
    """
    h, w = int(hw[0]), int(hw[1])
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


class GroundingDINOBoxes(BaseModule):
    """Text-prompted boxes from mmdet's Grounding DINO.

    Args:
        detector (dict): mmdet model config of ``GroundingDINO`` (built in
            mmdet's scope).
        checkpoint (str, optional): Local path (or URL where reachable) of
            the detector's mmdet weights, e.g.
            ``groundingdino_swint_ogc_mmdet-822d7e9d.pth``.
        random_init (bool): Without a checkpoint, initialise randomly (tests
            and benchmarks only); otherwise a missing checkpoint is an
            error.
        tiny_bert_words (Sequence[str], optional): Tests / CPU demos: write
            a tiny random BERT with this vocabulary into the folder
            ``detector.language_model.name`` first, unless it exists
            (the ``'tiny_bert'`` writer of :data:`LANGUAGE_MODEL_WRITERS`,
            :func:`mmwsss.testing.write_tiny_bert`).
        scale (Sequence[int]): Test resize (short, long edge limits), mmdet's
            ``FixScaleResize(scale=(800, 1333), keep_ratio=True)``.
        owner (str): Config key for error messages.
    """

    def __init__(self,
                 detector: dict,
                 checkpoint: Optional[str] = None,
                 random_init: bool = False,
                 scale: Sequence[int] = (800, 1333),
                 tiny_bert_words: Optional[Sequence[str]] = None,
                 owner: str = 'model.detector') -> None:
        super().__init__()
        if checkpoint is None and not random_init:
            raise ValueError(
                f'{owner}_checkpoint is required: download '
                f'{GROUNDING_DINO_CHECKPOINT_URL} and give its local path '
                '(random weights only with detector_random_init=True, for '
                'tests)')
        from mmdet.registry import MODELS as DET_MODELS
        cfg = ConfigDict(detector)
        if cfg.get('type') != 'GroundingDINO':
            raise ValueError(f'{owner}.type must be GroundingDINO, got '
                             f'{cfg.get("type")!r}')
        if tiny_bert_words is not None:
            write = LANGUAGE_MODEL_WRITERS.get('tiny_bert')
            write(cfg.language_model.name, tiny_bert_words)
        with DefaultScope.overwrite_default_scope('mmdet'):
            self.detector = DET_MODELS.build(cfg)
        use_portable_msda(self.detector)
        if checkpoint is not None:
            load_checkpoint(self.detector, checkpoint, map_location='cpu')
        else:
            self.detector.init_weights()
        self.detector.requires_grad_(False).eval()
        self.scale = tuple(int(s) for s in scale)

    def train(self, mode: bool = True) -> 'GroundingDINOBoxes':
        """Stays in eval mode (frozen)."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.detector.parameters()).device

    def _prompt(self, names: Sequence[str]) -> Tuple[str, Tensor]:
        """Caption ``'a . b . '`` and the (E, max_text_len) entity tokens."""
        _, caption, positive_map, _ = \
            self.detector.get_tokens_positive_and_prompts(list(names), True)
        return caption, positive_map > 0

    @torch.no_grad()
    def token_probs(self, image: Tensor,
                    caption: str) -> Tuple[Tensor, Tensor]:
        """Token probabilities and boxes of all queries for one image.

        Args:
            image (Tensor): (3, H, W) BGR image, values 0..255.
            caption (str): Text prompt.

        Returns:
            tuple[Tensor, Tensor]: (Q, T) sigmoid token probabilities of the
            last decoder layer (padding 0) and (Q, 4) xyxy boxes in the
            pixels of ``image``.
        """
        from mmdet.structures import DetDataSample
        from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
        det = self.detector
        h, w = image.shape[-2:]
        nh, nw = rescale_size((h, w), self.scale)
        x = image.float().to(self.device)
        if (nh, nw) != (h, w):
            x = F.interpolate(
                x[None], (nh, nw),
                mode='bilinear',
                align_corners=False,
                antialias=True)[0]
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(nh, nw),
                ori_shape=(h, w),
                scale_factor=(nw / w, nh / h)))
        data = det.data_preprocessor(
            dict(inputs=[x], data_samples=[sample]), False)
        text = det.language_model([caption])
        text['embedded'] = det.text_feat_map(text['embedded'])
        head_in = det.forward_transformer(
            det.extract_feat(data['inputs']), text, data['data_samples'])
        cls, coords = det.bbox_head(
            hidden_states=head_in['hidden_states'],
            references=head_in['references'],
            memory_text=head_in['memory_text'],
            text_token_mask=head_in['text_token_mask'])
        boxes = bbox_cxcywh_to_xyxy(coords[-1][0].float())
        boxes = boxes * boxes.new_tensor([w, h, w, h])
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        return cls[-1][0].float().sigmoid(), boxes

    def detect(
            self,
            image: Tensor,
            names: Sequence[str],
            box_threshold: float = 0.3,
            text_threshold: float = 0.25,
            max_boxes: Optional[int] = None) -> Tuple[Tensor, LabelledBoxes]:
        """Boxes grounding ``names`` in ``image``.

        Args:
            image (Tensor): (3, H, W) BGR image, values 0..255.
            names (Sequence[str]): Class names of the prompt (entities).
            box_threshold (float): Box threshold.
            text_threshold (float): Text threshold.
            max_boxes (int, optional): Keep at most this many (highest
                scores).

        Returns:
            tuple[Tensor, LabelledBoxes]: (N, 4) xyxy boxes in image pixels
            and the kept queries (``entity`` indexes ``names``), highest
            score first.
        """
        if not names:
            empty = torch.zeros(0, dtype=torch.long)
            return torch.zeros(0, 4), LabelledBoxes(empty, empty,
                                                    torch.zeros(0))
        caption, ents = self._prompt(names)
        probs, boxes = self.token_probs(image, caption)
        kept = assign_box_entities(probs, ents, box_threshold, text_threshold)
        if max_boxes is not None:
            kept = LabelledBoxes(*(t[:max_boxes] for t in kept))
        return boxes[kept.index], kept
