"""WeCLIP / WeCLIP+ numeric parts (mmwsss.functional.weclip_cam, .par,
.weclip_losses) against hand-computed cases and naive loop implementations
written here from the spec (weclip_reference_behaviour.md 2.8-2.11, 2.13).
"""
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmwsss.functional import (
    PAR_DILATIONS, affinity_loss, balanced_seg_loss, cam_label_probs,
    cam_labels, cams_to_affinity_label, mean_attention_affinity, minmax_norm,
    par_neighbours, par_refine, par_weights, poly_warmup_factor,
    propagate_cams, radius_mask, scale_grad_cam, select_attention_affinity,
    self_correct_labels, transition_matrix, weclip_dice_loss)
from mmwsss.functional.caa import box_mask

E = 1e-7


def close(a, b, **kw):
    torch.testing.assert_close(
        torch.as_tensor(a).double(),
        torch.as_tensor(b).double(), **kw)


# ---------------------------------------------------------------- CAM parts


def test_minmax_norm_hand_case_per_map():
    x = torch.tensor([[[1., 3.], [2., 5.]], [[7., 7.], [7., 7.]]])
    out = minmax_norm(x)
    close(out[0], [[0., 2 / (4 + E)], [1 / (4 + E), 4 / (4 + E)]])
    close(out[1], torch.zeros(2, 2))  # constant map -> 0
    close(minmax_norm(x, eps=1.)[0], [[0., 2 / 5], [1 / 5, 4 / 5]])


def _scale_cam_image_np(cam):
    """pytorch_grad_cam's scale_cam_image without resize (numpy float32)."""
    img = cam - np.min(cam)
    return np.float32(img / (1e-7 + np.max(img)))


def test_scale_grad_cam_is_two_minmax_steps():
    raw = torch.tensor([[-1., 0.], [1., 3.]])
    m1 = [0., 0., 1 / (3 + E), 3 / (3 + E)]
    top = 3 / (3 + E)
    expected = torch.tensor([v / (E + top) for v in m1]).reshape(2, 2)
    close(scale_grad_cam(raw), expected)
    # a tiny range shows both steps: 1e-7 / (1e-7 + 1e-7) = 0.5, then ~1
    half = 1e-7 / (E + 1e-7)
    close(
        scale_grad_cam(torch.tensor([[0., 1e-7]], dtype=torch.float64)),
        [[0., half / (E + half)]])
    # the authors' order: relu -> scale -> relu -> (mean of 1 layer) -> scale
    rng = np.random.default_rng(0)
    cam = rng.normal(size=(3, 5, 4)).astype(np.float32)
    ref = np.stack([
        _scale_cam_image_np(
            np.maximum(_scale_cam_image_np(np.maximum(c, 0)), 0)) for c in cam
    ])
    close(scale_grad_cam(torch.from_numpy(cam)), ref, rtol=0, atol=1e-6)
    assert scale_grad_cam(-torch.ones(2, 3)).abs().sum() == 0


def test_select_attention_affinity_hand_case():
    pred = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    att0 = torch.zeros(2, 2)  # d = 2
    att1 = torch.tensor([[1., 0.], [0., 1.]])  # d = 0
    att2 = torch.tensor([[1., 1.], [1., 0.]])  # d = -1
    # mean(d) = 1/3: att1 and att2 are selected
    out = select_attention_affinity(torch.stack([att0, att1, att2]), pred)
    expected = torch.tensor([[2., 1.], [1., 1.]]) / (2 + 1e-5) * 0.5
    close(out, expected)
    # (1, hw, hw) attn_pred accepted; ties (d_k == mean) are selected
    same = torch.stack([att1, att1])
    close(
        select_attention_affinity(same, pred[None]),
        att1 * 2 / (2 + 1e-5) * 0.5)


def test_select_attention_affinity_matches_naive_loop():
    g = torch.Generator().manual_seed(1)
    attns = torch.rand(6, 9, 9, generator=g, dtype=torch.float64)
    pred = torch.rand(9, 9, generator=g, dtype=torch.float64)
    d = [float((pred - a).sum()) for a in attns]
    mean_d = sum(d) / len(d)
    chosen = [a for a, dk in zip(attns, d) if dk <= mean_d]
    assert 0 < len(chosen) < 6
    expected = sum(chosen) / (len(chosen) + 1e-5) * pred
    close(select_attention_affinity(attns, pred), expected)
    close(mean_attention_affinity(attns), sum(attns) / 6)


def test_transition_matrix_hand_cases():
    # column first: after n rounds [[1, 0], [1/(2n+1), 2n/(2n+1)]]
    a = torch.tensor([[1., 0.], [1., 1.]])
    close(
        transition_matrix(a), [[197 / 196, 13 / 98], [13 / 98, 145 / 196]],
        rtol=1e-6,
        atol=0)
    close(
        transition_matrix(a, num_norm=1),
        [[37 / 36, 5 / 18], [5 / 18, 17 / 36]],
        rtol=1e-6,
        atol=0)
    # symmetrised, no power: [[1, 1/14], [1/14, 6/7]]
    close(
        transition_matrix(a, power=1), [[1., 1 / 14], [1 / 14, 6 / 7]],
        rtol=1e-6,
        atol=0)
    # a doubly stochastic symmetric input is a fixed point of the rounds
    b = torch.tensor([[2., 1.], [1., 2.]])
    close(
        transition_matrix(b), [[5 / 9, 4 / 9], [4 / 9, 5 / 9]],
        rtol=1e-6,
        atol=0)


def test_transition_matrix_naive_and_symmetric():
    g = torch.Generator().manual_seed(2)
    a = torch.rand(12, 12, generator=g, dtype=torch.float64) + 0.05
    t = a.clone()
    for _ in range(3):
        t = t / t.sum(0, keepdim=True)
        t = t / t.sum(1, keepdim=True)
    t = (t + t.T) / 2
    out = transition_matrix(a)
    assert out.dtype == torch.float32
    close(out, t @ t, rtol=1e-5, atol=1e-7)
    close(out, out.T, rtol=0, atol=1e-7)


def test_propagate_cams_row_major_and_source_mask():
    # T[i, j] = 1 iff j == (i + 1) % 4: out_flat[i] = v[i + 1]
    t = torch.roll(torch.eye(4), shifts=1, dims=1)
    cams = torch.tensor([[[1., 2.], [3., 4.]], [[10., 20.], [30., 40.]]])
    out = propagate_cams(t, cams)
    close(out, [[[2., 3.], [4., 1.]], [[20., 30.], [40., 10.]]])
    # the mask zeroes source (column) patches: class 0 loses source 2 (3.)
    mask = torch.ones(2, 2, 2)
    mask[0, 1, 0] = 0
    mask[1, 0, 0] = 0
    out = propagate_cams(t, cams, mask)
    close(out, [[[2., 0.], [4., 1.]], [[20., 30.], [40., 0.]]])


def test_propagate_cams_matches_authors_masked_matrix():
    g = torch.Generator().manual_seed(3)
    t = torch.rand(6, 6, generator=g)
    cams = torch.rand(3, 2, 3, generator=g)
    mask = (torch.rand(3, 2, 3, generator=g) > 0.5).float()
    out = propagate_cams(t, cams, mask)
    for k in range(3):
        ref = (t * mask[k].view(1, 6)) @ cams[k].reshape(6, 1)
        close(out[k], ref.reshape(2, 3), rtol=1e-6, atol=1e-7)


def _scoremap2bbox_mask(score, threshold, mode):
    """WeCLIP's scoremap2bbox + aff_mask painting, written from the spec."""
    h, w = score.shape
    s8 = (score * 255).astype(np.uint8)
    _, binary = cv2.threshold(s8, int(threshold * np.max(s8)), 255,
                              cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, mode, cv2.CHAIN_APPROX_SIMPLE)[0]
    m = np.zeros((h, w), np.float32)
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        m[y:min(y + bh, h - 1), x:min(x + bw, w - 1)] = 1
    return m


def test_box_mask_is_weclip_scoremap2bbox():
    # a ring (hole -> RETR_TREE gives a hole contour) with an island inside
    # the hole, and a lone pixel touching the last row and column
    s = np.zeros((9, 10), np.float32)
    s[1:6, 1:6] = 0.9
    s[2:5, 2:5] = 0.
    s[3, 3] = 0.8
    s[8, 9] = 0.7
    expected = np.zeros((9, 10), np.float32)
    expected[1:6, 1:6] = 1  # island and hole boxes lie inside the ring's
    expected[8:8, 9:9] = 1  # clipped end: the corner pixel paints nothing
    got = box_mask(torch.from_numpy(s)[None], 0.4)[0].numpy()
    np.testing.assert_array_equal(got, expected)
    for mode in (cv2.RETR_TREE, cv2.RETR_EXTERNAL):
        np.testing.assert_array_equal(_scoremap2bbox_mask(s, 0.4, mode), got)
    rng = np.random.default_rng(4)
    for t in (0.4, 0.7):
        scores = rng.random((6, 11, 13)).astype(np.float32)
        scores = scale_grad_cam(torch.from_numpy(scores)).numpy()
        got = box_mask(torch.from_numpy(scores), t).numpy()
        for p in range(6):
            np.testing.assert_array_equal(
                got[p], _scoremap2bbox_mask(scores[p], t, cv2.RETR_TREE))


def test_cam_label_probs_hand_case_and_resize():
    cams = torch.tensor([[[1., 3.]], [[4., 2.]]])
    top = 2 / (2 + E)
    out = cam_label_probs(cams, (1, 2))
    close(out, [[[1 - top, 1 - top]], [[0., top]], [[top, 0.]]])
    # bilinear, align_corners=False, (1, 2) -> (1, 4): [0, .25, .75, 1]
    out = cam_label_probs(cams[:1], (1, 4), bg_power=2.)
    fg = torch.tensor([0., .25, .75, 1.]) * top
    close(out[1, 0], fg)
    close(out[0, 0], (1 - fg)**2)
    # equals the authors' minmax + cv2.resize (INTER_LINEAR) when enlarging
    rng = np.random.default_rng(5)
    raw = rng.random((3, 4, 5)).astype(np.float32)
    out = cam_label_probs(torch.from_numpy(raw), (13, 9))
    ref = np.stack([cv2.resize(_scale_cam_image_np(c), (9, 13)) for c in raw])
    close(out[1:], ref, rtol=0, atol=1e-6)
    close(out[0], 1 - ref.max(0), rtol=0, atol=1e-6)
    assert cam_label_probs(torch.zeros(0, 2, 2),
                           (3, 3)).equal(torch.ones(1, 3, 3))


def test_cam_labels_maps_through_valid_key():
    probs = torch.tensor([[[0.9, 0.1, 0.2]], [[0.05, 0.8, 0.2]],
                          [[0.05, 0.1, 0.6]]])
    out = cam_labels(probs, keys=[4, 0])  # valid_key = [0, 5, 1]
    assert out.dtype == torch.long
    assert out.tolist() == [[0, 5, 1]]
    tie = torch.ones(3, 1, 1)
    assert cam_labels(tie, [4, 0]).item() == 0  # first channel wins
    with pytest.raises(ValueError):
        cam_labels(probs, [4])


# ---------------------------------------------------------------- PAR


def _par_naive(img, masks, dilations, num_iter, w1=0.3, w2=0.01):
    """PAR for one image, one pixel and one neighbour at a time (float64)."""
    C, H, W = img.shape
    K = masks.shape[0]
    offs = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0),
            (1, 1)]

    def nbrs(y, x):
        return [(min(max(y + dy * d, 0),
                     H - 1), min(max(x + dx * d, 0), W - 1)) for d in dilations
                for dy, dx in offs]

    pos = [
        d * (math.sqrt(2) if dy and dx else 1.) for d in dilations
        for dy, dx in offs
    ]
    n = len(pos)
    mu = sum(pos) / n
    pstd = math.sqrt(sum((p - mu)**2 for p in pos) / (n - 1))
    pl = [-(p / (pstd + 1e-8) / w1)**2 for p in pos]
    pz = sum(math.exp(v) for v in pl)
    pw = [math.exp(v) / pz for v in pl]
    weights = {}
    for y in range(H):
        for x in range(W):
            nb = nbrs(y, x)
            logit = [0.] * n
            for c in range(C):
                vals = [float(img[c, yy, xx]) for yy, xx in nb]
                m = sum(vals) / n
                sd = math.sqrt(sum((v - m)**2 for v in vals) / (n - 1))
                for i, v in enumerate(vals):
                    logit[i] -= (abs(v - float(img[c, y, x])) /
                                 (sd + 1e-8) / w1)**2 / C
            z = sum(math.exp(v) for v in logit)
            weights[y,
                    x] = [math.exp(v) / z + w2 * p for v, p in zip(logit, pw)]
    cur = masks.double().clone()
    for _ in range(num_iter):
        new = torch.zeros_like(cur)
        for y in range(H):
            for x in range(W):
                for (yy, xx), a in zip(nbrs(y, x), weights[y, x]):
                    new[:, y, x] += cur[:, yy, xx] * a
        cur = new
    return cur


def test_par_neighbour_order_and_replicate_padding():
    x = torch.arange(25.).reshape(1, 1, 5, 5)
    nb = par_neighbours(x, (1, 2))
    assert nb.shape == (1, 1, 16, 5, 5)
    assert nb[0, 0, :8, 2, 2].tolist() == [6, 7, 8, 11, 13, 16, 17, 18]
    assert nb[0, 0, 8:, 2, 2].tolist() == [0, 2, 4, 10, 14, 20, 22, 24]
    # corner (0, 0), d = 2: rows/cols clamp to 0
    assert nb[0, 0, 8:, 0, 0].tolist() == [0, 0, 2, 0, 2, 10, 10, 12]


def test_par_matches_naive_loop():
    g = torch.Generator().manual_seed(6)
    img = torch.rand(1, 3, 5, 6, generator=g, dtype=torch.float64) * 4 - 2
    masks = torch.rand(1, 2, 5, 6, generator=g, dtype=torch.float64)
    out = par_refine(img, masks, dilations=(1, 2), num_iter=3)
    close(
        out[0],
        _par_naive(img[0], masks[0], (1, 2), 3),
        rtol=1e-10,
        atol=1e-12)
    # all six default dilations (24 > the image: replicate padding)
    out = par_refine(img, masks, num_iter=2)
    close(
        out[0],
        _par_naive(img[0], masks[0], PAR_DILATIONS, 2),
        rtol=1e-10,
        atol=1e-12)


def test_par_resizes_image_with_align_corners_true():
    corners = torch.tensor([[0., 2.], [4., 10.]])
    img = corners.repeat(1, 3, 1, 1)
    img[:, 1] *= -1
    masks = torch.rand(
        1,
        2,
        5,
        5,
        generator=torch.Generator().manual_seed(7),
        dtype=torch.float64)
    # align_corners=True 2x2 -> 5x5 samples the corners' bilinear surface
    # at 0, 1/4, ..., 1 (align_corners=False would give 0, .1, .5, .9, 1)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    y, x = t[:, None], t[None]
    big = (1 - y) * x * 2 + y * (1 - x) * 4 + y * x * 10
    big = big.repeat(3, 1, 1)
    big[1] *= -1
    out = par_refine(img, masks, dilations=(1, ), num_iter=2)
    close(out[0], _par_naive(big, masks[0], (1, ), 2), rtol=1e-6, atol=1e-9)


def test_par_weights_sum_to_1_01_and_no_renormalisation():
    g = torch.Generator().manual_seed(8)
    img = torch.randn(2, 3, 7, 9, generator=g)
    w = par_weights(img)
    assert w.shape == (2, 1, 48, 7, 9)
    close(w.sum(dim=2), torch.full((2, 1, 7, 9), 1.01), rtol=0, atol=1e-6)
    ones = torch.ones(2, 4, 7, 9)
    close(
        par_refine(img, ones, num_iter=20),
        torch.full_like(ones, 1.01**20),
        rtol=1e-5,
        atol=0)
    # the position kernel alone: a flat image gives equal image weights
    w_flat = par_weights(torch.zeros(1, 3, 4, 4), dilations=(1, ))
    pos = [math.sqrt(2), 1, math.sqrt(2), 1, 1, math.sqrt(2), 1, math.sqrt(2)]
    pstd = float(np.std(pos, ddof=1))
    pl = np.array([-(p / (pstd + 1e-8) / 0.3)**2 for p in pos])
    pw = np.exp(pl) / np.exp(pl).sum()
    close(w_flat[0, 0, :, 2, 1], 1 / 8 + 0.01 * pw, rtol=1e-6, atol=0)


# ---------------------------------------------------------------- losses


def test_radius_mask_hand_case_and_naive():
    m = radius_mask(2, 3, radius=1)
    # patch 0 = (0, 0) reaches cols 0-1 of both rows
    assert m[0].tolist() == [1, 1, 0, 1, 1, 0]
    assert m[4].tolist() == [1, 1, 1, 1, 1, 1]
    assert radius_mask(3, 4, 0).equal(torch.eye(12))
    h, w, r = 5, 7, 2
    naive = torch.zeros(h * w, h * w)
    for i in range(h * w):
        for j in range(h * w):
            if abs(i // w - j // w) <= r and abs(i % w - j % w) <= r:
                naive[i, j] = 1
    assert radius_mask(h, w, r).equal(naive)


def test_cams_to_affinity_label_hand_case():
    labels = torch.tensor([[[1, 9, 2, 9], [9, 9, 9, 9], [1, 9, 255, 9],
                            [9, 9, 9, 9]]])
    # nearest to 2x2 reads pixels (0,0), (0,2), (2,0), (2,2): [1, 2, 1, 255]
    out = cams_to_affinity_label(labels, None, 255, patch=2)
    assert out.tolist() == [[[1, 0, 1, 255], [0, 1, 0, 255], [1, 0, 1, 255],
                             [255, 255, 255, 255]]]
    mask = torch.ones(4, 4)
    mask[0, 1] = 0
    out = cams_to_affinity_label(labels, mask.numpy(), 255, patch=2)
    assert out[0, 0].tolist() == [1, 255, 1, 255]
    assert out[0, 1, 0] == 0  # the mask is not symmetrised
    # H = 7, patch 2: 3 rows read from floor(i * 7 / 3) = 0, 2, 4
    lab = torch.arange(7)[:, None].repeat(1, 2)[None]
    out = cams_to_affinity_label(lab, None, 255, patch=2)
    assert out.shape == (1, 3, 3)
    lab2 = torch.tensor([0, 5, 0, 5, 1, 5, 5])[:, None].repeat(1, 2)[None]
    out = cams_to_affinity_label(lab2, None, 255, patch=2)
    assert out[0].tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_affinity_loss_hand_case():
    pred = torch.tensor([[[0.8, 0.2], [0.4, 0.9]]])
    label = torch.tensor([[[1, 0], [255, 1]]])
    # pos: (0.2 + 0.1) / (2 + 1) = 0.1; neg: 0.2 / (1 + 1) = 0.1
    close(affinity_loss(pred, label), 0.1)
    both = affinity_loss(pred.repeat(2, 1, 1), label.repeat(2, 1, 1))
    close(both, 0.5 * 0.6 / 5 + 0.5 * 0.4 / 3)  # counts over the batch


def test_balanced_seg_loss_hand_case_and_empty_sets():
    # two classes, logits [0, ln 3]: p = [1/4, 3/4] at every pixel
    logits = torch.zeros(1, 2, 1, 4)
    logits[:, 1] = math.log(3)
    labels = torch.tensor([[[0, 1, 1, 255]]])
    bg = -math.log(1 / 4)
    fg = -math.log(3 / 4)
    close(balanced_seg_loss(logits, labels), 0.5 * (bg + fg))
    # unbalanced: a plain CE mean would be (bg + 2 fg) / 3
    labels = torch.tensor([[[1, 1, 1, 255]]])
    assert torch.isnan(balanced_seg_loss(logits, labels))
    logits.requires_grad_(True)
    loss = balanced_seg_loss(logits, labels, empty='zero')
    close(loss, 0.5 * fg)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError):
        balanced_seg_loss(logits, labels, empty='skip')


def test_weclip_dice_loss_hand_case_includes_ignored_pixels():
    logits = torch.zeros(1, 2, 1, 3)  # p = 1/2 everywhere
    labels = torch.tensor([[[0, 1, 255]]])
    before = labels.clone()
    # class c: inter 0.5, union 1.5 (probs, the ignored pixel included) + 1
    close(weclip_dice_loss(logits, labels, 2), 1 - 2 * 0.5 / (2.5 + 1e-7))
    assert labels.equal(before)  # the caller's tensor is not rewritten
    # skewed: p0 = [a, b, c]
    logits = torch.tensor([[[[math.log(3), 0.,
                              math.log(1 / 3)]], [[0., 0., 0.]]]])
    a, b, c = 3 / 4, 1 / 2, 1 / 4
    d0 = 2 * a / (a + b + c + 1 + 1e-7)
    d1 = 2 * (1 - b) / ((3 - a - b - c) + 1 + 1e-7)
    close(weclip_dice_loss(logits, labels, 2), 1 - (d0 + d1) / 2)
    with pytest.raises(ValueError):
        weclip_dice_loss(logits, labels, 3)


def test_self_correct_labels_strict_threshold_on_copy():
    labels = torch.tensor([[[0, 2, 1, 1]]])
    probs = torch.tensor([[[[0.8, 0.1, 0.75, 0.2]], [[0.1, 0.9, 0.2, 0.1]],
                           [[0.1, 0.0, 0.05, 0.7]]]])
    out = self_correct_labels(labels, probs)
    assert out.tolist() == [[[0, 1, 1, 1]]]  # 0.75 is not > 0.75
    assert labels.tolist() == [[[0, 2, 1, 1]]]
    low = self_correct_labels(labels, probs, threshold=0.05)
    assert low.tolist() == [[[0, 1, 0, 2]]]


def test_poly_warmup_factor_table():
    assert poly_warmup_factor(0) == pytest.approx(1e-6, rel=1e-9)
    assert poly_warmup_factor(25) == pytest.approx(0.5 + 0.5e-6, rel=1e-12)
    assert poly_warmup_factor(49) == pytest.approx(1 - 0.02 * (1 - 1e-6))
    assert poly_warmup_factor(50) == pytest.approx(1 - 50 / 30000)
    assert poly_warmup_factor(15000) == pytest.approx(0.5)
    assert poly_warmup_factor(29999) == pytest.approx(1 / 30000)
    # s >= max_iters: the LR stays as step 29999 set it
    assert poly_warmup_factor(30000) == poly_warmup_factor(29999)
    assert poly_warmup_factor(10**6) == poly_warmup_factor(29999)
    factor = poly_warmup_factor(100, 10, 200, warmup_ratio=0.1, power=0.9)
    assert factor == pytest.approx(0.5**0.9)
    # warm-up longer than the run: warm-up wins, then it freezes
    assert poly_warmup_factor(7, 10, 5) == pytest.approx(1 - 0.3 * (1 - 1e-6))
    assert poly_warmup_factor(20, 10, 5) == poly_warmup_factor(9, 10, 5)
    assert poly_warmup_factor(3, 0, 0) == 1.0
