"""SAMSTTAModel / CRFTTAModel: merging, SAMS re-labelling, mask sources,
errors, and ``tools/test.py CFG CKPT --tta`` on the bundled VOC images."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image
from torch import nn

from mmwsss.datasets import label_components
from mmwsss.functional import sams_seed
from mmwsss.io import (load_masks, mask_cache_path, MaskCacheError,
                       SAMMaskRecord, save_masks)
from mmwsss.models.sams import CRFTTAModel, SAMSTTAModel
from mmwsss.functional.sams import (mask_runs_from_rle,
                                        sams_seed_from_record)

H, W = 20, 30


class FakeSegmentor(nn.Module):
    """Enough of a segmentor for BaseTTAModel (merge_preds is tested)."""
    out_channels = 3

    def test_step(self, data):
        return data['data_samples']


def _image(tmp_path):
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = (30, 30, 30)
    img[:, :15] = (230, 40, 40)  # left half red
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img[..., ::-1])
    return path


def _samples(img_path, logits_list):
    out = []
    for logits in logits_list:
        s = SegDataSample(metainfo=dict(img_path=img_path, ori_shape=(H, W)))
        s.seg_logits = PixelData(data=torch.as_tensor(logits))
        out.append(s)
    return out


def _logits(seed=0):
    """3 classes (bg, c1, c2): c1 on the left half, noisy."""
    g = torch.Generator().manual_seed(seed)
    lg = torch.randn(3, H, W, generator=g)
    lg[1, :, :15] += 3
    lg[0, :, 15:] += 3
    return lg


def _masks():
    """Whole left half (2), whole right half minus a 2-column gap (2),
    a part on the left (1)."""
    m = np.zeros((3, H, W), bool)
    m[0, :, :15] = True
    m[1, :, 17:] = True
    m[2, :10, :8] = True
    return m, [2, 2, 1]


def _write_cache(mask_dir, img_path, fingerprint=''):
    masks, levels = _masks()
    save_masks(
        mask_cache_path(mask_dir, img_path),
        SAMMaskRecord.from_dense(masks, levels, fingerprint=fingerprint))


def test_merge_and_relabel_whole_masks(tmp_path):
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'masks')
    _write_cache(mask_dir, img)
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir)
    aug = [_logits(0), _logits(1)]
    out = tta.merge_preds([_samples(img, aug)])[0]
    probs = (aug[0].softmax(0) + aug[1].softmax(0)) / 2
    torch.testing.assert_close(out.seg_logits.data, probs)
    pred = out.pred_sem_seg.data[0]
    assert pred.shape == (H, W) and pred.dtype == torch.int64
    plain = probs.argmax(0)
    assert len(plain[:, :15].unique()) > 1  # noisy before
    assert torch.all(pred[:, :15] == 1)  # whole left mask -> c1
    assert torch.all(pred[:, 17:] == 0)  # whole right mask -> bg
    # uncovered gap (columns 15, 16) keeps the merged argmax
    assert torch.equal(pred[:, 15:17], plain[:, 15:17])
    # the reference rule instead: uncovered -> background
    tta_bg = SAMSTTAModel(
        FakeSegmentor(), mask_dir=mask_dir, uncovered='background')
    out = tta_bg.merge_preds([_samples(img, aug)])[0]
    assert torch.all(out.pred_sem_seg.data[0][:, 15:17] == 0)


def test_prob_scoring_is_the_alpha_bg_mask_vote(tmp_path):
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'masks')
    _write_cache(mask_dir, img)
    masks, levels = _masks()
    # c2 present at a few pixels of the right half only
    lg = torch.zeros(3, H, W)
    lg[1, :, :15] = 2
    lg[0, :, 15:] = 1
    lg[2, :3, 20:] = 3
    probs = lg.softmax(0)
    for alpha in (1.0, 3.0):
        tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, alpha=alpha,
                           uncovered='background')
        pred = tta.merge_preds([_samples(img, [lg])])[0].pred_sem_seg.data[0]
        # the mask means, by hand: [bg**alpha, c1, c2] per mask
        m = torch.as_tensor(masks[1])
        means = probs[:, m].mean(1)
        scores = torch.stack([means[0]**alpha, means[1], means[2]])
        want = int(scores.argmax())
        assert torch.all(pred[:, 17:] == want)
    # a larger alpha lowers the background score: more foreground
    fg = []
    for alpha in (0.5, 1.0, 4.0, 16.0):
        tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, alpha=alpha)
        pred = tta.merge_preds([_samples(img, [lg])])[0].pred_sem_seg.data[0]
        fg.append(int((pred > 0).sum()))
    assert fg == sorted(fg) and fg[-1] > fg[0]


def test_eq8_scoring_matches_sams_seed(tmp_path):
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'masks')
    _write_cache(mask_dir, img)
    masks, levels = _masks()
    aug = [_logits(2)]
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, alpha=0.7,
                       scoring='eq8', uncovered='background')
    pred = tta.merge_preds([_samples(img, aug)])[0].pred_sem_seg.data[0]
    probs = aug[0].softmax(0)
    present = probs.argmax(0).unique()
    present = present[present != 0]
    want = sams_seed(probs[present], masks, levels, present, alpha=0.7)
    seed = want.seed.long()
    assert torch.equal(pred, torch.where(seed == 0, 0, seed - 1))


def test_present_classes_and_no_background(tmp_path):
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'masks')
    _write_cache(mask_dir, img)
    lg = torch.zeros(3, H, W)
    lg[1] = 1  # argmax: class 1 everywhere; class 2 never
    lg[2, :, 17:] = 0.9
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir)
    assert tta.present(lg.argmax(0), 3).tolist() == [1]
    pred = tta.merge_preds([_samples(img, [lg])])[0].pred_sem_seg.data[0]
    assert set(pred.unique().tolist()) <= {0, 1}
    # a dataset without background: every channel is a class
    nobg = SAMSTTAModel(
        FakeSegmentor(), mask_dir=mask_dir, background_index=None,
        present_classes='all')
    pred = nobg.merge_preds([_samples(img, [lg])])[0].pred_sem_seg.data[0]
    assert torch.all(pred[:, :15] == 1) and torch.all(pred[:, 17:] == 1)
    lg[2, :, 17:] = 1.5
    pred = nobg.merge_preds([_samples(img, [lg])])[0].pred_sem_seg.data[0]
    assert torch.all(pred[:, 17:] == 2)


@pytest.mark.parametrize('cfg', [
    dict(),
    dict(alpha=2.0, uncovered='background'),
    dict(alpha=0.7, scoring='eq8'),
    dict(background_index=None, present_classes='all'),
])
def test_refine_equals_sams_seed_from_record(tmp_path, cfg):
    """refine is sams_seed_from_record on the cached record (and the same
    as SAMS over the record's mask runs built by hand)."""
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'masks')
    _write_cache(mask_dir, img)
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, **cfg)
    probs = _logits(3).softmax(0)
    pred = probs.argmax(0)
    ds = _samples(img, [_logits(3)])[0]
    refined = tta.refine(probs, pred, ds)
    record = load_masks(mask_cache_path(mask_dir, img))
    present = tta.present(pred, probs.shape[0])
    bg = cfg.get('background_index', 0)
    if cfg.get('scoring') == 'eq8':
        maps, opts = probs[present], dict(alpha=0.7)
    elif bg is None:
        maps, opts = probs[present], dict(
            norm_first='no_norm', bg_method={'method': 'no_bg'})
    else:
        maps = probs[torch.cat([present.new_tensor([bg]), present])]
        opts = dict(norm_first='no_norm',
                    bg_method={'method': 'alpha_bg',
                               'alpha': cfg.get('alpha', 1.0)})
    res = sams_seed_from_record(maps, record, present, **opts)
    runs = mask_runs_from_rle(record.counts, record.offsets,
                              record.image_size)
    by_hand = sams_seed(maps, runs,
                        torch.as_tensor(np.asarray(record.levels, np.int64)),
                        present, **opts)
    assert torch.equal(res.seed, by_hand.seed)
    assert torch.equal(res.mask_map, by_hand.mask_map)
    seed = res.seed.long()
    want = seed - 1
    if bg is not None:
        want = torch.where(seed == 0, torch.full_like(seed, bg), want)
    if cfg.get('uncovered', 'pred') == 'pred':
        want = torch.where(res.mask_map >= 0, want, pred)
    assert refined.dtype == torch.int64
    assert torch.equal(refined, want)


def test_mask_cache_errors(tmp_path):
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'masks')
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir)
    with pytest.raises(MaskCacheError, match='gen_sam_masks.py') as err:
        tta.merge_preds([_samples(img, [_logits()])])
    assert 'tta_model.mask_dir' in str(err.value)
    _write_cache(mask_dir, img, fingerprint='vit_h-abc')
    strict = SAMSTTAModel(
        FakeSegmentor(), mask_dir=mask_dir, fingerprint='vit_b-xyz')
    with pytest.raises(MaskCacheError, match='fingerprint'):
        strict.merge_preds([_samples(img, [_logits()])])
    ok = SAMSTTAModel(
        FakeSegmentor(), mask_dir=mask_dir, fingerprint='vit_h-abc')
    ok.merge_preds([_samples(img, [_logits()])])
    # another image size than the prediction
    other = SegDataSample(metainfo=dict(img_path=img, ori_shape=(H + 1, W)))
    other.seg_logits = PixelData(data=torch.randn(3, H + 1, W))
    with pytest.raises(MaskCacheError, match='size'):
        ok.merge_preds([[other]])


def test_config_errors():
    with pytest.raises(ValueError, match='mask_dir'):
        SAMSTTAModel(FakeSegmentor())
    with pytest.raises(ValueError, match='scoring'):
        SAMSTTAModel(FakeSegmentor(), mask_dir='x', scoring='nope')
    with pytest.raises(ValueError, match='uncovered'):
        SAMSTTAModel(FakeSegmentor(), mask_dir='x', uncovered='nope')
    with pytest.raises(ValueError, match='background_index=None'):
        SAMSTTAModel(FakeSegmentor(), mask_dir='x', scoring='eq8',
                     background_index=None)
    with pytest.raises(ValueError, match='present_classes'):
        SAMSTTAModel(FakeSegmentor(), mask_dir='x', present_classes='x')
    one = FakeSegmentor()
    one.out_channels = 1
    tta = SAMSTTAModel(one, mask_dir='x')
    s = SegDataSample(metainfo=dict(img_path='a.png', ori_shape=(H, W)))
    s.seg_logits = PixelData(data=torch.randn(1, H, W))
    with pytest.raises(ValueError, match='sigmoid'):
        tta.merge_preds([[s]])


@MODELS.register_module(force=True)
class _TestHalvesGenerator:
    """Stands in for SAMQuasiSuperpixelGenerator: two whole halves."""
    calls = 0

    def __init__(self, fingerprint: str = 'fake-1'):
        self.fingerprint = fingerprint

    def generate_record(self, image):
        type(self).calls += 1
        assert image.dtype == np.uint8 and image.shape[2] == 3
        # the image is RGB: red left half
        assert image[0, 0].tolist() == [230, 40, 40]
        h, w = image.shape[:2]
        m = np.zeros((2, h, w), bool)
        m[0, :, :w // 2] = True
        m[1, :, w // 2:] = True
        return SAMMaskRecord.from_dense(
            m, [2, 2], fingerprint=self.fingerprint)


def test_generator_on_the_fly_and_cache_through(tmp_path):
    img = _image(tmp_path)
    gen = dict(type='_TestHalvesGenerator')
    _TestHalvesGenerator.calls = 0
    tta = SAMSTTAModel(FakeSegmentor(), sam_generator=gen)
    pred = tta.merge_preds([_samples(img, [_logits()])])[0]
    pred = pred.pred_sem_seg.data[0]
    assert torch.all(pred[:, :15] == 1) and torch.all(pred[:, 15:] == 0)
    assert _TestHalvesGenerator.calls == 1
    # with a mask_dir: generate once, write, then read back
    mask_dir = str(tmp_path / 'cache')
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, sam_generator=gen)
    for _ in range(2):
        tta.merge_preds([_samples(img, [_logits()])])
    assert _TestHalvesGenerator.calls == 2
    record = load_masks(mask_cache_path(mask_dir, img), 'fake-1', (H, W))
    assert len(record) == 2


def test_cache_of_another_generator_is_refused(tmp_path):
    """Issue 12: with sam_generator B and a mask_dir made by generator A,
    A's masks were used without a word; the cache is now always checked
    against the configured generator's fingerprint."""
    img = _image(tmp_path)
    mask_dir = str(tmp_path / 'cache')
    gen_a = dict(type='_TestHalvesGenerator', fingerprint='sam-A')
    SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir,
                 sam_generator=gen_a).merge_preds([_samples(img, [_logits()])])
    gen_b = dict(type='_TestHalvesGenerator', fingerprint='sam-B')
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, sam_generator=gen_b)
    with pytest.raises(MaskCacheError) as err:
        tta.merge_preds([_samples(img, [_logits()])])
    msg = str(err.value)
    assert "'sam-A'" in msg and "'sam-B'" in msg and mask_dir in msg, msg
    assert load_masks(mask_cache_path(mask_dir, img)).fingerprint == 'sam-A'
    # an explicit fingerprint that contradicts the generator is a config error
    both = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir,
                        sam_generator=gen_b, fingerprint='sam-A')
    with pytest.raises(ValueError, match="tta_model.fingerprint='sam-A'"):
        both.merge_preds([_samples(img, [_logits()])])


def test_real_tiny_sam_generator(tmp_path):
    """The other engineer's generator class, tiny random SAM: contract."""
    img = _image(tmp_path)
    gen = dict(
        type='SAMQuasiSuperpixelGenerator', model_type='tiny', seed=0,
        device='cpu', points_per_side=4, points_per_batch=16,
        crop_n_layers=0, pred_iou_thresh=0.0, stability_score_thresh=0.5,
        stability_score_offset=0.01, min_mask_region_area=0)
    mask_dir = str(tmp_path / 'cache')
    tta = SAMSTTAModel(FakeSegmentor(), mask_dir=mask_dir, sam_generator=gen)
    out = tta.merge_preds([_samples(img, [_logits()])])[0]
    assert out.pred_sem_seg.data.shape == (1, H, W)
    record = load_masks(mask_cache_path(mask_dir, img),
                        tta.generator.fingerprint, (H, W))
    assert record.fingerprint.startswith('tiny-')


def test_crf_tta_follows_colour_edges(tmp_path):
    img = _image(tmp_path)
    lg = torch.zeros(3, H, W)
    lg[1, :, :12] = 2  # c1 blob stops short of the red edge (col 15)
    lg[0, :, 12:] = 1
    lg[1, :, 12:15] = 0.9  # uncertain band: bg 1.0 vs c1 0.9
    tta = CRFTTAModel(FakeSegmentor())
    out = tta.merge_preds([_samples(img, [lg])])[0]
    pred = out.pred_sem_seg.data[0]
    plain = lg.softmax(0).argmax(0)
    assert torch.all(plain[:, 12:15] == 0)
    assert torch.all(pred[:, :15] == 1) and torch.all(pred[:, 15:] == 0)
    torch.testing.assert_close(out.seg_logits.data, lg.softmax(0))
    # a single present channel: nothing to refine
    only_bg = torch.zeros(3, H, W)
    only_bg[0] = 5
    out = tta.merge_preds([_samples(img, [only_bg])])[0]
    assert torch.all(out.pred_sem_seg.data == 0)


# ---------------------------------------------------------------------------
# tools/test.py --tta on data/voc_mini
# ---------------------------------------------------------------------------
TINY_CFG = 'configs/sams_tta/fcn_r18-tiny_voc-mini_sams-tta.py'


def _gt_masks(voc_root, stem):
    """Quasi-superpixels from the GT: a whole per connected component of
    each label, a part (top half) of each component, a sub-part cell."""
    gt = np.asarray(Image.open(
        osp.join(voc_root, 'SegmentationClass', stem + '.png')))
    masks, levels = [], []
    for m in label_components(gt, 20):
        masks.append(m)
        levels.append(2)
        rows = np.nonzero(m.any(1))[0]
        top = m.copy()
        top[(rows.min() + rows.max()) // 2:] = False
        masks.append(top)
        levels.append(1)
    cell = np.zeros(gt.shape, bool)
    cell[:gt.shape[0] // 5, :gt.shape[1] // 5] = True
    masks.append(cell)
    levels.append(0)
    return gt, np.stack(masks), levels


def test_tools_test_tta_subprocess(tmp_path, repo_root, voc_mini_root):
    """``python tools/test.py CFG CKPT --tta`` with cached SAMS masks."""
    stems = open(osp.join(voc_mini_root, 'ImageSets/Segmentation/val.txt')
                 ).read().split()
    mask_dir = str(tmp_path / 'sam_masks')
    wholes = {}
    for stem in stems:
        gt, masks, levels = _gt_masks(voc_mini_root, stem)
        save_masks(
            mask_cache_path(mask_dir, stem + '.jpg'),
            SAMMaskRecord.from_dense(masks, levels))
        wholes[stem] = masks[np.asarray(levels) == 2]
    cfg_path = osp.join(repo_root, TINY_CFG)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    with torch.no_grad():  # a random model whose labels vary per pixel
        model.decode_head.conv_seg.weight.mul_(300)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    # its plain prediction is not constant on the whole masks
    model.eval()
    img = cv2.imread(osp.join(voc_mini_root, 'JPEGImages', stems[0] +
                              '.jpg'))
    with torch.no_grad():
        x = model.data_preprocessor(
            {'inputs': [torch.as_tensor(img).permute(2, 0, 1)]})['inputs']
        plain = model.encode_decode(x, [dict(img_shape=img.shape[:2])])
    plain = torch.nn.functional.interpolate(
        plain, img.shape[:2], mode='bilinear').argmax(1)[0].numpy()
    assert max(len(np.unique(plain[m])) for m in wholes[stems[0]]) > 1
    out_dir = str(tmp_path / 'preds')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=repo_root)
    proc = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'test.py'), cfg_path,
         ckpt, '--tta', '--work-dir', str(tmp_path / 'work'), '--out',
         out_dir, '--cfg-options', f'tta_model.mask_dir={mask_dir}'],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'mIoU' in log, log[-2000:]
    for stem in stems:
        pred = np.asarray(Image.open(osp.join(out_dir, stem + '.png')))
        assert pred.shape == wholes[stem].shape[1:]
        assert pred.max() <= 20
        # SAMS: every whole quasi-superpixel carries a single label
        for m in wholes[stem]:
            assert len(np.unique(pred[m])) == 1, stem


def test_example_configs(repo_root):
    """configs/sams_tta: SAMS / CRF / on-the-fly variants of a stock mmseg
    config parse, keep the mmseg model and TTA pipeline, and build."""
    folder = osp.join(repo_root, 'configs', 'sams_tta')
    sams = Config.fromfile(
        osp.join(folder, 'deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_'
                 'sams-tta.py'))
    assert sams.custom_imports['imports'] == ['mmwsss.registration']
    assert sams.model.decode_head.type == 'DepthwiseSeparableASPPHead'
    assert [t['scale_factor'] for t in sams.tta_pipeline[1].transforms[0]
            ] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert sams.tta_model.type == 'SAMSTTAModel'
    assert sams.tta_model.mask_dir == 'work_dirs/sam_masks/voc'
    crf = Config.fromfile(
        osp.join(folder, 'deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_'
                 'crf-tta.py'))
    assert crf.tta_model.type == 'CRFTTAModel'
    assert 'mask_dir' not in crf.tta_model
    online = Config.fromfile(
        osp.join(folder, 'deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_'
                 'sams-tta-online.py'))
    assert online.tta_model.sam_generator.type == \
        'SAMQuasiSuperpixelGenerator'
    assert online.tta_model.alpha == sams.tta_model.alpha
    # each tta_model builds around a (tiny) module, as test.py --tta does
    for cfg in (sams, crf, online):
        tta = dict(cfg.tta_model, module=FakeSegmentor())
        model = MODELS.build(tta)
        assert type(model).__name__ == cfg.tta_model.type
    tiny = Config.fromfile(osp.join(repo_root, TINY_CFG))
    assert tiny.tta_model.type == 'SAMSTTAModel'
