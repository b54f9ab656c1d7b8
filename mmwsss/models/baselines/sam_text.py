"""SAM with text input (the WSSS survey's Grounded-SAM pipelines).

Per image: the text prompt is the image's class names (plain words, from
:mod:`mmwsss.class_names`, joined by ``' . '`` as Grounding DINO expects);
Grounding DINO returns boxes with the class each one grounds (box threshold
0.3, text threshold 0.25); SAM segments every box (one image embedding, all
boxes in one batched prompt); the seed map takes, per pixel, the class of
the highest scoring box mask covering it; uncovered pixels are background.

* **Text input**
  (``configs/sam_text/sam-text_gdino-swin-t_sam-vit-h_voc12aug.py``): the
  classes are the image-level labels; the seeds of the training images then
  train a segmentation network (survey: DeepLabV2, ``configs/deeplabv2``).
* **Zero-shot**
  (``configs/sam_text/sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py``):
  no labels; a tagger (CLIP zero-shot over an open vocabulary here, RAM in
  the survey) names the classes, run directly on val/test images and scored
  there.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from mmwsss.class_names import resolve_class_info
from ..sams.sam_builder import build_sam_model
from .box_seeds import paint_masks_by_score, tag_class_table, tags_to_classes
from mmwsss.functional.cam_ops import multi_hot
from .frozen_parts import exclude_from_checkpoint
from .grounding_dino import GroundingDINOBoxes

__all__ = [
    'TrainingFreeSeeder', 'SAMTextSeeder', 'image_label_classes',
    'resize_seed', 'to_rgb_uint8'
]


def image_label_classes(data_sample: SegDataSample,
                        num_classes: int) -> List[int]:
    """The 1-based foreground labels of an image, validated.

    Args:
        data_sample (SegDataSample): With ``img_labels`` in its metainfo.
        num_classes (int): Number of foreground classes.

    Returns:
        list[int]: Sorted class ids in ``1..num_classes``.

    Raises:
        KeyError: No ``img_labels`` (naming the image).
        ValueError: A label outside the classes (naming the image).
    """
    name = data_sample.metainfo.get('img_path', '<unknown image>')
    if 'img_labels' not in data_sample.metainfo:
        raise KeyError(f'{name}: data sample has no img_labels (use an '
                       'image-label dataset and PackWSSSInputs)')
    hot = multi_hot([data_sample.img_labels], num_classes, [name])[0]
    return (torch.nonzero(hot).flatten() + 1).tolist()


def to_rgb_uint8(image: Tensor) -> np.ndarray:
    """(3, H, W) BGR tensor (0..255) -> (H, W, 3) uint8 RGB array."""
    return image.flip(0).permute(1, 2, 0).round().clamp(0, 255).to(
        torch.uint8).cpu().numpy()


def resize_seed(seed: Tensor, size: Tuple[int, int]) -> Tensor:
    """Nearest resize of an (h, w) seed to ``size`` (no-op if equal)."""
    if tuple(seed.shape[-2:]) == tuple(size):
        return seed
    return F.interpolate(
        seed[None, None].float(), size=tuple(size), mode='nearest')[0,
                                                                    0].long()


class TrainingFreeSeeder(BaseModel):
    """Base of the training-free seed pipelines (run with ``tools/test.py
    CONFIG none``): only ``mode='predict'`` is meaningful, and the model
    stays in eval mode.

    Subclasses set ``self.classes`` (background first).

    Args:
        data_preprocessor (dict, optional): Defaults to mmseg's
            ``SegDataPreProcessor`` without normalisation (raw BGR 0..255;
            the frozen networks normalise themselves).
        init_cfg (dict, optional): Unused (weights come from the parts).
    """

    def __init__(self,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SegDataPreProcessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def train(self, mode: bool = True) -> 'TrainingFreeSeeder':
        """Stays in eval mode: nothing is trained."""
        return super().train(False)

    @property
    def num_fg(self) -> int:
        """Number of foreground classes."""
        return len(self.classes) - 1

    def loss(self, inputs: Tensor, data_samples: Any) -> dict:
        raise NotImplementedError(
            f'{type(self).__name__} is training-free: run it with '
            'tools/test.py CONFIG none')

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[Sequence[SegDataSample]] = None,
                mode: str = 'predict') -> Any:
        """mmengine entry point; only ``mode='predict'`` is meaningful."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        raise ValueError(
            f'{type(self).__name__}: unsupported mode {mode!r}')


@MODELS.register_module()
class SAMTextSeeder(TrainingFreeSeeder):
    """Seeds from text-prompted boxes (Grounding DINO) segmented by SAM.

    Training-free: every network is frozen and loaded from its own weights,
    none of them is saved in (or needed from) a checkpoint, so
    ``tools/test.py CONFIG none`` runs it.

    Args:
        detector (dict): mmdet ``GroundingDINO`` model config.
        sam (dict): :func:`~mmwsss.models.sams.build_sam_model` arguments
            (``model_type``, ``checkpoint``, ``random_init``, ``seed``).
        detector_checkpoint (str, optional): mmdet Grounding DINO weights.
        detector_random_init (bool): Random detector without checkpoint
            (tests only).
        detector_tiny_bert (bool): Tests / CPU demos: write a tiny random
            BERT (vocabulary: the dataset's text names and tag vocabulary)
            into ``detector.language_model.name`` if that folder does not
            exist.
        detector_scale (Sequence[int]): Detector test resize (short, long
            edge limits). Defaults to mmdet's (800, 1333).
        dataset (str, optional): Class tables of :func:`get_dataset_info`.
        classes (str | Sequence[str], optional): Any class list (or a
            ``classes.txt``) instead of ``dataset``'s; see
            :func:`~mmwsss.class_names.resolve_class_info`.
        text_names (Sequence[str] | dict, optional): Words the detector
            reads per class (list in class order or stored name -> text);
            default the dataset's text names or the class names.
        box_threshold (float): Grounding DINO box threshold (survey 0.3).
        text_threshold (float): Grounding DINO text threshold (survey 0.25).
        max_boxes (int, optional): At most this many boxes per image.
        tagger (dict, optional): A tagger (``image -> list[str]``) in
            MODELS, e.g. ``CLIPZeroShotTagger``; when set, the classes come
            from its tags (mapped by the dataset's synonym table) and image
            labels are not used (zero-shot).
        data_preprocessor (dict, optional): Defaults to mmseg's
            ``SegDataPreProcessor`` without normalisation (raw BGR 0..255;
            both networks normalise themselves).
        init_cfg (dict, optional): Unused (weights come from the parts).
    """

    def __init__(self,
                 detector: dict,
                 sam: dict,
                 detector_checkpoint: Optional[str] = None,
                 detector_random_init: bool = False,
                 detector_tiny_bert: bool = False,
                 detector_scale: Sequence[int] = (800, 1333),
                 dataset: Optional[str] = 'voc',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 text_names: Optional[Union[Sequence[str], dict]] = None,
                 box_threshold: float = 0.3,
                 text_threshold: float = 0.25,
                 max_boxes: Optional[int] = 100,
                 tagger: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor, init_cfg)
        info = resolve_class_info(dataset, classes, text_names)
        self.classes = info['classes']
        self.text_names = info['text_names']
        self.tag_table: Dict[str,
                             int] = tag_class_table(info['classes'],
                                                    info['text_names'],
                                                    info['tag_synonyms'])
        self.box_threshold = float(box_threshold)
        self.text_threshold = float(text_threshold)
        self.max_boxes = max_boxes
        self.grounding = GroundingDINOBoxes(
            detector,
            checkpoint=detector_checkpoint,
            random_init=detector_random_init,
            scale=detector_scale,
            tiny_bert_words=info['text_names'] +
            info['tag_vocabulary'] if detector_tiny_bert else None)
        self.sam = build_sam_model(**dict(sam, device='cpu'))
        self.sam.requires_grad_(False)
        if tagger is not None and tagger.get('type') == 'CLIPZeroShotTagger':
            # its open vocabulary follows the class list unless set
            tagger = dict(tagger)
            tagger.setdefault('vocabulary', info['tag_vocabulary'])
        self.tagger = MODELS.build(tagger) if tagger is not None else None
        if self.tagger is not None:
            self.tagger.requires_grad_(False)
        exclude_from_checkpoint(self, ('grounding', 'sam', 'tagger'))

    def image_classes(self, data_sample: SegDataSample,
                      rgb: np.ndarray) -> List[int]:
        """The classes to prompt for: image labels, or the tagger's tags
        mapped to classes (stored as ``pred_tags`` in the metainfo)."""
        if self.tagger is None:
            return image_label_classes(data_sample, self.num_fg)
        tags = list(self.tagger(rgb))
        data_sample.set_metainfo(dict(pred_tags=tags))
        return tags_to_classes(tags, self.tag_table)

    @torch.no_grad()
    def segment_boxes(self, rgb: np.ndarray, boxes: Tensor) -> Tensor:
        """SAM masks of boxes: one image embedding, one batched prompt.

        Args:
            rgb (np.ndarray): (H, W, 3) uint8 RGB image.
            boxes (Tensor): (N, 4) xyxy boxes in image pixels.

        Returns:
            Tensor: (N, H, W) bool masks.
        """
        from segment_anything import SamPredictor
        h, w = rgb.shape[:2]
        if boxes.shape[0] == 0:
            return torch.zeros((0, h, w), dtype=torch.bool)
        predictor = SamPredictor(self.sam)
        predictor.set_image(rgb)
        prompts = predictor.transform.apply_boxes_torch(
            boxes.float().to(predictor.device), (h, w))
        masks, _, _ = predictor.predict_torch(
            None, None, boxes=prompts, multimask_output=False)
        return masks[:, 0]

    @torch.no_grad()
    def seed_image(self,
                   image: Tensor,
                   classes: Sequence[int],
                   rgb: Optional[np.ndarray] = None) -> Tensor:
        """Seed of one image for the given classes.

        Args:
            image (Tensor): (3, H, W) BGR image, values 0..255.
            classes (Sequence[int]): 1-based class ids to prompt for.
            rgb (np.ndarray, optional): The same image as (H, W, 3) uint8
                RGB, when the caller has it.

        Returns:
            Tensor: (H, W) int64 seed (0 background, class ids).
        """
        classes = list(classes)
        names = [self.text_names[c - 1] for c in classes]
        boxes, kept = self.grounding.detect(image, names, self.box_threshold,
                                            self.text_threshold,
                                            self.max_boxes)
        if rgb is None:
            rgb = to_rgb_uint8(image)
        masks = self.segment_boxes(rgb, boxes)
        labels = torch.as_tensor(classes, dtype=torch.long)[kept.entity.cpu()]
        return paint_masks_by_score(masks.cpu(), kept.score.cpu(), labels)

    def predict(self, inputs: Tensor,
                data_samples: Sequence[SegDataSample]) -> List[SegDataSample]:
        """Seeds of a batch, as ``pred_sem_seg`` at the original size.

        Args:
            inputs (Tensor): (B, 3, H, W) BGR images, values 0..255.
            data_samples (Sequence[SegDataSample]): With ``img_shape``,
                ``ori_shape`` and ``img_labels`` (unless a tagger is set).

        Returns:
            list[SegDataSample]: The samples with ``pred_sem_seg`` (1, H, W).
        """
        for i, ds in enumerate(data_samples):
            h, w = ds.metainfo.get('img_shape', inputs.shape[-2:])[:2]
            image = inputs[i, :, :h, :w]
            rgb = to_rgb_uint8(image)
            seed = self.seed_image(image, self.image_classes(ds, rgb), rgb)
            seed = resize_seed(seed, ds.metainfo.get('ori_shape', (h, w)))
            ds.set_data(dict(pred_sem_seg=PixelData(data=seed[None])))
        return list(data_samples)

