"""What several tests share: the tiny random FMAPromptModel, the bundled
VOC images (``data/voc_mini``) as a dataset or a batch of crops, the
settings of the "changes off == stock AMG" tests and a hand-scored toy
seed.

Imported as ``_helpers``: ``tests/conftest.py`` appends this folder to
``sys.path`` (a ``tests`` package in site-packages hides ``tests.*``).
"""
import copy
import os.path as osp
from typing import List

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

#: The tiny random CLIP of the model tests (no weights to download).
TINY_CLIP = dict(
    type='FrozenCLIP', model_name='mmwsss-tiny-ViT-16', pretrained=None)
#: CLIP's data preprocessor: ``clip_data_preprocessor`` of
#: configs/_base_/models/clip_vit_b16.py (CLIP's mean / std on 0..255 input,
#: padded to the 16-pixel patch grid).
CLIP_PREPROCESSOR = Config.fromfile(
    osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', '_base_',
        'models', 'clip_vit_b16.py')).clip_data_preprocessor.to_dict()
VOC_MINI_TRAIN = 'ImageSets/Segmentation/train.txt'


def tiny_prompt_model_cfg(**kwargs) -> dict:
    """Config of an FMAPromptModel on the tiny CLIP with threshold seeders
    (cls 0.4, seg 0.5).

    Args:
        **kwargs: Entries that replace the defaults (whole values).

    Returns:
        dict: A fresh config.
    """
    cfg = dict(
        type='FMAPromptModel',
        clip=copy.deepcopy(TINY_CLIP),
        data_preprocessor=copy.deepcopy(CLIP_PREPROCESSOR),
        seeder=dict(
            cls=dict(type='ThresholdSeeder', bg_threshold=0.4),
            seg=dict(type='ThresholdSeeder', bg_threshold=0.5)))
    cfg.update(kwargs)
    return cfg


def build_tiny_prompt_model(**kwargs) -> torch.nn.Module:
    """The model of :func:`tiny_prompt_model_cfg`, built after
    ``torch.manual_seed(0)`` (the same random weights every time).

    Args:
        **kwargs: Config entries that replace the defaults.

    Returns:
        torch.nn.Module: The FMAPromptModel.
    """
    torch.manual_seed(0)
    return MODELS.build(tiny_prompt_model_cfg(**kwargs))


def voc_mini_dataset(voc_mini_root: str,
                     pipeline: List[dict],
                     ann_file: str = VOC_MINI_TRAIN):
    """The bundled VOC images as a VOCImageLabelDataset (labels from the GT
    masks, no label cache), in mmseg's default scope.

    Args:
        voc_mini_root (str): ``data/voc_mini``.
        pipeline (list[dict]): The data pipeline.
        ann_file (str): The split. Defaults to the 10 train
            images.

    Returns:
        VOCImageLabelDataset: The dataset.
    """
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='VOCImageLabelDataset',
            data_root=voc_mini_root,
            ann_file=ann_file,
            seg_map_fallback=[],
            label_cache=None,
            pipeline=pipeline))


def voc_mini_crops(voc_mini_root: str, num: int, size: int = 64) -> dict:
    """The first ``num`` bundled training images resized to ``size`` x
    ``size`` with their GT (D_C of the seg phase), collated as one batch.

    Args:
        voc_mini_root (str): ``data/voc_mini``.
        num (int): Number of images.
        size (int): Side of the resized images. Defaults to 64.

    Returns:
        dict: ``pseudo_collate`` of the packed samples.
    """
    ds = voc_mini_dataset(voc_mini_root, [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
        dict(type='PackWSSSInputs'),
    ])
    return pseudo_collate([ds[i] for i in range(num)])


#: Automatic-mask-generator settings of the "changes off == the stock AMG"
#: tests on the tiny SAMs (64-pixel image; any IoU, low stability cut, one
#: crop layer).
STOCK_AMG_PARAMS = dict(
    points_per_side=8,
    points_per_batch=50,
    pred_iou_thresh=0.0,
    stability_score_thresh=0.3,
    stability_score_offset=0.002,
    box_nms_thresh=0.7,
    crop_n_layers=1,
    crop_nms_thresh=0.7,
    crop_n_points_downscale_factor=2,
    min_mask_region_area=20)


#: A 3 x 4 GT and seed of 4 classes, scored by hand in
#: tests/evaluation/test_seed_scores.py: class 3 is absent from both maps;
#: 255 in the GT = ignore, 255 in the seed = "no class".
TOY_GT = np.array([[0, 0, 1, 1],
                   [0, 255, 1, 1],
                   [2, 2, 1, 255]], np.uint8)
TOY_SEED = np.array([[0, 1, 1, 1],
                     [0, 0, 1, 0],
                     [2, 255, 2, 2]], np.uint8)
