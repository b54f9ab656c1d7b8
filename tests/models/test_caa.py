"""CAA: attention merging, affinity, CLIP-ES box masks, refinement."""
import cv2
import numpy as np
import pytest
import torch

from mmwsss.functional.caa import (CLIP_ES_CAA, attention_to_affinity, box_mask,
                               caa_refine, merge_attention)
from mmwsss.functional.gradcam import min_max_normalize


def s8_score(values):
    """Scores whose uint8(score*255) are exactly ``values`` (x.5 / 255)."""
    v = np.asarray(values, dtype=np.float64)
    return torch.tensor((v + 0.5) / 255, dtype=torch.float32)[None]


def reference_box_mask(score, t):
    """CLIP-ES scoremap2bbox(multi_contour_eval=True) + m[y0:y1, x0:x1] = 1,
    written as the reference does it (cv2.threshold + findContours)."""
    H, W = score.shape
    img = np.expand_dims((score * 255).astype(np.uint8), 2)
    _, binary = cv2.threshold(src=img, thresh=int(t * np.max(img)),
                              maxval=255, type=cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE,
                                cv2.CHAIN_APPROX_SIMPLE)[0]
    boxes = [[0, 0, 0, 0]] if len(contours) == 0 else []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        boxes.append([x, y, min(x + w, W - 1), min(y + h, H - 1)])
    m = np.zeros((H, W), np.float32)
    for x0, y0, x1, y1 in boxes:
        m[y0:y1, x0:x1] = 1
    return m


# ----------------------------------------------------------------------------
# box masks
# ----------------------------------------------------------------------------


def test_box_mask_off_by_one():
    s = np.zeros((4, 5))
    s[1:3, 1:3] = 200  # inner block: its box is exactly the block
    m = box_mask(s8_score(s), 0.4)[0]
    expected = torch.zeros(4, 5)
    expected[1:3, 1:3] = 1
    torch.testing.assert_close(m, expected)

    s = np.zeros((4, 5))
    s[0:2, 3:5] = 200  # touches the last column: x1 = min(3+2, 4) = 4
    m = box_mask(s8_score(s), 0.4)[0]
    expected = torch.zeros(4, 5)
    expected[0:2, 3:4] = 1  # the last column is never inside
    torch.testing.assert_close(m, expected)

    s = np.zeros((4, 5))
    s[3, 0:3] = 200  # only in the last row: y0 = 3, y1 = min(4, 3) = 3
    assert box_mask(s8_score(s), 0.4).sum() == 0


def put_s8(score, ij, value):
    score[(0, ) + ij] = (value + 0.5) / 255  # uint8(score * 255) == value


def test_box_mask_threshold_truncation_quirk():
    """T = int(t * max s8) with the float64 product truncated.

    0.7 * 90 = 62.99999999999999 -> T = 62 (not 63), so s8 = 63 is IN.
    0.6 * 255 = 153.0 exactly in float64 (the rounding lands on 153; the
    spec's "152.99999999999997" is not what Python/numpy compute), so
    s8 = 153 is OUT (strict >) and 154 is in.
    """
    assert int(0.7 * 90) == 62 and int(np.float64(0.7) * np.uint8(90)) == 62
    assert int(0.6 * 255) == 153 and int(0.6 * np.uint8(255)) == 153
    score = torch.zeros(1, 4, 6)
    put_s8(score, (0, 0), 90)
    put_s8(score, (1, 2), 63)  # 63 > 62: in (exact arithmetic: out)
    put_s8(score, (1, 4), 62)  # out
    s8 = (score.numpy() * 255).astype(np.uint8)
    assert (s8[0, 0, 0], s8[0, 1, 2], s8[0, 1, 4]) == (90, 63, 62)
    expected = torch.zeros(4, 6)
    expected[0, 0] = expected[1, 2] = 1
    torch.testing.assert_close(box_mask(score, 0.7)[0], expected)
    np.testing.assert_array_equal(expected.numpy(),
                                  reference_box_mask(score[0].numpy(), 0.7))

    score = torch.zeros(1, 4, 6)
    score[0, 0, 0] = 1.0  # uint8(255.0) = 255
    put_s8(score, (1, 2), 154)  # in
    put_s8(score, (1, 4), 153)  # 153 > 153 is false: out
    expected = torch.zeros(4, 6)
    expected[0, 0] = expected[1, 2] = 1
    torch.testing.assert_close(box_mask(score, 0.6)[0], expected)
    np.testing.assert_array_equal(expected.numpy(),
                                  reference_box_mask(score[0].numpy(), 0.6))


def test_box_mask_8_connectivity():
    s = np.zeros((5, 5))
    s[1, 1] = s[2, 2] = 200  # diagonal neighbours: ONE component
    m = box_mask(s8_score(s), 0.5)[0]
    expected = torch.zeros(5, 5)
    expected[1:3, 1:3] = 1  # includes the off-diagonal (1,2) and (2,1)
    torch.testing.assert_close(m, expected)


def test_box_mask_no_foreground_and_strictness():
    assert box_mask(torch.zeros(2, 4, 4), 0.4).sum() == 0
    assert box_mask(torch.full((1, 4, 4), 0.5 / 255), 0.0).sum() == 0
    # t = 1: nothing is strictly above the maximum
    s = np.zeros((4, 4))
    s[1, 1] = 200
    assert box_mask(s8_score(s), 1.0).sum() == 0


def test_box_mask_matches_find_contours():
    rng = np.random.default_rng(0)
    for i in range(40):
        H, W = rng.integers(3, 15, size=2)
        blobs = rng.random((H, W)) ** 3
        if i % 3 == 0:  # rings with holes: RETR_TREE gives inner contours
            blobs = np.zeros((H, W))
            blobs[1:-1, 1:-1] = 0.9
            blobs[H // 2, W // 2] = 0.0
        score = min_max_normalize(torch.tensor(blobs, dtype=torch.float32))
        t = float(rng.choice([0.0, 0.3, 0.4, 0.5, 0.6, 0.7]))
        ours = box_mask(score[None], t)[0].numpy()
        np.testing.assert_array_equal(
            ours, reference_box_mask(score.numpy(), t), err_msg=f'map {i}')


# ----------------------------------------------------------------------------
# attention -> affinity
# ----------------------------------------------------------------------------


def test_merge_attention():
    g = torch.Generator().manual_seed(0)
    attn = torch.rand(10, 5, 5, generator=g)
    merged = merge_attention(attn.half(), last_k=8)
    expected = attn.half().float()[2:, 1:, 1:].mean(0)
    assert merged.dtype == torch.float32 and merged.shape == (4, 4)
    torch.testing.assert_close(merged, expected)
    torch.testing.assert_close(
        merge_attention(attn[:3], last_k=8), attn[:3, 1:, 1:].mean(0))
    batched = merge_attention(torch.stack([attn, 2 * attn]), last_k=4)
    torch.testing.assert_close(batched[1], 2 * attn[6:, 1:, 1:].mean(0))
    with pytest.raises(ValueError):
        merge_attention(torch.rand(5, 5))


def test_affinity_sinkhorn_symmetrise_power():
    A = np.array([[4., 1., 2.], [1., 3., 1.], [2., 5., 1.]])
    for iters, power in [(1, 2), (3, 2), (1, 1), (2, 3)]:
        S = A.copy()
        for _ in range(iters):
            S = S / S.sum(axis=0, keepdims=True)
            S = S / S.sum(axis=1, keepdims=True)
        S = (S + S.T) / 2
        expected = np.linalg.matrix_power(S, power)
        ours = attention_to_affinity(torch.tensor(A), iters, power)
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6,
                                   atol=1e-7)
    # one round by hand: column sums (7, 9, 4)
    S1 = A / np.array([7., 9., 4.])
    S1 = S1 / S1.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        attention_to_affinity(torch.tensor(A), 1, 1).numpy(), (S1 + S1.T) / 2,
        rtol=1e-6)


# ----------------------------------------------------------------------------
# caa_refine
# ----------------------------------------------------------------------------


def explicit_caa(attn, cam, t, n_iter, n_pow, aff_at, mask_type):
    """Reference step 1-7 with an explicit (P, L, L) mask, class by class."""
    P, h, w = cam.shape
    score = min_max_normalize(cam)
    A = attn.double()
    for _ in range(n_iter):
        A = A / A.sum(0, keepdim=True)
        A = A / A.sum(1, keepdim=True)
    A = torch.linalg.matrix_power((A + A.T) / 2, n_pow)
    outs = []
    for p in range(P):
        m = torch.from_numpy(reference_box_mask(score[p].numpy(), t))
        m = m.double().view(-1)
        f = {'in_bbox': m, 'out_bbox': 1 - m, 'all': torch.ones_like(m)}
        if mask_type == 'all':
            M = torch.ones(h * w, h * w, dtype=torch.float64)
        else:
            M = m[:, None] * f[mask_type[0]][None] + \
                (1 - m[:, None]) * f[mask_type[1]][None]
        v = (score[p] if aff_at == 'score' else cam[p]).double().view(-1)
        outs.append(((A * M) @ v).view(h, w))
    return torch.stack(outs).float()


@pytest.mark.parametrize('aff_at', ['score', 'cam'])
@pytest.mark.parametrize('mask_type', [('in_bbox', 'in_bbox'),
                                       ('in_bbox', 'out_bbox'),
                                       ('all', 'in_bbox'), 'all'])
def test_caa_refine_matches_explicit(aff_at, mask_type):
    g = torch.Generator().manual_seed(5)
    h, w = 3, 5
    L = h * w
    attn = torch.rand(L, L, generator=g).softmax(-1)
    cam = torch.randn(4, h, w, generator=g)
    cam[1] = cam[1].abs() + 0.1
    cam[2] = -cam[2].abs()  # all <= 0
    ours = caa_refine(attn.half(), cam, threshold=0.4, sinkhorn_iters=1,
                      n_iters=2, aff_at=aff_at, mask_type=mask_type)
    ref = explicit_caa(attn.half().float(), cam, 0.4, 1, 2, aff_at,
                       mask_type)
    assert ours.dtype == torch.float32 and ours.shape == (4, h, w)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
    # batched over classes == class by class
    for p in range(4):
        one = caa_refine(attn.half(), cam[p:p + 1], threshold=0.4,
                         aff_at=aff_at, mask_type=mask_type)
        torch.testing.assert_close(one[0], ours[p], atol=1e-6, rtol=1e-5)


def test_caa_all_nonpositive_cam_gives_zeros():
    attn = torch.rand(16, 16)
    cam = -torch.rand(2, 4, 4)
    for aff_at in ('score', 'cam'):
        out = caa_refine(attn, cam, threshold=0.5, aff_at=aff_at)
        assert torch.equal(out, torch.zeros(2, 4, 4))


def test_caa_score_vs_cam_and_n_iters_zero():
    g = torch.Generator().manual_seed(6)
    attn = torch.rand(12, 12, generator=g)
    cam = 0.5 + 3 * torch.rand(2, 3, 4, generator=g)  # positive
    score = min_max_normalize(cam)
    torch.testing.assert_close(caa_refine(attn, cam, n_iters=0), score)
    assert torch.equal(caa_refine(attn, cam, n_iters=0, aff_at='cam'), cam)
    by_score = caa_refine(attn, cam, aff_at='score')
    by_cam = caa_refine(attn, cam, aff_at='cam')
    assert not torch.allclose(by_score, by_cam)
    # cam = score * r + lo per class (r = range + eps), the boxes come from
    # the score in both cases, so by_cam = r * by_score + lo * A^n (m)
    lo = cam.amin(dim=(1, 2), keepdim=True)
    r = cam.amax(dim=(1, 2), keepdim=True) - lo + 1e-7
    m = box_mask(score, 0.4).view(2, -1)
    aff = attention_to_affinity(attn, 1, 2)
    const = (m @ aff.T).view(2, 3, 4) * lo
    torch.testing.assert_close(by_cam, by_score * r + const, atol=1e-5,
                               rtol=1e-4)


def test_caa_unmerged_attention_and_clip_es_settings():
    g = torch.Generator().manual_seed(7)
    h, w = 2, 3
    attn = torch.rand(12, 1 + h * w, 1 + h * w, generator=g)
    cam = torch.randn(3, h, w, generator=g)
    torch.testing.assert_close(
        caa_refine(attn, cam, threshold=0.5, aff_at='cam'),
        caa_refine(merge_attention(attn), cam, threshold=0.5, aff_at='cam'))
    out = caa_refine(merge_attention(attn), cam, **CLIP_ES_CAA)
    ref = explicit_caa(merge_attention(attn), cam, 0.4, 3, 2, 'score',
                       ('in_bbox', 'in_bbox'))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_caa_bad_input():
    cam = torch.rand(2, 3, 3)
    with pytest.raises(ValueError, match='does not match'):
        caa_refine(torch.rand(8, 8), cam)
    with pytest.raises(ValueError, match='aff_at'):
        caa_refine(torch.rand(9, 9), cam, aff_at='both')
    with pytest.raises(ValueError, match='mask_type'):
        caa_refine(torch.rand(9, 9), cam, mask_type=('in_bbox', 'box'))
