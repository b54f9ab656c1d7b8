"""SAM-HQ and SAM 2 quasi-superpixel generators: the three changes through
each family (value tests with the fake predictions of
test_mask_generator.py), SAM 2 == its own AMG with the changes off, HQ-SAM's
level fusion, official checkpoint layouts, fingerprints, registry/tool use.
"""
import importlib.util
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from _helpers import STOCK_AMG_PARAMS

from mmseg.registry import MODELS
from mmwsss.io import load_masks
from mmwsss.models.sams import SAMQuasiSuperpixelGenerator


def load_test_module(*rel):
    """Another test module of this suite, by path (a ``tests`` package of
    site-packages can shadow the folder's name)."""
    path = osp.join(osp.dirname(osp.abspath(__file__)), *rel)
    spec = importlib.util.spec_from_file_location(
        '_family_' + osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_sam_tests = load_test_module('test_mask_generator.py')
IMG64, OFF, discs = _sam_tests.IMG64, _sam_tests.OFF, _sam_tests.discs
one_point, shapes_image = _sam_tests.one_point, _sam_tests.shapes_image
two_prompt_discs = _sam_tests.two_prompt_discs
TWO_PROMPT_GRID = _sam_tests.TWO_PROMPT_GRID

pytest.importorskip('segment_anything_hq')
pytest.importorskip('sam2')

from mmwsss.models.sams import (
    SAM2QuasiSuperpixelGenerator,  # noqa: E402
    SAMHQQuasiSuperpixelGenerator,
    build_sam2_model,
    build_sam_hq_model)
from mmwsss.models.sams.sam2_generator import (  # noqa: E402
    SAM2_CHECKPOINT_URLS, sam2_image_predictor)

FAMILIES = {
    'sam': SAMQuasiSuperpixelGenerator,
    'sam_hq': SAMHQQuasiSuperpixelGenerator,
    'sam2': SAM2QuasiSuperpixelGenerator,
}


def faked(family, fn, **kwargs):
    """A tiny generator of ``family`` whose model answers with ``fn``.

    ``fn(points, size)`` gets (B, 2) float64 prompts in crop pixels and the
    crop (H, W), and returns (B, 3, H, W) logits and (B, 3) IoUs; it
    replaces the family's model hooks, so the family's pipeline runs on
    known predictions.
    """
    kwargs.setdefault('min_mask_region_area', 0)
    kwargs.setdefault('crop_n_layers', 0)
    if 'point_grids' not in kwargs:
        kwargs.setdefault('points_per_side', 1)
    gen = FAMILIES[family](model_type='tiny', device='cpu', **kwargs)
    gen._embed = lambda image: None
    gen._release = lambda: None

    def predict(points, size):
        logits, ious = fn(torch.as_tensor(points, dtype=torch.float64), size)
        return logits.float(), ious.float()

    gen._predict_levels = predict
    return gen


@pytest.mark.parametrize('family', list(FAMILIES))
def test_whole_threshold_offset_each_family(family):
    # IoUs 0.9 / 0.8 / 0.8: the whole passes (0.8 + 0.1 > 0.86), the part
    # does not; a whole at 0.75 does not either
    gen = faked(
        family, one_point((4.5, 10.5, 20.5), (0.9, 0.8, 0.8)), t_r=None)
    rec = gen.generate_record(IMG64)
    assert sorted(rec.levels.tolist()) == [0, 2]
    areas = dict(zip(rec.levels.tolist(), rec.areas().tolist()))
    assert abs(areas[2] - np.pi * 20.5**2) < 60
    gen = faked(
        family, one_point((4.5, 10.5, 20.5), (0.9, 0.8, 0.75)), t_r=None)
    assert gen.generate_record(IMG64).levels.tolist() == [0]
    off = faked(family, one_point((4.5, 10.5, 20.5), (0.9, 0.8, 0.8)), **OFF)
    assert off.generate_record(IMG64).levels.tolist() == [0]


@pytest.mark.parametrize('family', list(FAMILIES))
def test_nms_priority_each_family(family):
    # part r=20.5 (IoU 0.95) vs whole r=22.5 (IoU 0.9): box IoU ~0.83
    fn = one_point((4.5, 20.5, 22.5), (0.9, 0.95, 0.9))
    assert sorted(
        faked(family, fn,
              t_r=None).generate_record(IMG64).levels.tolist()) == [0, 2]
    rec = faked(family, fn, **OFF).generate_record(IMG64)
    assert sorted(rec.levels.tolist()) == [0, 1]  # without: the part wins


@pytest.mark.parametrize('family', list(FAMILIES))
def test_level_filter_each_family(family):
    # prompt A (x=16): whole r=10.5 + sub-part r=3.5 inside it (dropped);
    # prompt B (x=48): only its sub-part passes, nothing covers it (kept)
    fn, grid = two_prompt_discs, TWO_PROMPT_GRID
    rec = faked(
        family, fn, point_grids=grid,
        min_mask_region_area=5).generate_record(IMG64)
    assert rec.levels.tolist() == [2, 0]
    assert rec.bbox[1][0] > 32
    rec = faked(
        family, fn, point_grids=grid, t_r=None,
        min_mask_region_area=5).generate_record(IMG64)
    assert sorted(rec.levels.tolist()) == [0, 0, 2]


def test_fingerprints_name_the_family_and_keep_sam_unchanged():
    kw = dict(model_type='tiny', points_per_side=4, device='cpu')
    fps = {name: cls(**kw).fingerprint for name, cls in FAMILIES.items()}
    # SAM's fingerprint is the one of the caches made before the other
    # families existed (value computed with the pre-refactor generator)
    assert fps['sam'] == 'tiny-e87a76956dd705a0f58c'
    assert fps['sam_hq'].startswith('sam_hq-tiny-')
    assert fps['sam2'].startswith('sam2-tiny-')
    assert len(set(fps.values())) == 3
    assert SAM2QuasiSuperpixelGenerator(
        mask_threshold=0.5, **kw).fingerprint != fps['sam2']


def test_sam2_changes_off_equals_its_own_amg():
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    params = dict(
        STOCK_AMG_PARAMS,
        # sam2 1.1.0's generate() never runs postprocess_small_regions (its
        # min_mask_region_area only sets the predictor's CUDA-only hole
        # filling); ours runs it as for SAM, so compare without it
        min_mask_region_area=0)
    ours = SAM2QuasiSuperpixelGenerator(
        model_type='tiny', seed=0, device='cpu', **params, **OFF)
    stock = SAM2AutomaticMaskGenerator(
        ours.predictor.model, output_mode='uncompressed_rle', **params)
    stock.predictor._bb_feat_sizes = ours.predictor._bb_feat_sizes
    img = shapes_image()
    a, b = ours.generate(img), stock.generate(img)
    assert len(a) >= 10 and {x['level'] for x in a} == {0, 1, 2}
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x['segmentation'] == y['segmentation']
        assert x['bbox'] == y['bbox'] and x['crop_box'] == y['crop_box']
        np.testing.assert_allclose(x['predicted_iou'], y['predicted_iou'])
        np.testing.assert_allclose(x['stability_score'], y['stability_score'])


def test_sam_hq_levels_fuse_each_level_with_the_hq_mask():
    from segment_anything_hq import SamPredictor
    gen = SAMHQQuasiSuperpixelGenerator(
        model_type='tiny', seed=2, device='cpu', points_per_side=2)
    img = shapes_image()
    gen._embed(img)
    points = np.array([[30.0, 30.0], [115.0, 40.0], [80.0, 95.0]])
    logits, ious = gen._predict_levels(points, img.shape[:2])
    assert logits.shape == (3, 3) + img.shape[:2] and ious.shape == (3, 3)
    # HQ-SAM's own multimask output = the level of highest predicted IoU,
    # fused with the HQ mask; its hq_token_only output = the HQ mask
    pred = SamPredictor(gen.predictor.model)
    pred.set_image(img)
    coords = torch.as_tensor(
        pred.transform.apply_coords(points, img.shape[:2]),
        dtype=torch.float)[:, None]
    labels = torch.ones(3, 1, dtype=torch.int)
    best, best_iou, _ = pred.predict_torch(
        coords, labels, multimask_output=True, return_logits=True)
    hq, _, _ = pred.predict_torch(
        coords,
        labels,
        multimask_output=True,
        return_logits=True,
        hq_token_only=True)
    pick = ious.argmax(1)
    torch.testing.assert_close(logits[torch.arange(3), pick], best[:, 0])
    torch.testing.assert_close(ious.max(1).values, best_iou[:, 0])
    # the levels differ by SAM's level logits only: hq is common to all
    sam_levels = logits - hq
    assert not torch.allclose(sam_levels[:, 0], sam_levels[:, 2])


def test_official_checkpoint_layouts(tmp_path):
    # HQ-SAM: a bare state dict of the whole model
    ref = build_sam_hq_model('tiny', seed=5, device='cpu')
    ckpt = str(tmp_path / 'sam_hq_tiny.pth')
    torch.save(ref.state_dict(), ckpt)
    assert any(k.startswith('mask_decoder.hf_token') for k in ref.state_dict())
    gen = SAMHQQuasiSuperpixelGenerator(
        model_type='tiny', checkpoint=ckpt, points_per_side=2)
    for k, v in ref.state_dict().items():
        assert torch.equal(gen.predictor.model.state_dict()[k], v), k
    state = ref.state_dict()
    del state['mask_decoder.hf_token.weight']  # a plain SAM checkpoint
    torch.save(state, ckpt)
    with pytest.raises(RuntimeError, match='does not fit'):
        build_sam_hq_model('tiny', checkpoint=ckpt)
    # SAM 2: {'model': state_dict}
    ref2 = build_sam2_model('tiny', seed=5, device='cpu')
    ckpt2 = str(tmp_path / 'sam2_tiny.pt')
    torch.save({'model': ref2.state_dict()}, ckpt2)
    gen2 = SAM2QuasiSuperpixelGenerator(
        model_type='tiny', checkpoint=ckpt2, points_per_side=2)
    for k, v in ref2.state_dict().items():
        assert torch.equal(gen2.predictor.model.state_dict()[k], v), k
    assert gen2.fingerprint != SAM2QuasiSuperpixelGenerator(
        model_type='tiny', seed=5, points_per_side=2).fingerprint
    torch.save({'model': {'image_encoder.x': torch.zeros(1)}}, ckpt2)
    with pytest.raises(RuntimeError, match='does not fit'):
        build_sam2_model('tiny', checkpoint=ckpt2)


def test_build_errors_name_the_official_files(tmp_path):
    missing = str(tmp_path / 'sam2.1_hiera_large.pt')
    with pytest.raises(FileNotFoundError) as err:
        build_sam2_model('sam2.1_hiera_l', checkpoint=missing)
    assert SAM2_CHECKPOINT_URLS['sam2.1_hiera_l'] in str(err.value)
    with pytest.raises(ValueError, match='checkpoint is required'):
        build_sam2_model('sam2.1_hiera_l')
    with pytest.raises(ValueError, match='sam_hq_vit_h.pth'):
        build_sam_hq_model('vit_h')
    with pytest.raises(KeyError, match='hiera_x'):
        build_sam2_model('hiera_x')


def test_bb_feat_sizes_follow_the_model_resolution():
    model = build_sam2_model('tiny', device='cpu')
    pred = sam2_image_predictor(model, 0.0, 0)
    assert model.image_size == 256
    assert pred._bb_feat_sizes == [(64, 64), (32, 32), (16, 16)]


@pytest.mark.parametrize(
    'family_type',
    ['SAMHQQuasiSuperpixelGenerator', 'SAM2QuasiSuperpixelGenerator'])
def test_registry_and_gen_tool_take_any_generator(family_type, repo_root,
                                                  voc_mini_root, tmp_path):
    """tools/gen_sam_masks.py with another generator type: cache files with
    that generator's fingerprint, readable by the mask source."""
    gen_tests = load_test_module('..', '..', 'tools', 'test_gen_sam_masks.py')
    load_tool, write_config = gen_tests.load_tool, gen_tests.write_config
    cfg_path = write_config(tmp_path, repo_root, voc_mini_root,
                            ['2007_000032'])
    tool = load_tool(repo_root)
    assert tool.main([
        cfg_path, '--cfg-options', f'sam_generator.type={family_type}',
        f'work_dir={tmp_path / "work"}'
    ]) == 0
    cfg = Config.fromfile(cfg_path)
    cfg.sam_generator.type = family_type
    gen = MODELS.build(cfg.sam_generator)
    assert type(gen).__name__ == family_type
    img = mmcv.imread(
        osp.join(voc_mini_root, 'JPEGImages', '2007_000032.jpg'),
        channel_order='rgb')
    rec = load_masks(
        str(tmp_path / 'masks' / '2007_000032.npz'), gen.fingerprint,
        img.shape[:2])
    assert rec.fingerprint == gen.fingerprint
    # the repo configs build each family
    name = {
        'SAMHQQuasiSuperpixelGenerator': 'voc_trainaug_sam_hq.py',
        'SAM2QuasiSuperpixelGenerator': 'voc_trainaug_sam2.py'
    }
    repo_cfg = Config.fromfile(
        osp.join(repo_root, 'configs', 'sams', name[family_type]))
    assert repo_cfg.sam_generator.type == family_type
