"""The authors' training augmentation (RandColorJitter, RandRangeScale) and
the CAM input resize: values against PIL / the formulas, the scale rule,
the jitter ranges, and the configs' pipelines on the bundled images."""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS
from PIL import Image

from _helpers import tiny_prompt_model_cfg, voc_mini_dataset

from mmwsss.datasets.transforms.clip_augment import (
    RandColorJitter, RandRangeScale, jitter_brightness, jitter_contrast,
    jitter_hue, jitter_saturation, rand_range_scale_factor, scaled_size)
from mmwsss.functional.cam_input import (patch_aligned_size, pil_resize,
                                     resize_nearest_like_pil,
                                     resize_normalized_like_pil)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMG = '2007_000032'  # 500 x 281, aeroplane + person


def _rgb(voc_mini_root, name=IMG):
    return np.array(
        Image.open(osp.join(voc_mini_root, 'JPEGImages', name + '.jpg')))


def _gt(voc_mini_root, name=IMG):
    return np.array(
        Image.open(
            osp.join(voc_mini_root, 'SegmentationClass', name + '.png')))


# ----------------------------------------------------------------------------
# CAM input: round up to the patch grid, PIL bicubic on uint8
# ----------------------------------------------------------------------------


def test_patch_aligned_size_rounds_up():
    assert patch_aligned_size((281, 500), 16) == (288, 512)
    assert patch_aligned_size((288, 512), 16) == (288, 512)
    assert patch_aligned_size((1, 17), 16) == (16, 32)
    assert patch_aligned_size((366, 500), 14) == (378, 504)  # ViT-L/14


def test_cam_resize_equals_pil_bicubic_on_real_image(voc_mini_root):
    """resize_normalized_like_pil on the normalised image equals
    Normalize(ToTensor(PIL bicubic resize of the uint8 RGB image)), the
    authors' CAM input, to float32 rounding."""
    rgb = _rgb(voc_mini_root)
    assert rgb.shape == (281, 500, 3)
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1) * 255
    std = torch.tensor(CLIP_STD).view(3, 1, 1) * 255
    x = (torch.from_numpy(rgb).permute(2, 0, 1).float() - mean) / std
    got = resize_normalized_like_pil(x[None], (288, 512), mean, std)[0]
    pil = np.asarray(Image.fromarray(rgb).resize((512, 288), Image.BICUBIC))
    want = (torch.from_numpy(pil).permute(2, 0, 1).float() / 255 -
            torch.tensor(CLIP_MEAN).view(
                3, 1, 1)) / torch.tensor(CLIP_STD).view(3, 1, 1)
    assert got.shape == (3, 288, 512)
    torch.testing.assert_close(got, want, atol=2e-6, rtol=0)
    # not what a bilinear resize of the tensor gives
    bil = torch.nn.functional.interpolate(
        x[None], size=(288, 512), mode='bilinear', align_corners=False)[0]
    assert (bil - want).abs().max() > 0.1


def test_model_cam_input_is_pil_bicubic(voc_mini_root):
    """FMAPromptModel's CAM input of the real image through the real test
    pipeline and data preprocessor (one resize: 500x281 -> 512x288)."""
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import MODELS
    ds = voc_mini_dataset(
        voc_mini_root,
        [dict(type='LoadImageFromFile'),
         dict(type='PackWSSSInputs')])
    idx = [osp.basename(d['img_path'])[:-4]
           for d in ds.load_data_list()].index(IMG)
    cfg = Config.fromfile(
        osp.join(
            osp.dirname(__file__), '..', '..', 'configs', '_base_', 'models',
            'clip_vit_b16.py'))
    model = MODELS.build(
        tiny_prompt_model_cfg(
            data_preprocessor=cfg.clip_data_preprocessor,
            seeder=dict(seg=dict(type='ThresholdSeeder'))))
    data = model.data_preprocessor(pseudo_collate([ds[idx]]), False)
    img = model.cam_extractor.prepare_image(data['inputs'], 0,
                                            data['data_samples'][0])
    pil = pil_resize(_rgb(voc_mini_root), (288, 512), 'bicubic')
    want = (torch.from_numpy(pil).permute(2, 0, 1).float() / 255 -
            torch.tensor(CLIP_MEAN).view(
                3, 1, 1)) / torch.tensor(CLIP_STD).view(3, 1, 1)
    torch.testing.assert_close(img[0], want, atol=2e-6, rtol=0)
    # 'pad' keeps the image as it is
    model.cam_extractor.cam_input_size = 'pad'
    img = model.cam_extractor.prepare_image(data['inputs'], 0,
                                            data['data_samples'][0])
    assert img.shape[-2:] == (281, 500)


# ----------------------------------------------------------------------------
# RandRangeScale
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'hw, target, want_scale, want_size',
    [
        # long side to the target when the short side stays >= 224
        ((375, 500), 400, 0.8, (300, 400)),
        ((500, 375), 480, 0.96, (480, 360)),
        # else the short side to 224: 224 / 281 > 288 / 500
        ((281, 500), 288, 224 / 281, (224, 399)),
        # a thin image: the short side rules whatever the target
        ((100, 500), 480, 2.24, (224, 1120)),
        # square: long = short
        ((513, 513), 300, 300 / 513, (300, 300)),
    ])
def test_rand_range_scale_rule(hw, target, want_scale, want_size):
    s = rand_range_scale_factor(*hw, target, 224)
    assert s == pytest.approx(want_scale, rel=1e-12)
    assert scaled_size(*hw, s) == want_size
    assert min(scaled_size(*hw, s)) >= 224


def test_rand_range_scale_targets_are_uniform_integers():
    np.random.seed(0)
    t = RandRangeScale(288, 480, 224)
    draws = np.array([t.draw_target() for _ in range(20000)])
    assert draws.min() == 288 and draws.max() == 480
    counts = np.bincount(draws - 288, minlength=193)
    assert (counts > 0).all()  # every integer of [288, 480] occurs
    assert abs(draws.mean() - 384) < 2


def test_rand_range_scale_pil_bicubic_image_nearest_labels(voc_mini_root):
    """Image: PIL bicubic; labels and extra label channels (SAM masks):
    PIL nearest, channel by channel."""
    rgb = _rgb(voc_mini_root)
    gt = _gt(voc_mini_root)
    stack = np.stack(
        [gt, (gt == 1).astype(np.uint8), (gt == 15).astype(np.uint8)], axis=2)
    np.random.seed(3)
    target = RandRangeScale().draw_target()
    np.random.seed(3)
    out = RandRangeScale().transform(
        dict(
            img=rgb.copy(), gt_seg_map=stack.copy(),
            seg_fields=['gt_seg_map']))
    h, w = scaled_size(281, 500,
                       rand_range_scale_factor(281, 500, target, 224))
    assert out['img'].shape == (h, w, 3) and out['img_shape'] == (h, w)
    want_img = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC))
    np.testing.assert_array_equal(out['img'], want_img)
    for k in range(3):
        want = np.asarray(
            Image.fromarray(stack[..., k]).resize((w, h), Image.NEAREST))
        np.testing.assert_array_equal(out['gt_seg_map'][..., k], want)
    # odd sizes, up and down
    for size in [(37, 61), (600, 7), (281, 500)]:
        want = np.asarray(
            Image.fromarray(gt).resize(size[::-1], Image.NEAREST))
        np.testing.assert_array_equal(resize_nearest_like_pil(gt, size), want)


# ----------------------------------------------------------------------------
# RandColorJitter
# ----------------------------------------------------------------------------


def test_color_jitter_ops_values():
    x = np.array([[[0, 10, 100], [200, 250, 255]]], np.uint8)
    # brightness: |x + d|, rounded, saturated (10 - 25 -> 15, not 0)
    np.testing.assert_array_equal(
        jitter_brightness(x, -25.0), [[[25, 15, 75], [175, 225, 230]]])
    np.testing.assert_array_equal(
        jitter_brightness(x, 10.4), [[[10, 20, 110], [210, 255, 255]]])
    # contrast: a plain multiplication, rounded and saturated
    np.testing.assert_array_equal(
        jitter_contrast(x, 1.3), [[[0, 13, 130], [255, 255, 255]]])
    # saturation: grey stays grey, a pure colour stays pure
    grey = np.full((1, 1, 3), 90, np.uint8)
    np.testing.assert_array_equal(jitter_saturation(grey, 1.5), grey)
    # hue on OpenCV's 0..255 scale is |H + d| saturated, no wrap-around:
    # pure red (H = 0) moves towards yellow for d = +25 AND d = -25
    red = np.array([[[0, 0, 255]]], np.uint8)  # BGR
    shifted = jitter_hue(red, 25.0)
    np.testing.assert_array_equal(jitter_hue(red, -25.0), shifted)
    assert shifted[0, 0, 2] == 255 and shifted[0, 0, 1] > 100
    # and a hue near the top of the scale sticks at 255 (red) instead of
    # wrapping round to 10 (orange-red: green > 0)
    hsv = np.array([[[240, 255, 255]]], np.uint8)
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL)
    b, g, r = jitter_hue(bgr, 25.0)[0, 0]
    assert r == 255 and g == 0 and b < 12


def test_color_jitter_ranges_probabilities_and_order():
    np.random.seed(0)
    t = RandColorJitter()
    n = 4000
    seen = {k: [] for k in ('brightness', 'contrast', 'saturation', 'hue')}
    orders = set()
    for _ in range(n):
        params, order = t.draw()
        assert sorted(order) == [0, 1, 2, 3]
        orders.add(tuple(order))
        for k, v in params.items():
            seen[k].append(v)
    assert len(orders) == 24  # every order occurs
    bounds = dict(
        brightness=(-25, 25),
        contrast=(0.6, 1.4),
        saturation=(0.5, 1.5),
        hue=(-25, 25))
    for k, vals in seen.items():
        applied = [v for v in vals if v is not None]
        assert abs(len(applied) / n - 0.5) < 0.04, k  # p = 0.5 each
        lo, hi = bounds[k]
        assert lo <= min(applied) and max(applied) <= hi
        # uniform over the range: both ends are approached
        assert min(applied) < lo + 0.05 * (hi - lo)
        assert max(applied) > hi - 0.05 * (hi - lo)


def test_color_jitter_applies_drawn_ops_in_order(voc_mini_root):
    bgr = _rgb(voc_mini_root)[:64, :64, ::-1].copy()
    t = RandColorJitter(prob=1.0)
    np.random.seed(5)
    params, order = t.draw()
    np.random.seed(5)
    out = t.transform(dict(img=bgr.copy()))['img']
    ops = [(jitter_brightness, 'brightness'), (jitter_contrast, 'contrast'),
           (jitter_saturation, 'saturation'), (jitter_hue, 'hue')]
    want = bgr
    for i in order:
        op, name = ops[i]
        want = op(want, params[name])
    np.testing.assert_array_equal(out, want)
    assert not np.array_equal(out, bgr)
    with pytest.raises(ValueError, match='uint8'):
        t.transform(dict(img=bgr.astype(np.float32), img_path='a.jpg'))


# ----------------------------------------------------------------------------
# the configs' pipelines
# ----------------------------------------------------------------------------


def test_fma_configs_use_the_authors_augmentation(repo_root):
    cfg = Config.fromfile(f'{repo_root}/configs/fma/voc_prompts.py')
    types = [t['type'] for t in cfg.fma_augmentation]
    assert types == [
        'RandColorJitter', 'RandRangeScale', 'RandomCrop', 'RandomFlip'
    ]
    assert cfg.train_pipeline[1:-1] == cfg.fma_augmentation
    assert cfg.train_cfg.seg_dataloader.dataset.pipeline[2:-1] == \
        cfg.fma_augmentation
    for name in ('coco_prompts.py', 'voc_mini_prompts_demo.py'):
        child = Config.fromfile(f'{repo_root}/configs/fma/{name}')
        assert child.train_dataloader.dataset.pipeline[1:-1] == \
            cfg.fma_augmentation, name
        assert child.train_cfg.seg_dataloader.dataset.pipeline[2:-1] == \
            cfg.fma_augmentation, name
    joint = Config.fromfile(f'{repo_root}/configs/fma/voc_prompts_joint.py')
    assert joint.train_pipeline[2] == dict(
        type='Compose', transforms=cfg.fma_augmentation)


def test_joint_pipeline_masks_follow_the_authors_augmentation(
        repo_root, voc_mini_root, gt_mask_cache):
    """voc_prompts_joint's pipeline (with GT added to check it): 224 crops,
    never padded, and each SAM mask still equals its GT region."""
    init_default_scope('mmseg')
    joint = Config.fromfile(f'{repo_root}/configs/fma/voc_prompts_joint.py')
    pipeline = copy.deepcopy(joint.train_pipeline)
    pipeline[1]['mask_dir'] = gt_mask_cache
    pipeline.insert(1, dict(type='LoadAnnotations'))
    ds = voc_mini_dataset(voc_mini_root, pipeline)
    np.random.seed(0)
    for i in range(4):
        sample = ds[i]
        assert tuple(sample['inputs'].shape) == (3, 224, 224)
        ds_ = sample['data_samples']
        gt = ds_.gt_sem_seg.data[0].numpy()
        masks = ds_.sam_masks.data.numpy()
        full = np.array(Image.open(ds_.metainfo['seg_map_path']))
        classes = [c for c in np.unique(full) if c != 255]
        for k, c in enumerate(classes):
            np.testing.assert_array_equal(masks[k], gt == c)
    # the registered transforms are the ones built
    assert TRANSFORMS.get('RandRangeScale') is RandRangeScale
