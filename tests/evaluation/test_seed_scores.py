"""Pure seed scores: confusion histogram, IoU / precision / recall."""
import json
import math

import numpy as np
import pytest
import torch

from _helpers import TOY_GT, TOY_SEED

from mmwsss.evaluation.seed_scores import (format_comparison_markdown,
                                           format_seed_table,
                                           scores_from_confusion,
                                           seed_confusion, seed_report)

# 4 classes; class 3 is absent from both maps. 255 in GT = ignore; 255 in the
# prediction = "no class".
GT, PRED = TOY_GT, TOY_SEED


def test_confusion_hand_computed():
    conf = seed_confusion(PRED, GT, num_classes=4)
    expected = np.zeros((4, 5), np.int64)
    # scored pixels (gt, pred): row 0: (0,0) (0,1) (1,1) (1,1)
    # row 1: (0,0) [ignored] (1,1) (1,0); row 2: (2,2) (2,255) (1,2) [ignored]
    expected[0, 0] = 2
    expected[0, 1] = 1
    expected[1, 1] = 3
    expected[1, 0] = 1
    expected[1, 2] = 1
    expected[2, 2] = 1
    expected[2, 4] = 1  # predicted 255 -> "no class" column
    assert conf.dtype == np.int64
    np.testing.assert_array_equal(conf, expected)


def test_scores_hand_computed():
    s = scores_from_confusion(seed_confusion(PRED, GT, num_classes=4))
    # inter 2,3,1,0; pred area 3,4,2,0; label area 3,5,2,0
    np.testing.assert_allclose(s['IoU'][:3], [2 / 4, 3 / 6, 1 / 3])
    np.testing.assert_allclose(s['Precision'][:3], [2 / 3, 3 / 4, 1 / 2])
    np.testing.assert_allclose(s['Recall'][:3], [2 / 3, 3 / 5, 1 / 2])
    # class 3: absent in both -> NaN, excluded from the means
    assert math.isnan(s['IoU'][3])
    assert math.isnan(s['Precision'][3])
    assert math.isnan(s['Recall'][3])
    assert s['mIoU'] == pytest.approx((0.5 + 0.5 + 1 / 3) / 3)
    assert s['mPrecision'] == pytest.approx((2 / 3 + 3 / 4 + 1 / 2) / 3)
    assert s['mRecall'] == pytest.approx((2 / 3 + 3 / 5 + 1 / 2) / 3)
    assert s['aAcc'] == pytest.approx(6 / 10)
    assert s['num_pixels'] == 10
    assert s['unlabelled_pixels'] == 1
    np.testing.assert_array_equal(s['area_union'], [4, 6, 3, 0])


def test_class_predicted_but_absent_in_gt():
    gt = np.zeros((2, 3), np.uint8)
    pred = np.array([[0, 0, 2], [0, 2, 2]], np.uint8)
    s = scores_from_confusion(seed_confusion(pred, gt, num_classes=3))
    # bg: inter 3, union 6; class 1 absent everywhere; class 2 only predicted
    np.testing.assert_allclose(s['IoU'][[0, 2]], [0.5, 0.0])
    assert math.isnan(s['IoU'][1])
    assert s['mIoU'] == pytest.approx(0.25)  # IoU 0 counts, NaN does not
    assert s['Precision'][2] == 0.0
    assert math.isnan(s['Recall'][2])  # no GT pixel
    assert s['mRecall'] == pytest.approx(0.5)


def test_matches_mmseg_iou_metric():
    from mmseg.evaluation.metrics import IoUMetric
    rng = np.random.default_rng(0)
    c = 6
    gt = rng.integers(0, c, (3, 20, 30))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = gt.copy()
    flip = rng.random(gt.shape) < 0.4
    pred[flip] = rng.integers(0, c, flip.sum())
    pred[rng.random(gt.shape) < 0.05] = 255
    pred[..., 0] = np.where(pred[..., 0] == 255, 0, pred[..., 0])
    areas = [
        IoUMetric.intersect_and_union(
            torch.from_numpy(p), torch.from_numpy(g), c, 255)
        for p, g in zip(pred, gt)
    ]
    totals = [sum(a[i] for a in areas) for i in range(4)]
    ref = IoUMetric.total_area_to_metrics(*totals, ['mIoU', 'mFscore'])
    ours = scores_from_confusion(seed_confusion(pred, gt, c))
    np.testing.assert_allclose(ours['IoU'], ref['IoU'], rtol=1e-6)
    np.testing.assert_allclose(
        ours['Precision'], ref['Precision'], rtol=1e-6)
    np.testing.assert_allclose(ours['Recall'], ref['Recall'], rtol=1e-6)
    assert ours['aAcc'] == pytest.approx(float(ref['aAcc']))


def test_batched_and_tensor_inputs_agree():
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 4, (2, 5, 7)).astype(np.uint8)
    pred = rng.integers(0, 4, (2, 5, 7)).astype(np.uint8)
    batched = seed_confusion(pred, gt, 4)
    summed = seed_confusion(pred[0], gt[0], 4) + seed_confusion(
        pred[1], gt[1], 4)
    np.testing.assert_array_equal(batched, summed)
    from_torch = seed_confusion(torch.from_numpy(pred), torch.from_numpy(gt),
                                4)
    np.testing.assert_array_equal(batched, from_torch)
    assert batched.sum() == gt.size


def test_bad_inputs():
    with pytest.raises(ValueError, match='shape'):
        seed_confusion(np.zeros((2, 3)), np.zeros((3, 2)), 3)
    gt = np.array([[0, 7]], np.uint8)
    with pytest.raises(ValueError, match=r'\[7\].*0\.\.2'):
        seed_confusion(np.zeros((1, 2), np.uint8), gt, 3)
    with pytest.raises(ValueError, match='confusion'):
        scores_from_confusion(np.zeros((3, 5)))


def test_report_table_and_markdown():
    conf = seed_confusion(PRED, GT, num_classes=4)
    names = ['background', 'a', 'b', 'c']
    rep = seed_report(conf, names, num_images=1)
    # JSON-ready (NaN -> None), percent
    json.dumps(rep, allow_nan=False)
    assert rep['mIoU'] == pytest.approx(100 * (0.5 + 0.5 + 1 / 3) / 3)
    assert rep['per_class']['c']['IoU'] is None
    assert rep['per_class']['b']['Precision'] == pytest.approx(50.0)
    assert rep['per_class']['a']['gt_pixels'] == 5
    assert rep['num_images'] == 1
    assert rep['confusion'] == conf.tolist()
    with pytest.raises(ValueError, match='class names'):
        seed_report(conf, names[:3])

    table = format_seed_table(rep)
    lines = {ln.split('|')[1].strip(): ln for ln in table.splitlines()
             if ln.startswith('|')}
    assert '50.00' in lines['background']
    assert lines['c'].count('-') >= 3
    assert '44.44' in lines['mean']

    other = seed_report(np.diag([5, 5, 5, 0]).astype(np.int64), names)
    md = format_comparison_markdown({'M1': rep, 'M2': other})
    rows = md.splitlines()
    assert rows[0] == ('| Method | background | a | b | c | mIoU | '
                       'mPrecision | mRecall |')
    assert rows[1].startswith('|:---|---:|')
    assert rows[2] == '| M1 | 50.0 | 50.0 | 33.3 | - | 44.4 | 63.9 | 58.9 |'
    assert rows[3] == ('| M2 | 100.0 | 100.0 | 100.0 | - | 100.0 | 100.0 '
                       '| 100.0 |')
    with pytest.raises(ValueError, match='other classes'):
        format_comparison_markdown({
            'M1': rep,
            'M3': seed_report(np.zeros((2, 3), np.int64), ['x', 'y'])
        })
