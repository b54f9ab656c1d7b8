"""Classic CAM baseline: eqs. 1-2 on hand-built tensors, CAMClassifier
predict with a threshold / SAMS seeder, and train + test through mmengine's
Runner on the bundled VOC images
(configs/cam/cam_r18-tiny_1xb2-20iter_voc-mini-128x128.py)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from mmwsss.io import read_seed_png
from mmwsss.models.baselines import (class_activation_maps, max_normalize,
                                     multi_hot, multilabel_bce)
from mmwsss.io import mask_cache_path, SAMMaskRecord, save_masks

TINY_CFG = 'configs/cam/cam_r18-tiny_1xb2-20iter_voc-mini-128x128.py'
REAL_CFG = 'configs/cam/cam_r50_1xb16-3310iter_voc12aug-512x512.py'


def test_cam_eq2_by_hand():
    # 2 channels on a 2x2 grid; 3 classes
    feats = torch.tensor([[[1., 0.], [2., -1.]], [[0., 1.], [1., 3.]]])
    weight = torch.tensor([[1., 0.], [0., 2.], [1., -1.]])
    cams = class_activation_maps(feats, weight[:, :, None, None],
                                 torch.tensor([2, 0]))
    # class 2: f0 - f1 = [[1, -1], [1, -4]] -> ReLU
    assert cams[0].tolist() == [[1., 0.], [1., 0.]]
    # class 0: f0 -> ReLU
    assert cams[1].tolist() == [[1., 0.], [2., 0.]]
    norm = max_normalize(cams, eps=0.)
    assert norm[1].tolist() == [[0.5, 0.], [1., 0.]]
    assert max_normalize(torch.zeros(1, 2, 2)).abs().sum() == 0
    with pytest.raises(ValueError, match='input channels'):
        class_activation_maps(feats, torch.ones(3, 5), torch.tensor([0]))


def test_bce_eq1_and_labels():
    t = multi_hot([[1, 3], [], [0, 2]], 3)
    assert t.tolist() == [[1, 0, 1], [0, 0, 0], [0, 1, 0]]
    z = torch.tensor([[2., -1., 0.5], [0., 0., 0.], [-3., 1., 4.]])
    s = torch.sigmoid(z)
    want = -(t * s.log() + (1 - t) * (1 - s).log()).mean()
    torch.testing.assert_close(multilabel_bce(z, t), want)
    with pytest.raises(ValueError, match=r'b\.jpg.*\[21\]'):
        multi_hot([[1], [21]], 20, ['a.jpg', 'b.jpg'])


def _sample(labels, h=32, w=48, path='x.jpg'):
    return SegDataSample(
        metainfo=dict(
            img_labels=labels,
            img_shape=(h, w),
            ori_shape=(h, w),
            img_path=path))


def _tiny_model(repo_root, **extra):
    cfg = Config.fromfile(osp.join(repo_root, TINY_CFG))
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, **extra))
    model.init_weights()
    return model.eval()


def test_predict_threshold_seeds_only_labelled_classes(repo_root):
    model = _tiny_model(repo_root)
    x = torch.randn(1, 3, 32, 48)
    feats = model.extract_feat(x)
    assert feats.shape[-2:] == (2, 3)  # output stride 16
    ds = model.predict(x, [_sample([8, 12])])[0]
    seed = ds.pred_sem_seg.data[0]
    assert seed.shape == (32, 48) and seed.dtype == torch.int64
    assert set(seed.unique().tolist()) <= {0, 8, 12}
    assert len(seed.unique()) > 1
    assert ds.metainfo['cam_classes'] == [8, 12]
    with torch.no_grad():  # all CAMs zero: nothing above the threshold
        model.classifier.weight.zero_()
    seed = model.predict(x, [_sample([8])])[0].pred_sem_seg.data[0]
    assert not seed.any()
    with pytest.raises(ValueError, match=r'x\.jpg'):
        model.predict(x, [_sample([25])])
    with pytest.raises(KeyError, match='img_labels'):
        model.predict(x, [SegDataSample(metainfo=dict(img_path='y.jpg'))])
    # multi-scale + flip: CAMs at the scale-1 feature size
    model.test_scales, model.test_flip = (1.0, 0.5, 2.0), True
    cams = model.image_cams(x[0], torch.tensor([3, 7]))
    assert cams.shape == (2, 2, 3) and bool((cams >= 0).all())


def test_predict_with_sams_seeder(repo_root, tmp_path):
    mask_dir = str(tmp_path / 'masks')
    m = np.zeros((2, 32, 48), bool)
    m[0, :, :24] = True
    m[1, :, 24:] = True
    save_masks(
        mask_cache_path(mask_dir, 'x.jpg'),
        SAMMaskRecord.from_dense(m, [2, 2]))
    model = _tiny_model(
        repo_root,
        seeder=dict(type='SAMSSeeder', alpha=0.7, mask_dir=mask_dir))
    seed = model.predict(torch.randn(1, 3, 32, 48),
                         [_sample([3, 5])])[0].pred_sem_seg.data[0]
    # SAMS labels each whole mask uniformly
    assert len(seed[:, :24].unique()) == 1 and len(seed[:, 24:].unique()) == 1
    assert set(seed.unique().tolist()) <= {0, 3, 5}


def test_real_config_builds(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, REAL_CFG))
    assert cfg.model.backbone.type == 'mmpretrain.ResNet'
    assert cfg.model.backbone.init_cfg.checkpoint == 'torchvision://resnet50'
    assert cfg.test_evaluator.type == 'SeedMetric'
    assert cfg.test_dataloader.dataset.ann_file.endswith('trainaug.txt')
    assert cfg.test_dataloader.dataset.pipeline[-1].type == 'PackWSSSInputs'
    model = MODELS.build(cfg.model)
    assert model.classifier.weight.shape == (20, 2048, 1, 1)
    assert model.classifier.bias is None
    assert type(model.seeder).__name__ == 'ThresholdSeeder'


def test_train_and_test_on_voc_mini(repo_root, voc_mini_root, tmp_path):
    """tools/train.py + tools/test.py's Runner on the smoke config."""
    cfg = Config.fromfile(osp.join(repo_root, TINY_CFG))
    seed_dir = str(tmp_path / 'seeds')
    cfg.merge_from_dict({
        'train_cfg.max_iters': 4,
        'param_scheduler.0.end': 4,
        'default_hooks.checkpoint.interval': 4,
        'test_evaluator.seed_dir': seed_dir,
        'test_evaluator.out_dir': str(tmp_path),
        'randomness': dict(seed=0),
    })
    cfg.work_dir = str(tmp_path / 'work')
    cfg.launcher = 'none'
    cfg.visualizer.name = 'cam_test_train'
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(cfg.work_dir, 'iter_4.pth')
    assert osp.isfile(ckpt)
    cfg.load_from = ckpt
    cfg.visualizer.name = 'cam_test_test'
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['mIoU'] <= 100
    assert osp.isfile(osp.join(str(tmp_path), 'seed_scores.json'))
    stems = open(osp.join(voc_mini_root,
                          'ImageSets/Segmentation/train.txt')).read().split()
    for stem in stems:
        seed = read_seed_png(osp.join(seed_dir, stem + '.png'))
        gt = np.asarray(
            Image.open(
                osp.join(voc_mini_root, 'SegmentationClass', stem + '.png')))
        assert seed.shape == gt.shape
        present = set(np.unique(gt).tolist()) - {255}
        assert set(np.unique(seed).tolist()) <= present | {0}
