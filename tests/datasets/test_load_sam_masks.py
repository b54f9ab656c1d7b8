"""LoadSAMMasks: SAM masks follow the crop / resize / flip of the image."""
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from PIL import Image

from _helpers import build_tiny_prompt_model, voc_mini_dataset

from mmwsss.io import MaskCacheError


def _dataset(voc_mini_root, mask_dir, with_gt=True):
    pipeline = [dict(type='LoadImageFromFile')]
    if with_gt:
        pipeline.append(dict(type='LoadAnnotations'))
    pipeline += [
        dict(type='LoadSAMMasks', mask_dir=mask_dir),
        dict(
            type='RandomResize',
            scale=(200, 200),
            ratio_range=(0.5, 1.0),
            keep_ratio=True),
        dict(type='RandomCrop', crop_size=(64, 64)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackWSSSInputs'),
    ]
    return voc_mini_dataset(voc_mini_root, pipeline)


def test_masks_follow_the_augmentations(voc_mini_root, gt_mask_cache):
    """The cache holds one mask per GT region: after any augmentation, mask
    k must still equal the GT region of its class."""
    ds = _dataset(voc_mini_root, gt_mask_cache)
    np.random.seed(0)
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        gt = sample.gt_sem_seg.data[0].numpy()
        masks = sample.sam_masks.data.numpy()
        assert masks.dtype == bool and masks.shape[1:] == gt.shape
        assert len(sample.metainfo['sam_levels']) == masks.shape[0]
        full = np.array(Image.open(sample.metainfo['seg_map_path']))
        classes = [c for c in np.unique(full) if c != 255]
        for k, c in enumerate(classes):
            np.testing.assert_array_equal(masks[k], gt == c)


def test_joint_phase_uses_crop_masks(voc_mini_root, gt_mask_cache):
    """The paper's joint form: D_C from the crop's own SAM masks."""
    ds = _dataset(voc_mini_root, gt_mask_cache, with_gt=False)
    batch = pseudo_collate([ds[i] for i in range(3)])
    model = build_tiny_prompt_model(
        phase='joint',
        seeder=dict(seg=dict(type='ThresholdSeeder')),
        joint_seeder=dict(type='SAMSSeeder', alpha=0.6))
    model.train()
    data = model.data_preprocessor(batch, True)
    assert 'gt_sem_seg' in data['data_samples'][0]  # zeros: no GT loaded
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_mcl', 'loss_cal_fg', 'loss_cal_bg'}
    sum(losses.values()).backward()


def test_missing_cache_names_the_image(voc_mini_root, tmp_path):
    ds = _dataset(voc_mini_root, str(tmp_path))
    with pytest.raises(MaskCacheError, match='gen_sam_masks'):
        ds[0]


def test_joint_config(repo_root):
    cfg = Config.fromfile(f'{repo_root}/configs/fma/voc_prompts_joint.py')
    assert cfg.model.phase == 'joint'
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_dataloader.dataset.pipeline[1].type == 'LoadSAMMasks'
