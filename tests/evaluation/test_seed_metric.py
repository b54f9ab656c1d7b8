"""SeedMetric through process()/compute_metrics() and mmengine's Evaluator."""
import json
import os

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

from _helpers import TOY_GT, TOY_SEED

from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from mmwsss.evaluation import SeedMetric
from mmwsss.io import read_seed_png

CLASSES = ('background', 'a', 'b', 'c')
GT, PRED = TOY_GT, TOY_SEED
# hand computed (see test_seed_scores): IoU 1/2, 1/2, 1/3, NaN
MIOU = 100 * (0.5 + 0.5 + 1 / 3) / 3
MPREC = 100 * (2 / 3 + 3 / 4 + 1 / 2) / 3
MREC = 100 * (2 / 3 + 3 / 5 + 1 / 2) / 3


def _sample(pred, gt=None, name='img0.jpg'):
    s = SegDataSample(metainfo=dict(img_path=f'/data/JPEGImages/{name}'))
    s.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
    if gt is not None:
        s.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
    return s


def _metric(**kwargs):
    m = METRICS.build(dict(type='SeedMetric', **kwargs))
    m.dataset_meta = dict(classes=CLASSES)
    return m


def test_hand_computed_with_data_samples_and_json(tmp_path):
    out = str(tmp_path / 'res' / 'scores.json')
    m = _metric(output_file=out)
    assert isinstance(m, SeedMetric)
    # split the hand-built case over two images; a third has no GT
    m.process({}, [_sample(PRED[:2], GT[:2], 'i0.jpg')])
    m.process({}, [
        _sample(PRED[2:], GT[2:], 'i1.jpg'),
        _sample(PRED, None, 'i2.jpg')
    ])
    res = m.compute_metrics(m.results)
    assert res['mIoU'] == pytest.approx(round(MIOU, 2))
    assert res['mPrecision'] == pytest.approx(round(MPREC, 2))
    assert res['mRecall'] == pytest.approx(round(MREC, 2))
    assert res['aAcc'] == pytest.approx(60.0)

    rep = json.load(open(out))
    assert rep == m.report
    assert rep['num_images'] == 2
    assert rep['num_images_without_gt'] == 1
    assert rep['mIoU'] == pytest.approx(MIOU)
    assert rep['per_class']['c'] == dict(
        IoU=None, Precision=None, Recall=None, gt_pixels=0, pred_pixels=0)
    assert rep['per_class']['b']['IoU'] == pytest.approx(100 / 3)
    assert rep['unlabelled_pixels'] == 1
    assert np.array(rep['confusion']).sum() == 10
    assert os.listdir(tmp_path / 'res') == ['scores.json']


def test_evaluator_dict_samples_seed_dir_and_resume(tmp_path):
    seed_dir = str(tmp_path / 'seeds')
    evaluator = Evaluator(
        dict(type='SeedMetric', seed_dir=seed_dir, out_dir=str(tmp_path)))
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process([_sample(PRED, GT, 'a.jpg')])  # converted to dicts
    res = evaluator.evaluate(1)
    assert res['mIoU'] == pytest.approx(round(MIOU, 2))
    assert os.path.isfile(tmp_path / 'seed_scores.json')
    np.testing.assert_array_equal(
        read_seed_png(os.path.join(seed_dir, 'a.png')), PRED)
    # a rerun keeps the finished seed unless overwrite
    m = _metric(seed_dir=seed_dir)
    m.process({}, [_sample(np.zeros_like(PRED), GT, 'a.jpg')])
    np.testing.assert_array_equal(
        read_seed_png(os.path.join(seed_dir, 'a.png')), PRED)
    m = _metric(seed_dir=seed_dir, overwrite=True)
    m.process({}, [_sample(np.zeros_like(PRED), GT, 'a.jpg')])
    assert read_seed_png(os.path.join(seed_dir, 'a.png')).max() == 0
    assert sorted(os.listdir(seed_dir)) == ['a.png']


def test_format_only_and_nothing_scored(tmp_path):
    m = _metric(seed_dir=str(tmp_path), format_only=True)
    m.process({}, [_sample(PRED, GT)])
    assert m.results == []
    assert m.compute_metrics(m.results) == {}
    assert os.listdir(tmp_path) == ['img0.png']
    m = _metric()
    m.process({}, [_sample(PRED)])
    assert m.compute_metrics(m.results) == {}
    assert m.report is None


def test_errors():
    m = SeedMetric()
    with pytest.raises(ValueError, match='dataset_meta'):
        m.process({}, [_sample(PRED, GT)])
    m = _metric()
    bad_gt = GT.copy()
    bad_gt[0, 0] = 9
    with pytest.raises(ValueError, match=r'bad\.jpg.*\[9\]'):
        m.process({}, [_sample(PRED, bad_gt, 'bad.jpg')])
    with pytest.raises(ValueError, match=r'small\.jpg.*shape'):
        m.process({}, [_sample(PRED[:2], GT, 'small.jpg')])
    s = SegDataSample(metainfo=dict(img_path='x.jpg'))
    with pytest.raises(KeyError, match='x.jpg.*pred_sem_seg'):
        m.process({}, [s])


def test_overlay_dir(tmp_path):
    img = np.zeros((3, 4, 3), np.uint8)
    img_path = str(tmp_path / 'ov.jpg')
    import cv2
    cv2.imwrite(img_path, img)
    m = _metric(overlay_dir=str(tmp_path / 'overlays'))
    s = _sample(PRED, GT)
    s.set_metainfo(dict(img_path=img_path))
    m.process({}, [s])
    out = cv2.imread(str(tmp_path / 'overlays' / 'ov.jpg'))
    assert out is not None and out.shape[1] > 4  # image + legend strip
    missing = _sample(PRED, GT, name='gone.jpg')
    with pytest.raises(FileNotFoundError, match='gone.jpg'):
        m.process({}, [missing])
