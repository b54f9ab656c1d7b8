"""Image taggers for the zero-shot pipeline (no image labels at all).

A tagger is any object with ``tagger(image) -> list[str]``: an (H, W, 3)
uint8 RGB image in, the tags of the things it sees out. The WSSS survey uses
the Recognize Anything Model (RAM, Swin-L) here; RAM is not on mmwsss's
stack, so :class:`CLIPZeroShotTagger` scores an open vocabulary with the
frozen CLIP instead. RAM (or any other tagger) plugs in as the extension
point: register a class with the same call in ``MODELS`` and set
``model.tagger=dict(type=...)`` in
``configs/sam_text/sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py``.
Tags become dataset classes through the synonym table of
:mod:`mmwsss.class_names` (:func:`~.box_seeds.tags_to_classes`).
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.class_names import (class_info, get_dataset_info,
                                 read_classes_txt)

__all__ = ['CLIPZeroShotTagger']


@MODELS.register_module()
class CLIPZeroShotTagger(BaseModule):
    """Multi-label zero-shot tags from CLIP over an open vocabulary.

    The image (whole, short side resized to ``input_size``) and one prompt
    per tag (mean embedding over ``templates``) are embedded; the scaled
    cosine similarities are soft-maxed over the vocabulary, and every tag
    whose probability reaches ``threshold`` is returned (at most
    ``top_k``, best first). Background words in the vocabulary absorb the
    probability of scenes and stuff.

    Args:
        clip (dict): :class:`~mmwsss.models.clip.FrozenCLIP` config; use
            ``pooling='cls'`` (CLIP's own image embedding).
        vocabulary (str | Sequence[str]): A dataset name of
            :func:`~mmwsss.class_names.get_dataset_info` (its
            ``tag_vocabulary``), a ``classes.txt`` of any class list (its
            :func:`~mmwsss.class_names.class_info` vocabulary: the class
            names plus background words) or the tags themselves.
        templates (Sequence[str]): Prompt templates with one ``{}``.
        threshold (float): Minimum softmax probability of a tag.
        top_k (int): At most this many tags.
        input_size (int): Short side of the image CLIP sees.
    """

    def __init__(self,
                 clip: dict,
                 vocabulary: Union[str, Sequence[str]] = 'voc',
                 templates: Sequence[str] = ('a photo of a {}.', ),
                 threshold: float = 0.1,
                 top_k: int = 5,
                 input_size: int = 224) -> None:
        super().__init__()
        if isinstance(vocabulary, str) and osp.isfile(vocabulary):
            vocabulary = class_info(
                read_classes_txt(vocabulary))['tag_vocabulary']
        elif isinstance(vocabulary, str):
            vocabulary = get_dataset_info(vocabulary)['tag_vocabulary']
        self.vocabulary = tuple(vocabulary)
        if not self.vocabulary or any('{}' not in t for t in templates):
            raise ValueError('model.tagger: needs a vocabulary and templates '
                             'with "{}"')
        self.templates = tuple(templates)
        self.threshold = float(threshold)
        self.top_k = int(top_k)
        self.input_size = int(input_size)
        self.clip = MODELS.build(clip)
        self._text: Optional[Tensor] = None

    @torch.no_grad()
    def text_embeddings(self) -> Tensor:
        """(V, E) L2-normalised tag embeddings (computed once)."""
        if self._text is None or self._text.device != self.clip.device:
            per_template = [
                F.normalize(
                    self.clip.encode_text_from_strings(
                        [t.format(tag) for tag in self.vocabulary]),
                    dim=-1) for t in self.templates
            ]
            self._text = F.normalize(torch.stack(per_template).mean(0), dim=-1)
        return self._text

    @torch.no_grad()
    def scores(self, image: np.ndarray) -> Tensor:
        """Softmax probabilities of the vocabulary for one image.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB image.

        Returns:
            Tensor: (V,) probabilities.
        """
        x = torch.as_tensor(np.ascontiguousarray(image)).permute(2, 0, 1)
        x = x.float().to(self.clip.device)[None]
        h, w = x.shape[-2:]
        f = self.input_size / min(h, w)
        x = F.interpolate(
            x, (max(1, round(h * f)), max(1, round(w * f))),
            mode='bicubic',
            align_corners=False,
            antialias=True)
        mean = x.new_tensor(self.clip.mean)[:, None, None]
        std = x.new_tensor(self.clip.std)[:, None, None]
        emb = self.clip.encode_image(
            (x - mean) / std, target_grad=False, attn_layers=0).embedding
        sims = F.normalize(emb.float(), dim=-1) @ self.text_embeddings().T
        return (self.clip.logit_scale * sims)[0].softmax(-1)

    def forward(self, image: np.ndarray) -> List[str]:
        """Tags of one image, best first.

        Args:
            image (np.ndarray): (H, W, 3) uint8 RGB image.

        Returns:
            list[str]: Tags whose probability reaches ``threshold`` (at most
            ``top_k``).
        """
        probs = self.scores(image)
        top = probs.topk(min(self.top_k, probs.numel()))
        return [
            self.vocabulary[int(i)] for p, i in zip(top.values, top.indices)
            if p >= self.threshold
        ]
