"""SAMQuasiSuperpixelGenerator: upstream equality, the three changes,
fingerprint, model building, a tiny run on a real VOC image."""
import os.path as osp
import time
from types import SimpleNamespace

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from segment_anything import SamAutomaticMaskGenerator
from segment_anything.utils.transforms import ResizeLongestSide

from _helpers import STOCK_AMG_PARAMS

from mmseg.registry import MODELS
from mmwsss.io import load_masks, SAMMaskRecord, save_masks
from mmwsss.models.sams import build_sam_model, SAMQuasiSuperpixelGenerator
from mmwsss.io.mask_cache import MaskCacheError
from mmwsss.models.sams.sam_builder import SAM_CHECKPOINT_URLS

# the three changes off: must behave exactly as upstream
OFF = dict(
    score_thresh_offset=(0, 0, 0),
    score_nms_offset=(0, 0, 0),
    stability_score_bias=(0, 0, 0),
    t_r=None)


def shapes_image():
    img = np.full((120, 160, 3), 30, np.uint8)
    cv2.rectangle(img, (10, 10), (70, 60), (250, 40, 40), -1)
    cv2.circle(img, (115, 40), 25, (40, 230, 60), -1)
    cv2.rectangle(img, (20, 75), (150, 110), (60, 60, 240), -1)
    return img


class FakePredictor:
    """Stands in for SamPredictor: masks from a function of the prompt.

    ``fn(points, size)`` gets (B, 2) float64 prompts in crop pixels (x, y)
    and the crop (H, W) and returns (B, 3, H, W) logits and (B, 3) IoUs.
    """

    def __init__(self, fn):
        self.fn = fn
        self.transform = ResizeLongestSide(1024)
        self.device = torch.device('cpu')
        self.model = SimpleNamespace(mask_threshold=0.0)
        self.set_image_calls = 0
        self.predict_calls = []

    def set_image(self, image):
        self.size = image.shape[:2]
        self.set_image_calls += 1

    def reset_image(self):
        pass

    def predict_torch(self, point_coords, point_labels, multimask_output,
                      return_logits):
        assert multimask_output and return_logits
        h, w = self.size
        nh, nw = ResizeLongestSide.get_preprocess_shape(h, w, 1024)
        pts = point_coords[:, 0].double() / torch.tensor([nw / w, nh / h])
        self.predict_calls.append(len(pts))
        logits, ious = self.fn(pts, (h, w))
        return logits.float(), ious.float(), None


def discs(points, size, centres, radii, ious, sharp=100.0):
    """Logits ``sharp * (r - distance)`` of discs, 3 levels per prompt."""
    h, w = size
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float64),
        torch.arange(w, dtype=torch.float64),
        indexing='ij')
    c = torch.as_tensor(centres, dtype=torch.float64)  # (B, 3, 2)
    d = torch.sqrt((xx - c[..., 0, None, None])**2 +
                   (yy - c[..., 1, None, None])**2)
    r = torch.as_tensor(radii, dtype=torch.float64)[..., None, None]
    return sharp * (r - d), torch.as_tensor(ious, dtype=torch.float64)


def fake_generator(fn, **kwargs):
    kwargs.setdefault('min_mask_region_area', 0)
    kwargs.setdefault('crop_n_layers', 0)
    if 'point_grids' not in kwargs:
        kwargs.setdefault('points_per_side', 1)
    gen = SAMQuasiSuperpixelGenerator(model_type='tiny', **kwargs)
    gen.predictor = FakePredictor(fn)
    return gen


def one_point(radii, ious, centre=(32, 32), sharp=100.0):
    """Every prompt answers discs of ``radii`` at ``centre``."""

    def fn(points, size):
        b = len(points)
        cs = torch.tensor(centre, dtype=torch.float64).expand(b, 3, 2)
        return discs(points, size, cs, [radii] * b, [ious] * b, sharp)

    return fn


#: Prompt A at x=16 and prompt B at x=48 of a 64x64 image.
TWO_PROMPT_GRID = [np.array([[0.25, 0.5], [0.75, 0.5]])]


def two_prompt_discs(points, size):
    """Discs of radii 3.5 / 6.5 / 10.5 at each prompt: prompt A (x < 32)
    passes its whole and its sub-part (inside the whole), prompt B only
    its sub-part (nothing covers it)."""
    b = len(points)
    centres = points[:, None, :].expand(b, 3, 2)
    left = points[:, :1] < 32
    ious = torch.where(left, torch.tensor([0.9, 0.1, 0.9]),
                       torch.tensor([0.9, 0.1, 0.1]))
    return discs(points, size, centres, [(3.5, 6.5, 10.5)] * b, ious)


def stock_like(gen, **kwargs):
    """Upstream's generator (paper thresholds) on ``gen``'s predictor."""
    params = dict(
        pred_iou_thresh=0.86,
        stability_score_thresh=0.92,
        output_mode='uncompressed_rle')
    params.update(kwargs)
    stock = SamAutomaticMaskGenerator(
        build_sam_model('tiny', device='cpu'), **params)
    stock.predictor = gen.predictor
    return stock


def assert_same_as_stock(ours, stock):
    assert len(ours) == len(stock)
    for a, b in zip(ours, stock):
        assert a['segmentation'] == b['segmentation']
        assert a['predicted_iou'] == b['predicted_iou']
        assert a['stability_score'] == b['stability_score']
        assert a['bbox'] == b['bbox']
        assert a['point_coords'] == b['point_coords']
        assert a['crop_box'] == b['crop_box']


IMG64 = np.zeros((64, 64, 3), np.uint8)

# ----------------------------------------------------------------------
# Changes off == upstream
# ----------------------------------------------------------------------


@pytest.mark.parametrize('seed', [0, 4])
def test_changes_off_equals_stock_on_tiny_sam(seed):
    params = STOCK_AMG_PARAMS
    ours = SAMQuasiSuperpixelGenerator(
        model_type='tiny', seed=seed, device='cpu', **params, **OFF)
    stock = SamAutomaticMaskGenerator(
        ours.predictor.model, output_mode='uncompressed_rle', **params)
    img = shapes_image()
    a, b = ours.generate(img), stock.generate(img)
    assert len(a) >= 3  # not a vacuous comparison
    assert_same_as_stock(a, b)


def structured_fn(points, size):
    """Discs around each prompt; radius and IoU vary with the prompt."""
    x, y = points[:, 0], points[:, 1]
    phase = torch.sin(0.11 * x + 0.07 * y)[:, None]
    base = torch.tensor([4.0, 9.0, 16.0])[None]
    radii = base * (1 + 0.4 * phase)
    ious = 0.86 + 0.1 * torch.sin(0.13 * x[:, None] + 0.05 * y[:, None] +
                                  torch.arange(3)[None])
    centres = points[:, None, :].expand(-1, 3, 2)
    return discs(points, size, centres, radii, ious, sharp=3.0)


def test_changes_off_equals_stock_structured_masks():
    params = dict(
        points_per_side=6,
        points_per_batch=7,
        pred_iou_thresh=0.86,
        stability_score_thresh=0.5,
        stability_score_offset=1.0,
        box_nms_thresh=0.7,
        crop_n_layers=1,
        crop_nms_thresh=0.7,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=10)
    ours = fake_generator(structured_fn, **params, **OFF)
    stock = stock_like(ours, **params)
    img = np.zeros((90, 120, 3), np.uint8)
    a, b = ours.generate(img), stock.generate(img)
    assert len(a) >= 10
    assert len({x['level'] for x in a}) == 3
    assert_same_as_stock(a, b)
    # with the changes on the result differs on the same predictions
    on = fake_generator(structured_fn, **params)
    assert [x['segmentation'] for x in on.generate(img)] != \
        [x['segmentation'] for x in a]


# ----------------------------------------------------------------------
# The three changes
# ----------------------------------------------------------------------


def test_whole_threshold_offset_and_levels():
    # radii 4.5 / 10.5 / 20.5 (half-integer: stable discs); IoUs 0.9/0.8/0.8
    fn = one_point((4.5, 10.5, 20.5), (0.9, 0.8, 0.8))
    gen = fake_generator(fn, t_r=None)
    rec = gen.generate_record(IMG64)
    # the whole passes (0.8 + 0.1 > 0.86), the part does not
    assert sorted(rec.levels.tolist()) == [0, 2]
    areas = dict(zip(rec.levels.tolist(), rec.areas().tolist()))
    assert abs(areas[2] - np.pi * 20.5**2) < 60  # level 2 is the r=20.5
    assert abs(areas[0] - np.pi * 4.5**2) < 15
    np.testing.assert_allclose(
        sorted(rec.predicted_iou.tolist()), [0.8, 0.9], rtol=1e-6)
    # upstream drops the whole
    stock = stock_like(gen, points_per_side=1, min_mask_region_area=0)
    assert len(stock.generate(IMG64)) == 1
    # a whole below 0.76 is dropped
    gen = fake_generator(
        one_point((4.5, 10.5, 20.5), (0.9, 0.8, 0.75)), t_r=None)
    assert gen.generate_record(IMG64).levels.tolist() == [0]


def test_stability_score_bias_per_level():
    # the part's logits are shallow: stability ~ (9.5 / 11.5)^2 ~ 0.68
    sharp = one_point((4.5, 10.5, 20.5), (0.9, 0.9, 0.9))

    def fn(points, size):
        logits, ious = sharp(points, size)
        logits[:, 1] /= 100.0
        return logits, ious

    gen = fake_generator(fn, t_r=None)
    assert sorted(gen.generate_record(IMG64).levels.tolist()) == [0, 2]
    gen = fake_generator(fn, t_r=None, stability_score_bias=(0, 0.3, 0))
    rec = gen.generate_record(IMG64)
    assert sorted(rec.levels.tolist()) == [0, 1, 2]
    # the stored stability score is SAM's own, without the bias
    part_stab = float(rec.stability_score[rec.levels == 1][0])
    assert part_stab < 0.8
    # the stability threshold is inclusive (>=), as upstream
    gen = fake_generator(fn, t_r=None, stability_score_thresh=part_stab)
    assert sorted(gen.generate_record(IMG64).levels.tolist()) == [0, 1, 2]


def test_nms_priority_whole_beats_higher_iou_part():
    # part r=20.5 (IoU 0.95), whole r=22.5 (IoU 0.9): box IoU ~0.83 > 0.7
    fn = one_point((4.5, 20.5, 22.5), (0.9, 0.95, 0.9))
    gen = fake_generator(fn, t_r=None)
    assert sorted(gen.generate_record(IMG64).levels.tolist()) == [0, 2]
    stock = stock_like(gen, points_per_side=1, min_mask_region_area=0)
    anns = stock.generate(IMG64)
    assert sorted(round(a['predicted_iou'], 4) for a in anns) == [0.9, 0.95]
    assert max(a['area'] for a in anns) < np.pi * 21.5**2  # the part won


def test_nms_among_wholes_raw_iou_decides():
    # two prompts, same whole disc; the prompt at x < 32 predicts 0.85
    def fn(points, size):
        b = len(points)
        cs = torch.tensor([32.0, 32.0], dtype=torch.float64).expand(b, 3, 2)
        ious = torch.where(points[:, :1] < 32, 0.85, 0.8).expand(b, 3)
        ious = ious * torch.tensor([0.0, 0.0, 1.0])  # only wholes pass
        return discs(points, size, cs, [(4.5, 10.5, 20.5)] * b, ious)

    grid = [np.array([[0.25, 0.5], [0.75, 0.5]])]
    gen = fake_generator(fn, point_grids=grid, t_r=None)
    anns = gen.generate(IMG64)
    assert len(anns) == 1 and anns[0]['level'] == 2
    assert anns[0]['point_coords'][0][0] == 16.0
    np.testing.assert_allclose(anns[0]['predicted_iou'], 0.85, rtol=1e-6)


def test_level_filter_applied_after_postprocessing():
    # prompt A (x=16): whole r=10.5 and sub-part r=3.5 inside it;
    # prompt B (x=48): only its sub-part passes, nothing covers it.
    fn, grid = two_prompt_discs, TWO_PROMPT_GRID
    gen = fake_generator(
        fn, point_grids=grid, t_r=None, min_mask_region_area=5)
    rec = gen.generate_record(IMG64)
    assert sorted(rec.levels.tolist()) == [0, 0, 2]
    gen = fake_generator(fn, point_grids=grid, min_mask_region_area=5)
    rec = gen.generate_record(IMG64)
    assert rec.levels.tolist() == [2, 0]  # wholes first
    boxes = rec.bbox
    assert boxes[1][0] > 32  # the kept sub-part is B's
    # fields stay aligned with the masks
    dense = rec.dense()
    for i in range(len(rec)):
        ys, xs = np.nonzero(dense[i])
        x0, y0 = xs.min(), ys.min()
        np.testing.assert_array_equal(
            boxes[i],
            [x0, y0, xs.max() - x0, ys.max() - y0])


def test_prompts_decoded_in_batches_one_embedding_per_crop():
    gen = fake_generator(
        structured_fn, points_per_side=6, points_per_batch=10, crop_n_layers=1)
    gen.generate_record(np.zeros((90, 120, 3), np.uint8))
    pred = gen.predictor
    assert pred.set_image_calls == 5  # the image + 2x2 crops
    # 36 prompts on the image, 9 per crop
    assert pred.predict_calls == [10, 10, 10, 6] + [9] * 4


# ----------------------------------------------------------------------
# Record, fingerprint, building
# ----------------------------------------------------------------------


def test_fingerprint_depends_on_config_not_speed_options():
    base = dict(model_type='tiny', points_per_side=4, device='cpu')

    def fingerprint(extra):
        return SAMQuasiSuperpixelGenerator(**dict(base, **extra)).fingerprint

    fp = SAMQuasiSuperpixelGenerator(**base).fingerprint
    assert fp.startswith('tiny-')
    assert SAMQuasiSuperpixelGenerator(**base).fingerprint == fp
    same = [
        dict(points_per_batch=7),
        dict(filter_chunk_size=3),
    ]
    for extra in same:
        assert fingerprint(extra) == fp
    other = [
        dict(t_r=0.4),
        dict(t_r=None),
        dict(score_thresh_offset=(0, 0, 0)),
        dict(score_nms_offset=(0, 0, 0.5)),
        dict(stability_score_bias=(0, 0.1, 0)),
        dict(pred_iou_thresh=0.88),
        dict(points_per_side=5),
        dict(min_mask_region_area=0),
        dict(seed=1),
    ]
    fps = {fingerprint(extra) for extra in other}
    assert fp not in fps and len(fps) == len(other)


def test_checkpoint_loading_and_identity(tmp_path):
    ref = build_sam_model('tiny', seed=0, device='cpu')
    ckpt = str(tmp_path / 'sam_tiny.pth')
    torch.save(ref.state_dict(), ckpt)
    gen = SAMQuasiSuperpixelGenerator(
        model_type='tiny', checkpoint=ckpt, seed=1, points_per_side=4)
    for k, v in ref.state_dict().items():
        assert torch.equal(gen.predictor.model.state_dict()[k], v), k
    fp = gen.fingerprint
    # another file content -> another fingerprint
    state = ref.state_dict()
    state['mask_decoder.iou_token.weight'] += 1
    torch.save(state, ckpt)
    gen2 = SAMQuasiSuperpixelGenerator(
        model_type='tiny', checkpoint=ckpt, points_per_side=4)
    assert gen2.fingerprint != fp
    # a checkpoint of another architecture
    bad = str(tmp_path / 'bad.pth')
    torch.save({'image_encoder.foo': torch.zeros(1)}, bad)
    with pytest.raises(RuntimeError, match='does not fit'):
        build_sam_model('tiny', checkpoint=bad)


def test_build_errors(tmp_path):
    missing = str(tmp_path / 'sam_vit_b_01ec64.pth')
    with pytest.raises(FileNotFoundError) as err:
        build_sam_model('vit_b', checkpoint=missing)
    assert missing in str(err.value)
    assert SAM_CHECKPOINT_URLS['vit_b'] in str(err.value)
    with pytest.raises(ValueError, match='checkpoint is required'):
        build_sam_model('vit_h')
    with pytest.raises(KeyError, match='vit_x'):
        build_sam_model('vit_x')
    with pytest.raises(ValueError, match='3 values'):
        SAMQuasiSuperpixelGenerator(model_type='tiny', score_nms_offset=(0, 1))
    gen = SAMQuasiSuperpixelGenerator(model_type='tiny', points_per_side=2)
    with pytest.raises(ValueError, match='HWC uint8 RGB'):
        gen.generate_record(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match='HWC uint8 RGB'):
        gen.generate_record(np.zeros((8, 8, 3), np.float32))


def test_tiny_config_on_voc_image(repo_root, voc_mini_root, tmp_path):
    cfg = Config.fromfile(osp.join(repo_root, 'configs/sams/sam_tiny.py'))
    cfg.sam_generator.update(points_per_side=8, device='cpu')
    gen = MODELS.build(cfg.sam_generator)
    assert isinstance(gen, SAMQuasiSuperpixelGenerator)
    img = mmcv.imread(
        osp.join(voc_mini_root, 'JPEGImages', '2007_000032.jpg'),
        channel_order='rgb')
    start = time.perf_counter()
    rec = gen.generate_record(img)
    assert time.perf_counter() - start < 10
    assert isinstance(rec, SAMMaskRecord)
    assert rec.image_size == img.shape[:2] and len(rec) >= 1
    assert rec.fingerprint == gen.fingerprint
    n = len(rec)
    assert rec.levels.shape == rec.predicted_iou.shape == (n, )
    assert rec.bbox.shape == (n, 4) and rec.dense().shape == (n, 281, 500)
    path = str(tmp_path / 'x.npz')
    save_masks(path, rec)
    back = load_masks(path, gen.fingerprint, img.shape[:2])
    np.testing.assert_array_equal(back.dense(), rec.dense())
    with pytest.raises(MaskCacheError, match='another SAM config'):
        load_masks(
            path,
            SAMQuasiSuperpixelGenerator(
                model_type='tiny', points_per_side=8, t_r=0.5).fingerprint)
