"""Whole > part > sub-part filter (reference_behaviour.md 1.2 step 4)."""
import numpy as np
import pytest
import torch

from mmwsss.functional import mask_filter
from mmwsss.functional.mask_filter import (filter_quasi_superpixels,
                                            max_occupation)

W, P, S = 2, 1, 0  # whole, part, sub-part


def strip(length, *spans):
    """(len(spans), 1, length) masks; span (a, b) sets pixels a..b-1."""
    masks = np.zeros((len(spans), 1, length), bool)
    for i, (a, b) in enumerate(spans):
        masks[i, 0, a:b] = True
    return masks


def naive_filter(masks, levels, t_r):
    """Direct transcription of the spec with per-pair float32 division."""
    masks = np.asarray(masks, bool)
    out, container = [], []
    for level in (2, 1, 0):
        idx = [i for i in range(len(masks)) if levels[i] == level]
        if level == 2 or not container:
            out += idx
            container += idx
            continue
        kept = []
        for i in idx:
            area = np.int64(masks[i].sum())
            occ = max(
                np.float32(np.logical_and(masks[i], masks[c]).sum()) /
                np.float32(area) if area else np.float32(np.nan)
                for c in container)
            if occ < np.float32(t_r):
                kept.append(i)
        out += kept
        container += kept
    return np.array(out, np.int64)


def test_t_r_boundary_float32_strict():
    # the part covers 10 px, 7 of them inside the whole: occ = 7/10
    masks = strip(20, (0, 7), (0, 10))
    levels = [W, P]
    assert filter_quasi_superpixels(masks, levels, t_r=0.7).tolist() == [0]
    # a float64 comparison would have kept it: float32(0.7) < 0.7
    assert float(np.float32(7) / np.float32(10)) < 0.7
    assert filter_quasi_superpixels(
        masks, levels, t_r=0.7000001).tolist() == [0, 1]
    # 0.3 boundary: 3/10 dropped at t_r = 0.3, 2/10 kept
    masks = strip(30, (0, 3), (0, 10), (10, 12), (10, 20))
    levels = [W, P, W, P]
    assert filter_quasi_superpixels(masks, levels, 0.3).tolist() == [0, 2, 3]


def test_sub_parts_against_wholes_and_kept_parts():
    masks = strip(
        40,
        (0, 10),  # 0 whole A
        (10, 20),  # 1 part, outside A -> kept
        (2, 12),  # 2 part, 8/10 in A -> dropped
        (12, 15),  # 3 sub-part inside kept part 1 -> dropped
        (35, 38),  # 4 sub-part, uncovered -> kept
        (0, 3),  # 5 sub-part inside whole A -> dropped
        (28, 36),  # 6 whole B
        (26, 36),  # 7 part, 8/10 in B -> dropped
        (26, 28),  # 8 sub-part only inside dropped part 7 -> kept
    )
    levels = [W, P, P, S, S, S, W, P, S]
    keep = filter_quasi_superpixels(masks, levels, 0.3)
    assert keep.tolist() == [0, 6, 1, 8]
    np.testing.assert_array_equal(keep, naive_filter(masks, levels, 0.3))


def test_dropped_part_suppresses_nothing():
    masks = strip(20, (0, 10), (0, 15), (12, 15))
    levels = [W, P, S]  # the part has 10 of 15 px in the whole: dropped
    assert filter_quasi_superpixels(masks, levels, 0.3).tolist() == [0, 2]


def test_same_level_never_compared():
    masks = strip(20, (0, 5), (0, 5), (10, 15), (10, 15), (17, 19), (17, 19))
    levels = [W, W, P, P, S, S]
    assert filter_quasi_superpixels(masks, levels,
                                    0.3).tolist() == [0, 1, 2, 3, 4, 5]


def test_no_wholes_takes_parts_wholesale():
    # parts overlap each other completely and are all kept; the sub-parts
    # are then tested against the parts
    masks = strip(20, (0, 10), (0, 10), (2, 4), (15, 18))
    levels = [P, P, S, S]
    assert filter_quasi_superpixels(masks, levels, 0.3).tolist() == [0, 1, 3]
    # only sub-parts: taken whole-sale
    masks = strip(20, (0, 10), (0, 10))
    assert filter_quasi_superpixels(masks, [S, S], 0.3).tolist() == [0, 1]
    # wholes but no parts: sub-parts against the wholes
    masks = strip(20, (0, 10), (2, 4), (15, 18))
    assert filter_quasi_superpixels(masks, [W, S, S], 0.3).tolist() == [0, 2]


def test_empty_input():
    keep = filter_quasi_superpixels(np.zeros((0, 4, 5), bool), [], 0.3)
    assert keep.dtype == np.int64 and keep.shape == (0, )


def test_output_order_groups_then_input_order():
    masks = strip(60, (50, 52), (0, 5), (20, 25), (40, 42), (10, 15), (30, 35),
                  (45, 47))
    levels = [S, P, W, S, W, P, S]
    # wholes 2, 4; parts 1, 5; sub-parts 0, 3, 6 (nothing overlaps)
    assert filter_quasi_superpixels(masks, levels,
                                    0.3).tolist() == [2, 4, 1, 5, 0, 3, 6]


def test_zero_area_masks():
    # compared: an empty part is dropped (the reference's NaN is dropped)
    masks = strip(10, (0, 5), (0, 0), (6, 8))
    assert filter_quasi_superpixels(masks, [W, P, P], 0.3).tolist() == [0, 2]
    assert filter_quasi_superpixels(masks, [W, P, P], 5.0).tolist() == [0, 2]
    # taken whole-sale (no wholes): kept, as in the reference
    assert filter_quasi_superpixels(masks, [P, P, S],
                                    0.3).tolist() == [0, 1, 2]
    # an empty whole is kept and covers nothing
    assert filter_quasi_superpixels(masks, [P, W, S],
                                    0.3).tolist() == [1, 0, 2]


@pytest.mark.parametrize('chunk_size', [0, 1, 3, 50])
def test_random_masks_match_naive_any_chunk(chunk_size):
    rng = np.random.default_rng(0)
    n, h, w = 40, 12, 15
    # rectangles of random size give a spread of occupations
    masks = np.zeros((n, h, w), bool)
    for i in range(n):
        y0, x0 = rng.integers(0, h - 1), rng.integers(0, w - 1)
        y1, x1 = rng.integers(y0 + 1, h + 1), rng.integers(x0 + 1, w + 1)
        masks[i, y0:y1, x0:x1] = True
    levels = rng.integers(0, 3, n)
    for t_r in (0.1, 0.3, 0.5, 0.9):
        expected = naive_filter(masks, levels, t_r)
        keep = filter_quasi_superpixels(masks, levels, t_r, chunk_size)
        np.testing.assert_array_equal(keep, expected)
        keep_t = filter_quasi_superpixels(
            torch.from_numpy(masks), torch.from_numpy(levels), t_r, chunk_size)
        np.testing.assert_array_equal(keep_t, expected)
    # the filter really drops something at 0.3 here
    assert 0 < len(naive_filter(masks, levels, 0.3)) < n


def test_max_occupation_values_and_float64_path(monkeypatch):
    masks = torch.from_numpy(strip(12, (0, 4), (2, 8), (0, 0)))
    cont = torch.from_numpy(strip(12, (0, 3), (3, 12)))
    occ = max_occupation(masks, cont, chunk_size=1)
    assert occ.dtype == torch.float32
    np.testing.assert_array_equal(occ[:2].numpy(),
                                  np.float32([3, 5]) / np.float32([4, 6]))
    assert torch.isnan(occ[2])
    # images above 2**24 pixels use float64 products: same numbers
    monkeypatch.setattr(mask_filter, '_FLOAT32_EXACT', 4)
    occ64 = max_occupation(masks, cont, chunk_size=0)
    assert torch.equal(occ64[:2], occ[:2])


def test_bad_input():
    masks = strip(10, (0, 5), (2, 3))
    with pytest.raises(ValueError, match='levels must be 0'):
        filter_quasi_superpixels(masks, [3, 1], 0.3)
    with pytest.raises(ValueError, match='1 levels for 2 masks'):
        filter_quasi_superpixels(masks, [2], 0.3)
    with pytest.raises(ValueError, match=r'\(S, H, W\)'):
        filter_quasi_superpixels(masks[:, 0], [2, 1], 0.3)
