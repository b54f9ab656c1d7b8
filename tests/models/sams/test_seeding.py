"""SAMS seeding: hand-computed cases and a literal re-implementation of the
reference ``gather_norm_bg_argmax`` (reference_behaviour.md section 1.1)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmwsss.io.mask_cache import SAMMaskRecord
from mmwsss.functional.sams import (gather_mask_means, interval_max,
                                        mask_runs, mask_runs_from_rle,
                                        paint_masks, priority_rank,
                                        sams_seed, sams_seed_from_record)

EPS = 1e-7


# ---------------------------------------------------------------------------
# test oracle: the reference, literally (loops, float64, Python sorted)
# ---------------------------------------------------------------------------
def _nd(x):
    """min_max_norm over a 1-D / 2-D array with thresh 0, eps 1e-7."""
    x = np.maximum(x, 0)
    return (x - x.min()) / (x.max() - x.min() + EPS)


def oracle(cam, masks, levels, fg_cls, bg_method, norm_first=True):
    cam = np.asarray(cam, np.float64)
    masks = np.asarray(masks, bool)
    p, s = cam.shape[0], masks.shape[0]
    if norm_first is True:
        a = np.maximum(cam, 0)
    elif norm_first == 'double_norm':
        a = np.stack([_nd(c) for c in cam]) if p else cam
    else:  # False / 'no_norm'
        a = cam
    g = np.zeros((p, s))
    for j in range(p):
        for i in range(s):
            g[j, i] = a[j][masks[i]].sum() / masks[i].sum()
    if norm_first in (True, False, 'double_norm'):
        sc = np.stack([_nd(g[j]) for j in range(p)]) if p else g
    else:
        sc = g
    if bg_method['method'] == 'pow':
        top = sc.max(axis=0) if p else np.zeros(s)
        scores = np.concatenate([((1 - top)**bg_method['pow'])[None], sc])
    else:  # alpha_bg
        scores = sc.copy()
        scores[0] = scores[0]**bg_method['alpha']
    labels, conf = [], []
    for i in range(s):
        col = list(scores[:, i])
        idx = col.index(max(col))  # first maximum
        labels.append(0 if idx == 0 else int(fg_cls[idx - 1]) + 1)
        conf.append(col[idx])
    order = sorted(range(s), key=lambda i: (int(levels[i]), conf[i]))
    seed = np.zeros(masks.shape[1:], np.uint8)
    for i in order:
        seed[masks[i]] = labels[i]
    return seed, scores.T, np.array(labels), np.array(conf)


def random_case(rng, h=24, w=32, s=12, p=3, cam_hw=(6, 8)):
    masks = np.zeros((s, h, w), bool)
    for i in range(s):
        y0, x0 = rng.integers(0, h - 4), rng.integers(0, w - 4)
        masks[i, y0:y0 + rng.integers(2, h), x0:x0 + rng.integers(2, w)] = 1
    levels = rng.integers(0, 3, s)
    cam = rng.normal(0.3, 0.5, (p, ) + cam_hw).astype(np.float32)
    fg_cls = rng.choice(20, p, replace=False)
    return cam, masks, levels, fg_cls


def resized(cam, size):
    return F.interpolate(
        torch.as_tensor(cam)[None], size, mode='bilinear',
        align_corners=False)[0]


# ---------------------------------------------------------------------------
# against the oracle
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('norm_first', [True, False, 'double_norm'])
@pytest.mark.parametrize('alpha', [0.6, 1.0])
def test_matches_oracle_float64(norm_first, alpha):
    rng = np.random.default_rng(0)
    for _ in range(5):
        cam, masks, levels, fg_cls = random_case(rng)
        cam64 = resized(cam.astype(np.float64), masks.shape[1:])
        want = oracle(cam64.numpy(), masks, levels, fg_cls,
                      {'method': 'pow', 'pow': alpha}, norm_first)
        got = sams_seed(cam64, masks, levels, fg_cls, alpha=alpha,
                        norm_first=norm_first)
        assert got.seed.dtype == torch.uint8
        np.testing.assert_array_equal(got.seed.numpy(), want[0])
        np.testing.assert_allclose(got.scores.numpy(), want[1], atol=1e-12)
        np.testing.assert_array_equal(got.labels.numpy(), want[2])
        np.testing.assert_allclose(got.conf.numpy(), want[3], atol=1e-12)


def test_matches_oracle_float32_with_resize():
    """Float32 maps at CAM resolution: resized inside, seeds exact."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        cam, masks, levels, fg_cls = random_case(rng, s=20)
        ref_cam = resized(cam, masks.shape[1:])  # float32, as the reference
        want = oracle(ref_cam.numpy(), masks, levels, fg_cls,
                      {'method': 'pow', 'pow': 0.7})
        got = sams_seed(cam, masks, levels, fg_cls, alpha=0.7)
        assert got.scores.dtype == torch.float32
        np.testing.assert_array_equal(got.seed.numpy(), want[0])
        np.testing.assert_allclose(got.scores.numpy(), want[1], atol=1e-5)
        np.testing.assert_array_equal(got.labels.numpy(), want[2])


def test_no_norm_alpha_bg_matches_oracle():
    """Probability post-processing: bg channel first, raised to alpha."""
    rng = np.random.default_rng(2)
    cam, masks, levels, fg_cls = random_case(rng, p=4)
    prob = torch.softmax(resized(cam, masks.shape[1:]).double(), 0)
    want = oracle(prob.numpy(), masks, levels, fg_cls[1:],
                  {'method': 'alpha_bg', 'alpha': 3}, 'no_norm')
    got = sams_seed(prob, masks, levels, fg_cls[1:], norm_first='no_norm',
                    bg_method={'method': 'alpha_bg', 'alpha': 3})
    np.testing.assert_array_equal(got.seed.numpy(), want[0])
    np.testing.assert_allclose(got.scores.numpy(), want[1], atol=1e-12)


def test_record_path_equals_dense_path():
    rng = np.random.default_rng(3)
    cam, masks, levels, fg_cls = random_case(rng, h=31, w=17, s=15)
    masks[3] = False
    masks[3, 0, 0] = masks[3, -1, -1] = True  # first / last pixel runs
    masks[4] = True
    masks[5, :, 3:6] = True  # a run spanning whole columns
    rec = SAMMaskRecord.from_dense(masks, levels)
    from_rle = mask_runs_from_rle(rec.counts, rec.offsets, rec.image_size)
    dense = mask_runs(masks)
    for a, b in zip(from_rle[:4], dense[:4]):
        assert torch.equal(a, b)
    assert from_rle.areas.tolist() == masks.sum((1, 2)).tolist()
    # the runs are the masks (column-major pixel x * H + y)
    h, w = masks.shape[1:]
    rebuilt = np.zeros((len(masks), w * h), bool)
    for s0, n, m in zip(*(t.tolist() for t in dense[:3])):
        rebuilt[m, s0:s0 + n] = True
    np.testing.assert_array_equal(
        rebuilt.reshape(-1, w, h).transpose(0, 2, 1), masks)
    res_dense = sams_seed(cam, masks, levels, fg_cls, alpha=0.6)
    res_rec = sams_seed_from_record(cam, rec, fg_cls, alpha=0.6)
    assert torch.equal(res_dense.seed, res_rec.seed)
    torch.testing.assert_close(res_dense.scores, res_rec.scores)


def test_interval_max_against_loop():
    rng = np.random.default_rng(4)
    for length in (1, 2, 7, 64, 1000, 1237):
        r = 60
        starts = rng.integers(0, length, r)
        ends = np.minimum(starts + rng.integers(0, length + 1, r), length)
        values = rng.integers(0, 40, r)
        want = np.full(length, -1)
        for s0, e0, v in zip(starts, ends, values):
            want[s0:e0] = np.maximum(want[s0:e0], v)
        got = interval_max(torch.as_tensor(starts), torch.as_tensor(ends),
                           torch.as_tensor(values), length)
        np.testing.assert_array_equal(got.numpy(), want)
    empty = interval_max(*(torch.zeros(0, dtype=torch.int64), ) * 3, 5)
    assert empty.tolist() == [-1] * 5


# ---------------------------------------------------------------------------
# hand-computed cases
# ---------------------------------------------------------------------------
def _masks(h, w, *regions):
    out = np.zeros((len(regions), h, w), bool)
    for i, (ys, xs) in enumerate(regions):
        out[i, ys, xs] = True
    return out


def test_background_whole_erases_foreground_part():
    # 4x4: whole (level 2) everywhere, part (1) top-left 2x2, part bottom
    # right 2x2. CAM 1 on the top-left 2x2.
    masks = _masks(4, 4, (slice(None), slice(None)),
                   (slice(0, 2), slice(0, 2)), (slice(2, 4), slice(2, 4)))
    cam = np.zeros((1, 4, 4), np.float32)
    cam[0, :2, :2] = 1
    res = sams_seed(cam, masks, [2, 1, 1], [4], alpha=1.0)
    # g = [0.25, 1, 0]; S_c = g / (1 + 1e-7); S_bg = 1 - S_c
    np.testing.assert_allclose(res.scores[:, 1].numpy(),
                               [0.25 / (1 + EPS), 1 / (1 + EPS), 0],
                               rtol=1e-6)
    np.testing.assert_allclose(res.scores[:, 0].numpy(),
                               [1 - 0.25 / (1 + EPS), 1e-7, 1], atol=1e-6)
    assert res.labels.tolist() == [0, 5, 0]
    assert res.seed.tolist() == [[0] * 4] * 4  # the whole paints last
    # without the whole, the part shows
    res2 = sams_seed(cam, masks[1:], [1, 1], [4], alpha=1.0)
    want = np.zeros((4, 4), np.uint8)
    want[:2, :2] = 5
    np.testing.assert_array_equal(res2.seed.numpy(), want)


def test_conf_orders_within_a_level():
    # 1x6: A = px 0-3, B = px 2-5, both level 1; class maps make B surer.
    masks = _masks(1, 6, (0, slice(0, 4)), (0, slice(2, 6)))
    cam = np.zeros((2, 1, 6), np.float32)
    cam[0, 0, :2] = 1  # class 0 on A only: g0 = [0.5, 0]
    cam[1, 0, 4:] = 2  # class 1 on B only: g1 = [0, 1]
    levels = [1, 1]
    res = sams_seed(cam, masks, levels, [0, 1], alpha=1.0)
    assert res.labels.tolist() == [1, 2]
    # same range-relative score for A and B, but different ranges:
    # A: .5/(.5+eps), B: 1/(1+eps) -> B higher conf, wins the overlap
    assert float(res.conf[1]) > float(res.conf[0])
    assert res.seed.tolist() == [[1, 1, 2, 2, 2, 2]]
    # raise A above B: now A wins the overlap whatever the input order
    cam[1, 0, 4:] = 1e-4  # B: 1e-4 / (1e-4 + 1e-7) = 0.999
    res = sams_seed(cam, masks, levels, [0, 1], alpha=1.0)
    assert float(res.conf[0]) > float(res.conf[1])
    assert res.seed.tolist() == [[1, 1, 1, 1, 2, 2]]


def test_ties_keep_input_order():
    masks = _masks(1, 6, (0, slice(0, 4)), (0, slice(2, 6)))
    cam = np.zeros((2, 1, 6), np.float32)
    cam[0, 0, :2] = 1
    cam[1, 0, 4:] = 1  # symmetric: equal conf for A and B
    res = sams_seed(cam, masks, [1, 1], [0, 1], alpha=1.0)
    assert float(res.conf[0]) == float(res.conf[1])
    assert res.seed.tolist() == [[1, 1, 2, 2, 2, 2]]  # B later: wins
    swapped = masks[[1, 0]]
    res = sams_seed(cam, swapped, [1, 1], [0, 1], alpha=1.0)
    assert res.seed.tolist() == [[1, 1, 1, 1, 2, 2]]  # A later: wins


def test_alpha_effect():
    # three disjoint masks with class scores 0, 0.5 and 1 (relative)
    masks = _masks(1, 3, (0, slice(0, 1)), (0, slice(1, 2)),
                   (0, slice(2, 3)))
    cam = np.array([[[0., 0.5, 1.]]], np.float32)
    low = sams_seed(cam, masks, [1, 1, 1], [2], alpha=0.6)
    high = sams_seed(cam, masks, [1, 1, 1], [2], alpha=2.0)
    # middle mask: S_c ~ 0.5; 0.5**0.6 = 0.66 > 0.5 (bg), 0.5**2 = 0.25
    assert low.seed.tolist() == [[0, 0, 3]]
    assert high.seed.tolist() == [[0, 3, 3]]
    np.testing.assert_allclose(float(low.scores[1, 0]), 0.5**0.6, rtol=1e-5)
    np.testing.assert_allclose(float(high.scores[1, 0]), 0.25, rtol=1e-5)
    rng = np.random.default_rng(5)
    cam, masks, levels, fg_cls = random_case(rng, s=25)
    fg = [int((sams_seed(cam, masks, levels, fg_cls, alpha=a).seed > 0)
              .sum()) for a in (0.3, 0.6, 1.0, 2.0, 4.0)]
    assert fg == sorted(fg) and fg[-1] > fg[0]


def test_uncovered_pixels_are_background():
    masks = _masks(2, 4, (slice(0, 2), slice(0, 2)),
                   (slice(0, 2), slice(1, 2)))
    cam = np.full((1, 2, 4), 5.0, np.float32)  # strong everywhere
    cam[0, :, 0] = 10
    res = sams_seed(cam, masks, [2, 1], [0], alpha=1.0)
    assert res.labels.tolist() == [1, 0]
    assert res.seed[:, 2:].sum() == 0
    assert res.seed.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]
    assert res.mask_map.tolist() == [[0, 0, -1, -1], [0, 0, -1, -1]]


def test_no_masks():
    cam = torch.rand(2, 3, 5)
    res = sams_seed(cam, np.zeros((0, 3, 5), bool), [], [1, 2], alpha=0.6)
    assert res.seed.shape == (3, 5) and res.seed.dtype == torch.uint8
    assert int(res.seed.sum()) == 0
    assert res.scores.shape == (0, 3)
    assert res.labels.shape == (0, ) and res.conf.shape == (0, )


def test_single_mask_is_background():
    cam = torch.rand(2, 4, 4) + 1
    res = sams_seed(cam, np.ones((1, 4, 4), bool), [2], [1, 2], alpha=0.6)
    assert res.scores.tolist() == [[1.0, 0.0, 0.0]]
    assert int(res.seed.sum()) == 0


def test_all_zero_and_constant_class_maps_score_zero():
    rng = np.random.default_rng(6)
    cam, masks, levels, _ = random_case(rng, p=3)
    cam[1] = 0  # all zero
    cam[2] = -1  # all negative
    res = sams_seed(cam, masks, levels, [3, 4, 5], alpha=0.6)
    assert res.scores[:, 2:].abs().max() == 0
    assert set(res.seed.unique().tolist()) <= {0, 4}
    # no class map at all: everything background with S_bg = 1
    res = sams_seed(np.zeros((0, 6, 8), np.float32), masks, levels, [],
                    alpha=0.6)
    assert res.scores.shape == (len(masks), 1)
    assert torch.all(res.scores == 1) and int(res.seed.sum()) == 0


def test_identical_masks_identical_scores():
    rng = np.random.default_rng(7)
    cam, masks, levels, fg_cls = random_case(rng)
    masks[5] = masks[2]
    res = sams_seed(cam, masks, levels, fg_cls, alpha=0.6)
    assert torch.equal(res.scores[5], res.scores[2])
    assert res.labels[5] == res.labels[2]


def test_class_tie_goes_to_earlier_fg_cls():
    masks = _masks(1, 4, (0, slice(0, 2)), (0, slice(2, 4)))
    cam = np.array([[[1., 1., 0., 0.]], [[1., 1., 0., 0.]]], np.float32)
    res = sams_seed(cam, masks, [1, 1], [7, 3], alpha=1.0)
    assert res.labels.tolist() == [8, 0]
    res = sams_seed(cam, masks, [1, 1], [3, 7], alpha=1.0)
    assert res.labels.tolist() == [4, 0]


def test_background_wins_exact_tie():
    # class score 0.5 exactly with alpha 1: S_bg = 1 - 0.5 = S_c
    masks = _masks(1, 3, (0, slice(0, 1)), (0, slice(1, 2)),
                   (0, slice(2, 3)))
    s = sams_seed(np.zeros((1, 1, 3), np.float32), masks, [1, 1, 1], [0],
                  bg_method={'method': 'thresh', 'thresh': 0.0})
    assert s.labels.tolist() == [0, 0, 0]  # 0 == 0: background


def test_zero_area_mask_is_robust():
    rng = np.random.default_rng(8)
    cam, masks, levels, fg_cls = random_case(rng)
    with_empty = np.concatenate([masks[:4], np.zeros_like(masks[:1]),
                                 masks[4:]])
    lv = np.concatenate([levels[:4], [2], levels[4:]])
    a = sams_seed(cam, masks, levels, fg_cls, alpha=0.6)
    b = sams_seed(cam, with_empty, lv, fg_cls, alpha=0.6)
    assert torch.isfinite(b.scores).all()
    assert b.labels[4] == 0 and float(b.conf[4]) == 0
    assert torch.equal(a.seed, b.seed)
    keep = [i for i in range(len(with_empty)) if i != 4]
    torch.testing.assert_close(b.scores[keep], a.scores)


def test_resize_path_and_image_size():
    rng = np.random.default_rng(9)
    cam, masks, levels, fg_cls = random_case(rng)
    small = sams_seed(cam, masks, levels, fg_cls, alpha=0.6,
                      image_size=masks.shape[1:])
    big = sams_seed(resized(cam, masks.shape[1:]), masks, levels, fg_cls,
                    alpha=0.6)
    assert torch.equal(small.seed, big.seed)
    torch.testing.assert_close(small.scores, big.scores)
    with pytest.raises(ValueError, match='image_size'):
        sams_seed(cam, masks, levels, fg_cls, alpha=0.6, image_size=(5, 5))


def test_paint_rank_is_max_priority():
    """scatter_reduce painting == painting masks one by one in rank order."""
    rng = np.random.default_rng(10)
    _, masks, levels, _ = random_case(rng, s=30)
    conf = torch.as_tensor(rng.random(30).round(1))  # many ties
    labels = torch.as_tensor(rng.integers(0, 21, 30))
    runs = mask_runs(masks)
    rank = priority_rank(torch.as_tensor(levels), conf, runs.areas)
    got, mask_map = paint_masks(labels, rank, runs)
    order = sorted(range(30), key=lambda i: (levels[i], float(conf[i])))
    want = np.zeros(masks.shape[1:], np.int64)
    want_idx = np.full(masks.shape[1:], -1)
    for i in order:
        want[masks[i]] = labels[i]
        want_idx[masks[i]] = i
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(mask_map.numpy(), want_idx)
    # area priority: smaller areas paint last
    rank = priority_rank(torch.as_tensor(levels), conf, runs.areas,
                         priority='area_smaller')
    order = sorted(range(30), key=lambda i: -int(masks[i].sum()))
    want[:] = 0
    for i in order:
        want[masks[i]] = labels[i]
    np.testing.assert_array_equal(
        paint_masks(labels, rank, runs)[0].numpy(), want)


def test_gather_sum_and_errors():
    masks = _masks(2, 2, (slice(0, 2), slice(0, 1)), (0, slice(0, 2)))
    maps = torch.tensor([[[1., 2.], [3., 4.]]])
    runs = mask_runs(masks)
    assert gather_mask_means(maps, runs, 'sum').tolist() == [[4., 3.]]
    assert gather_mask_means(maps, runs).tolist() == [[2., 1.5]]
    with pytest.raises(ValueError, match='gather method'):
        gather_mask_means(maps, runs, 'max')
    with pytest.raises(ValueError, match='resize the maps'):
        gather_mask_means(maps[:, :1], runs)
    cam = torch.rand(2, 2, 2)
    with pytest.raises(ValueError, match='exactly one of alpha'):
        sams_seed(cam, masks, [0, 1], [1, 2])
    with pytest.raises(ValueError, match='fg_cls has 3'):
        sams_seed(cam, masks, [0, 1], [1, 2, 3], alpha=1)
    with pytest.raises(ValueError, match='levels'):
        sams_seed(cam, masks, [0], [1, 2], alpha=1)
    with pytest.raises(ValueError, match='uint8'):
        sams_seed(cam, masks, [0, 1], [1, 300], alpha=1)
    with pytest.raises(ValueError, match='norm_first'):
        sams_seed(cam, masks, [0, 1], [1, 2], alpha=1, norm_first='x')
    with pytest.raises(ValueError, match='bg_method'):
        sams_seed(cam, masks, [0, 1], [1, 2], bg_method={'method': 'x'})
    with pytest.raises(ValueError, match='priority'):
        sams_seed(cam, masks, [0, 1], [1, 2], alpha=1, priority=('x', ))
    with pytest.raises(ValueError, match='RLE'):
        mask_runs_from_rle([3, 1], [0, 2], (2, 3))
    with pytest.raises(ValueError, match='offsets'):
        mask_runs_from_rle([3, 3], [0, 1], (2, 3))
    with pytest.raises(ValueError, match=r'\(S, H, W\)'):
        mask_runs(np.ones((2, 3), bool))


def test_no_bg_gamma_softmax_variants():
    rng = np.random.default_rng(11)
    cam, masks, levels, fg_cls = random_case(rng)
    big = resized(cam, masks.shape[1:])
    res = sams_seed(big, masks, levels, fg_cls, norm_first='no_norm',
                    bg_method={'method': 'no_bg'})
    assert res.scores.shape == (len(masks), 3)
    assert set(res.labels.tolist()) <= set((fg_cls + 1).tolist())
    covered = masks.any(0)
    assert np.all(res.seed.numpy()[covered] > 0)
    res = sams_seed(big, masks, levels, fg_cls,
                    norm_first={'method': 'gamma_softmax', 'gamma': 2.0},
                    bg_method={'method': 'no_bg'})
    soft = torch.softmax(big * 2, 0)
    np.testing.assert_allclose(
        res.scores[0].numpy(),
        soft[:, torch.as_tensor(masks[0])].mean(1).numpy(), rtol=1e-5)
