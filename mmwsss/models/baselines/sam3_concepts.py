"""SAM 3 concept seeds: training-free seeds from the image labels alone.

Per image, each image-level class's text name (``text_names`` of
:mod:`mmwsss.class_names`, e.g. ``'dining table'``, ``'potted plant'``) is
a SAM 3 text prompt; the instances SAM 3 returns (score above
``confidence_threshold``, masks binarised at probability 0.5) are painted
into one semantic seed map: each pixel takes the class of the highest
scoring instance covering it, uncovered pixels are background
(:func:`~.box_seeds.paint_masks_by_score`, the rule of the text-prompted SAM
baseline). The seeds are ``pred_sem_seg`` of ``tools/test.py CONFIG none``
and go through the same ``SeedMetric`` / seed writer as every pipeline, so
``tools/compare_seeds.py`` compares them with FMA-WSSS's.

The combination with FMA-WSSS (SAM 3's masks as quasi-superpixels for SAMS
over the CAMs) is :class:`~mmwsss.models.sams.SAM3QuasiSuperpixelGenerator`
(``configs/sam3/``).
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from mmwsss.class_names import get_dataset_info
from ..sams.sam3_concepts import SAM3ConceptSegmenter
from .box_seeds import paint_masks_by_score
from .sam_text import (TrainingFreeSeeder, image_label_classes, resize_seed,
                       to_rgb_uint8)

__all__ = ['SAM3ConceptSeeder']


@MODELS.register_module()
class SAM3ConceptSeeder(TrainingFreeSeeder):
    """Seeds from SAM 3's text-prompted instances of the labelled classes.

    Training-free: SAM 3 is frozen and loaded from its own weights; nothing
    is saved in a checkpoint, so ``tools/test.py CONFIG none`` runs it.

    Args:
        sam3 (dict): :class:`~mmwsss.models.sams.SAM3ConceptSegmenter`
            arguments (``model_type``, ``checkpoint``, ``random_init``,
            ``seed``, ``bpe_path``, ``confidence_threshold``); built on the
            CPU or ``device``.
        dataset (str): Class tables of :func:`get_dataset_info`.
        device (str, optional): Where SAM 3 runs; None -> cuda if
            available, else cpu.
        data_preprocessor (dict, optional): Defaults to mmseg's
            ``SegDataPreProcessor`` without normalisation (raw BGR 0..255;
            SAM 3 normalises itself).
        init_cfg (dict, optional): Unused.
    """

    def __init__(self,
                 sam3: dict,
                 dataset: str = 'voc',
                 device: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor, init_cfg)
        info = get_dataset_info(dataset)
        self.classes = info['classes']
        self.text_names = info['text_names']
        # not a submodule: built on its device (sam3's precomputed caches
        # do not follow .to()), never in a checkpoint
        self.segmenter = SAM3ConceptSegmenter(**dict(sam3, device=device))

    def seed_image(self, rgb: np.ndarray, classes: Sequence[int]) -> Tensor:
        """Seed of one image for the given classes.

        Args:
            rgb (np.ndarray): (H, W, 3) uint8 RGB image.
            classes (Sequence[int]): 1-based class ids to prompt for.

        Returns:
            Tensor: (H, W) int64 seed (0 background, class ids).
        """
        h, w = rgb.shape[:2]
        classes = list(classes)
        if not classes:
            return torch.zeros((h, w), dtype=torch.long)
        state = self.segmenter.embed(rgb)
        masks: List[Tensor] = []
        scores: List[Tensor] = []
        labels: List[Tensor] = []
        found = self.segmenter.segment_prompts(
            state, [self.text_names[c - 1] for c in classes])  # batched
        for c, inst in zip(classes, found):
            masks.append(inst.probs > 0.5)
            scores.append(inst.scores)
            labels.append(torch.full_like(inst.scores, c, dtype=torch.long))
        return paint_masks_by_score(
            torch.cat(masks), torch.cat(scores), torch.cat(labels))

    def predict(self, inputs: Tensor,
                data_samples: Sequence[SegDataSample]) -> List[SegDataSample]:
        """Seeds of a batch, as ``pred_sem_seg`` at the original size.

        Args:
            inputs (Tensor): (B, 3, H, W) BGR images, values 0..255.
            data_samples (Sequence[SegDataSample]): With ``img_shape``,
                ``ori_shape`` and ``img_labels``.

        Returns:
            list[SegDataSample]: The samples with ``pred_sem_seg`` (1, H, W).
        """
        for i, ds in enumerate(data_samples):
            h, w = ds.metainfo.get('img_shape', inputs.shape[-2:])[:2]
            rgb = to_rgb_uint8(inputs[i, :, :h, :w])
            seed = self.seed_image(rgb, image_label_classes(ds, self.num_fg))
            seed = resize_seed(seed, ds.metainfo.get('ori_shape', (h, w)))
            ds.set_data(dict(pred_sem_seg=PixelData(data=seed[None])))
        return list(data_samples)

