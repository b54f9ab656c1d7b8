"""Seeders: CAMs of the labelled classes -> seed map (hand-built cases)."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss.io import (mask_cache_path, MaskCacheError, SAMMaskRecord,
                       save_masks)


def _sample(path, **meta):
    return SegDataSample(metainfo=dict(img_path=path, **meta))


def test_threshold_seeder_hand_case():
    seeder = MODELS.build(dict(type='ThresholdSeeder', bg_threshold=0.5))
    cams = torch.zeros(2, 2, 2)
    cams[0] = torch.tensor([[0., 1.], [0.2, 0.6]])  # class 3 (fg id 2)
    cams[1] = torch.tensor([[0., 0.], [2., 0.]])  # class 7 (fg id 6)
    seed = seeder(cams, torch.tensor([2, 6]), (2, 2))
    # normalised: c3 [[0, 1], [.2, .6]], c7 [[0, 0], [1, 0]]; bg 0.5
    assert seed.tolist() == [[0, 3], [7, 3]]
    assert seeder(torch.zeros(0, 2, 2), torch.zeros(0), (3, 4)).shape == (3, 4)
    # upsampled to the requested size
    assert seeder(cams, torch.tensor([2, 6]), (4, 6)).shape == (4, 6)
    with pytest.raises(ValueError, match='fg_cls'):
        seeder(cams, torch.tensor([2]), (2, 2))


def test_sams_seeder_from_cache(tmp_path):
    h, w = 4, 6
    masks = np.zeros((2, h, w), bool)
    masks[0, :, :3] = True  # whole on the left
    masks[1, :, 3:] = True  # whole on the right
    save_masks(
        mask_cache_path(str(tmp_path), 'img/a.jpg'),
        SAMMaskRecord.from_dense(masks, [2, 2], fingerprint='fp'))
    cams = torch.zeros(1, h, w)
    cams[0, :, :3] = 1.0
    seeder = MODELS.build(
        dict(type='SAMSSeeder', alpha=0.7, mask_dir=str(tmp_path)))
    seed = seeder(
        cams, torch.tensor([4]), (h, w), data_sample=_sample('img/a.jpg'))
    expect = np.zeros((h, w), np.int64)
    expect[:, :3] = 5
    assert seed.numpy().tolist() == expect.tolist()
    # in-sample masks (e.g. augmented with a crop) take precedence
    ds = _sample('img/none.jpg', sam_levels=[2, 2])
    ds.sam_masks = PixelData(data=torch.from_numpy(masks[::-1].copy()))
    assert torch.equal(seeder(cams, torch.tensor([4]), (h, w), ds), seed)


def test_sams_seeder_errors(tmp_path):
    seeder = MODELS.build(
        dict(type='SAMSSeeder', alpha=0.7, mask_dir=str(tmp_path)))
    with pytest.raises(MaskCacheError, match=r'model.seeder.mask_dir.*b.jpg'):
        seeder(torch.zeros(1, 2, 2), [0], (2, 2), _sample('x/b.jpg'))
    strict = MODELS.build(
        dict(
            type='SAMSSeeder',
            alpha=0.7,
            mask_dir=str(tmp_path),
            fingerprint='vit_h'))
    save_masks(
        mask_cache_path(str(tmp_path), 'c.jpg'),
        SAMMaskRecord.from_dense(
            np.ones((1, 2, 2), bool), [2], fingerprint='tiny'))
    with pytest.raises(MaskCacheError, match='another SAM config'):
        strict(torch.zeros(1, 2, 2), [0], (2, 2), _sample('c.jpg'))
    with pytest.raises(ValueError, match='mask_dir'):
        MODELS.build(dict(type='SAMSSeeder'))(torch.zeros(1, 2, 2), [0],
                                              (2, 2), _sample('c.jpg'))


def test_crf_seeder_runs_on_image():
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, 4:] = 255
    cams = torch.zeros(1, 8, 8)
    cams[0, :, 4:] = 1.0
    seeder = MODELS.build(dict(type='CRFSeeder'))
    seed = seeder(cams, torch.tensor([0]), (8, 8), image=img)
    assert seed.shape == (8, 8)
    assert (seed[:, 5:] == 1).all() and (seed[:, :3] == 0).all()
    with pytest.raises(ValueError, match='img_path'):
        seeder(cams, torch.tensor([0]), (8, 8))


def test_base_seeder_checks_once_and_passes_overrides():
    from mmwsss.models.seeders import BaseSeeder, SeedInputs
    seen = []

    class Recorder(BaseSeeder):

        def _seed(self, inputs, bg_threshold=None):
            seen.append((inputs, bg_threshold))
            return torch.zeros(inputs.size, dtype=torch.long)

    seeder = Recorder()
    cams = torch.ones(1, 2, 2, dtype=torch.float64)
    out = seeder(cams, [4], (np.int64(3), 5), image='img', bg_threshold=0.2)
    assert out.shape == (3, 5)
    inputs, thr = seen[0]
    assert isinstance(inputs, SeedInputs) and thr == 0.2
    assert inputs.cams.dtype == torch.float32
    assert inputs.fg_cls.tolist() == [4] and inputs.fg_cls.dtype == torch.long
    assert inputs.size == (3, 5) and type(inputs.size[0]) is int
    assert inputs.data_sample is None and inputs.image == 'img'
    with pytest.raises(TypeError):
        seeder(cams, [4], (3, 5), alpha=0.5)  # not a Recorder parameter
    threshold = MODELS.build(dict(type='ThresholdSeeder'))
    with pytest.raises(TypeError):
        threshold(cams, [4], (3, 5), alpha=0.5)
