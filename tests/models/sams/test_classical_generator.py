"""FelzenszwalbQuasiSuperpixelGenerator: exact masks and levels on flat-colour
images, the level filter, the fingerprint, the cache, SAMMaskSource, configs.
"""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mmseg.registry import MODELS
from mmwsss.functional import filter_quasi_superpixels
from mmwsss.io import load_masks, mask_cache_path, save_masks
from mmwsss.models.sams import FelzenszwalbQuasiSuperpixelGenerator
from mmwsss.models.sams.classical_generator import (level_candidates,
                                                    mask_boxes_xywh)
from mmwsss.io.mask_source import SAMMaskSource

# Three flat regions of a 40 x 60 image (sigma 0: no smoothing):
#   A = left half (1200 px), B = top right (600 px), C = bottom right (600).
# A and B differ by 4 grey levels, C is far from both. In skimage's
# Felzenszwalb two regions merge when their edge weight (colour distance /
# 255) is below scale / 255 / |smaller region|, so A and B merge iff
# scale > 4 * 1200 = 4800 and C merges only above ~377,000:
#   scales 10, 100 -> {A, B, C};  scale 10,000 -> {A u B, C}.
H, W = 40, 60
A = np.zeros((H, W), bool)
A[:, :30] = True
B = np.zeros((H, W), bool)
B[:20, 30:] = True
C = np.zeros((H, W), bool)
C[20:, 30:] = True


def three_regions(scale_up: int = 1) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[A] = (100, 100, 100)
    img[B] = (104, 100, 100)
    img[C] = (0, 0, 255)
    return img.repeat(scale_up, 0).repeat(scale_up, 1)


def generator(**kwargs):
    cfg = dict(
        scales=(10., 100., 10000.),
        sigma=0.,
        min_size=(1, 1, 1),
        max_side=None,
        max_area=(1., 1., 1.))
    cfg.update(kwargs)
    return FelzenszwalbQuasiSuperpixelGenerator(**cfg)


def as_list(masks):
    return [m.tolist() for m in masks]


def test_candidates_are_the_partitions():
    g = generator(t_r=None)
    masks, levels = g.generate_masks(three_regions())
    # no filter: every segment of every level, level by level
    assert levels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert as_list(masks) == as_list([A, B, C, A, B, C, A | B, C])


def test_filter_keeps_wholes_only_when_they_cover_everything():
    masks, levels = generator().generate_masks(three_regions())
    # every part / sub-part lies inside a whole (occupation 1 >= 0.3)
    assert levels.tolist() == [2, 2]
    assert as_list(masks) == as_list([A | B, C])


def test_three_levels_exact():
    # A u B (75 %) is too big for a whole, A (50 %) too big for a part:
    # whole C; parts A, B minus those inside C -> B; sub-parts -> A
    g = generator(max_area=(1., 0.4, 0.5))
    masks, levels = g.generate_masks(three_regions())
    assert levels.tolist() == [2, 1, 0]
    assert as_list(masks) == as_list([C, B, A])
    # the same as the shared filter applied to the candidates
    cand, cand_levels = level_candidates(
        [np.where(A, 0, np.where(B, 1, 2))] * 2 + [np.where(C, 1, 0)],
        (1., 0.4, 0.5))
    keep = filter_quasi_superpixels(cand, cand_levels, t_r=0.3)
    assert as_list(cand[keep]) == as_list(masks)
    # t_r decides: with t_r above 1 every candidate passes
    masks, levels = generator(
        max_area=(1., 0.4, 0.5), t_r=1.01).generate_masks(three_regions())
    assert levels.tolist() == [2, 1, 1, 0, 0, 0]


def test_record_boxes_and_cache_round_trip(tmp_path):
    g = generator(max_area=(1., 0.4, 0.5))
    record = g.generate_record(three_regions())
    assert record.image_size == (H, W)
    assert record.fingerprint == g.fingerprint
    assert record.levels.tolist() == [2, 1, 0]
    assert as_list(record.dense()) == as_list([C, B, A])
    assert record.areas().tolist() == [600, 600, 1200]
    # XYWH, inclusive max as SAM: C spans x 30..59, y 20..39
    np.testing.assert_array_equal(
        record.bbox, [[30, 20, 29, 19], [30, 0, 29, 19], [0, 0, 29, 39]])
    np.testing.assert_array_equal(record.predicted_iou, [1, 1, 1])
    path = str(tmp_path / 'x.npz')
    save_masks(path, record)
    back = load_masks(path, g.fingerprint, (H, W))
    np.testing.assert_array_equal(back.counts, record.counts)
    np.testing.assert_array_equal(back.levels, record.levels)
    np.testing.assert_array_equal(back.bbox, record.bbox)
    with pytest.raises(Exception, match='another SAM config'):
        load_masks(path, generator().fingerprint)


def test_shrunk_segmentation_comes_back_at_image_size():
    # 120 x 180 image segmented at 60 px: the same three regions, upscaled
    g = generator(max_side=60, max_area=(1., 0.4, 0.5))
    img = three_regions(scale_up=3)
    masks, levels = g.generate_masks(img)
    assert masks.shape == (3, 3 * H, 3 * W)
    up = [m.repeat(3, 0).repeat(3, 1) for m in (C, B, A)]
    assert levels.tolist() == [2, 1, 0]
    assert as_list(masks) == as_list(up)


def test_mask_boxes_empty_mask():
    m = np.zeros((2, 4, 5), bool)
    m[1, 1:3, 2] = True
    np.testing.assert_array_equal(
        mask_boxes_xywh(m), [[0, 0, 0, 0], [2, 1, 0, 1]])


def test_fingerprint():
    base = generator()
    fp = base.fingerprint
    assert fp.startswith('felzenszwalb-') and fp == generator().fingerprint
    for change in (dict(scales=(10., 100., 9000.)), dict(sigma=0.5),
                   dict(min_size=(1, 1, 2)), dict(max_side=512),
                   dict(max_area=(1., 1., 0.5)), dict(t_r=0.5),
                   dict(t_r=None)):
        assert generator(**change).fingerprint != fp, change
    # speed / memory only
    assert generator(filter_chunk_size=3, device='cpu').fingerprint == fp
    # never a SAM fingerprint: those start with the SAM model type
    sam = Config.fromfile(
        osp.join(
            osp.dirname(__file__), '..', '..', '..', 'configs', 'sams',
            'sam_tiny.py')).sam_generator
    sam_fp = MODELS.build(dict(sam, device='cpu')).fingerprint
    assert sam_fp.startswith('tiny-') and sam_fp != fp


def test_bad_arguments():
    with pytest.raises(ValueError, match='3 values'):
        generator(scales=(1., 2.))
    with pytest.raises(ValueError, match='fine'):
        generator(scales=(100., 10., 1000.))
    with pytest.raises(ValueError, match='max_area'):
        generator(max_area=(1., 0., 1.))
    with pytest.raises(ValueError, match='HWC uint8'):
        generator().generate_record(three_regions().astype(np.float32))


def test_mask_source_generates_and_caches(tmp_path, voc_mini_root):
    """Selectable wherever a sam_generator is taken (SAMSSeeder,
    SAMSTTAModel, LoadSAMMasks go through SAMMaskSource)."""
    cfg = dict(type='FelzenszwalbQuasiSuperpixelGenerator')
    img = osp.join(voc_mini_root, 'JPEGImages', '2007_000032.jpg')
    src = SAMMaskSource(
        str(tmp_path), sam_generator=cfg, owner='test', build=MODELS.build)
    record = src.get(img, (281, 500))
    assert record.fingerprint.startswith('felzenszwalb-')
    # real structure on a real photo: several wholes, more than one level
    counts = np.bincount(record.levels, minlength=3)
    assert counts[2] >= 3 and (counts[:2] > 0).any(), counts
    assert record.dense().any(0).mean() > 0.9  # nearly every pixel covered
    path = mask_cache_path(str(tmp_path), img)
    cached = SAMMaskSource(
        str(tmp_path), fingerprint=record.fingerprint, owner='test')
    np.testing.assert_array_equal(cached.get(img).counts, record.counts)
    assert load_masks(path).fingerprint == record.fingerprint


def test_configs_match_the_defaults(repo_root):
    folder = osp.join(repo_root, 'configs', 'sams')
    base = Config.fromfile(osp.join(folder, 'felzenszwalb.py'))
    mini = Config.fromfile(osp.join(folder, 'voc_mini_felzenszwalb.py'))
    assert mini.dataset.type == 'ConcatDataset' and mini.mask_dir
    assert set(mini.sam_generator) == {'type'}
    fps = {
        MODELS.build(cfg).fingerprint
        for cfg in (base.sam_generator, mini.sam_generator)
    }
    assert fps == {FelzenszwalbQuasiSuperpixelGenerator().fingerprint}
