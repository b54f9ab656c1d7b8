"""Issue 12: a class list in another order than a named dataset's (VOC /
COCO) is an error wherever seeds or ground truth are read by class index;
renamed classes of the same count are a warning."""
import logging

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, METRICS
from mmseg.structures import SegDataSample

from mmwsss.class_names import COCO_CLASSES, VOC_CLASSES, check_class_list

REVERSED = (VOC_CLASSES[0], ) + VOC_CLASSES[:0:-1]


def _warnings():
    lines = []
    handler = logging.Handler()
    handler.emit = lambda r: lines.append(r.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    return lines


def test_check_class_list():
    for ok in (VOC_CLASSES, COCO_CLASSES, VOC_CLASSES[:5], ('a', 'b')):
        check_class_list(ok)
    check_class_list(('background', 'cat', 'dog'), 'voc')  # a subset
    with pytest.raises(ValueError) as err:
        check_class_list(REVERSED, owner='cfg.metainfo.classes')
    assert str(err.value).startswith(
        "cfg.metainfo.classes: the VOC classes in another order ('train' "
        "after 'tvmonitor'); VOC seeds")
    assert 'mmwsss.class_names.VOC_CLASSES' in str(err.value)
    with pytest.raises(ValueError, match='VOC classes in another order'):
        check_class_list(VOC_CLASSES[:0:-1], 'voc')  # foreground only
    with pytest.raises(ValueError, match='COCO classes in another order'):
        check_class_list(COCO_CLASSES[::-1])
    with pytest.raises(ValueError, match="'cat' after 'dog'"):
        check_class_list(('background', 'dog', 'cat'), 'voc')
    lines = _warnings()
    check_class_list(VOC_CLASSES[:-1] + ('tv', ), 'voc', owner='x')
    assert lines == ["x: 1 class names differ from the VOC classes "
                     "(20: 'tv' for 'tvmonitor'); index i still means the "
                     'VOC class i.']


def test_voc_image_label_dataset(voc_mini_root):
    cfg = dict(
        type='VOCImageLabelDataset',
        data_root=voc_mini_root,
        serialize_data=False)
    with pytest.raises(ValueError) as err:
        DATASETS.build(dict(cfg, metainfo=dict(classes=REVERSED)))
    assert str(err.value).startswith(
        'VOCImageLabelDataset metainfo.classes: the VOC classes in another '
        'order')
    renamed = VOC_CLASSES[:-1] + ('tv', )
    lines = _warnings()
    ds = DATASETS.build(dict(cfg, metainfo=dict(classes=renamed)))
    assert ds.metainfo['classes'] == renamed
    assert any("20: 'tv' for 'tvmonitor'" in ln for ln in lines), lines
    plain = DATASETS.build(cfg)
    assert [ds.get_data_info(i)['img_labels'] for i in range(len(ds))] == \
        [plain.get_data_info(i)['img_labels'] for i in range(len(plain))]


def test_seed_metric_refuses_reordered_meta():
    """mmseg's PascalVOCDataset takes a reversed list (it remaps the GT
    with a label_map), so seeds in VOC order were scored under wrong
    names; SeedMetric refuses it when the Runner hands it the meta."""
    metric = METRICS.build(dict(type='SeedMetric'))
    with pytest.raises(ValueError, match='VOC classes in another order'):
        metric.dataset_meta = dict(classes=REVERSED)
    metric.dataset_meta = dict(classes=VOC_CLASSES)
    s = SegDataSample(metainfo=dict(img_path='x/a.jpg'))
    s.pred_sem_seg = PixelData(data=torch.zeros(1, 2, 2, dtype=torch.long))
    s.gt_sem_seg = PixelData(data=torch.zeros(1, 2, 2, dtype=torch.long))
    metric.process({}, [s.to_dict()])
    assert metric.compute_metrics(metric.results)['mIoU'] == 100.0


def test_eval_seeds_refuses_reordered_dataset(voc_mini_root, tmp_path):
    from mmwsss.evaluation import SeedEvalError
    from mmwsss.io import write_seed_png
    from mmwsss.evaluation.seed_eval import score_seed_dirs
    ds = DATASETS.build(
        dict(
            type='PascalVOCDataset',
            data_root=voc_mini_root,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'),
            ann_file='ImageSets/Segmentation/val.txt',
            metainfo=dict(classes=REVERSED),
            pipeline=[]))
    write_seed_png(str(tmp_path / 'x.png'), np.zeros((2, 2), np.uint8))
    with pytest.raises(SeedEvalError, match='PascalVOCDataset metainfo'):
        score_seed_dirs({'m': str(tmp_path)}, ds, show_progress=False)
