"""COCOImageLabelDataset and tools/dataset_converters/coco_to_masks.py on a
tiny COCO file written here (PIL-drawn images, polygons, a crowd RLE)."""
import importlib.util
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

from mmwsss.class_names import COCO_CLASSES
from mmwsss.datasets import coco as coco_mod
from mmwsss.datasets.coco_masks import coco_semantic_mask

IMG1 = 'COCO_train2014_000000000001'
IMG2 = 'COCO_train2014_000000000002'
IMG3 = 'COCO_train2014_000000000003'  # no annotation


def _rect(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _crowd_rle(h, w, x0, x1):
    m = np.zeros((h, w), dtype=np.uint8, order='F')
    m[:, x0:x1] = 1
    rle = mask_utils.encode(m)
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


@pytest.fixture
def coco_root(tmp_path):
    """data_root with train2014/ (3 images) and annotations/instances.json.

    Image 1 (60x40): person box x 5..45 y 5..35 (area 1200), dog box
    x 20..30 y 10..20 on it (area 100), crowd of cars x >= 50.
    Image 2 (30x30): a toothbrush (category id 90 -> class 80).
    Image 3: no annotation.
    """
    root = tmp_path / 'coco'
    (root / 'train2014').mkdir(parents=True)
    (root / 'annotations').mkdir()
    for stem, (w, h) in [(IMG1, (60, 40)), (IMG2, (30, 30)),
                         (IMG3, (20, 20))]:
        img = Image.new('RGB', (w, h), (90, 120, 60))
        d = ImageDraw.Draw(img)
        d.rectangle([5, 5, 15, 15], fill=(200, 30, 30))
        img.save(root / 'train2014' / f'{stem}.jpg')
    images = [
        dict(id=1, file_name=IMG1 + '.jpg', height=40, width=60),
        dict(id=2, file_name=IMG2 + '.jpg', height=30, width=30),
        dict(id=3, file_name=IMG3 + '.jpg', height=20, width=20),
    ]
    anns = [
        dict(id=10, image_id=1, category_id=1, iscrowd=0, area=1200.0,
             segmentation=_rect(5, 5, 45, 35), bbox=[5, 5, 40, 30]),
        dict(id=11, image_id=1, category_id=18, iscrowd=0, area=100.0,
             segmentation=_rect(20, 10, 30, 20), bbox=[20, 10, 10, 10]),
        dict(id=12, image_id=1, category_id=3, iscrowd=1, area=400.0,
             segmentation=_crowd_rle(40, 60, 50, 60), bbox=[50, 0, 10, 40]),
        dict(id=13, image_id=2, category_id=90, iscrowd=0, area=100.0,
             segmentation=_rect(10, 10, 20, 20), bbox=[10, 10, 10, 10]),
    ]
    cats = [dict(id=c, name=n) for c, n in [(1, 'person'), (3, 'car'),
                                             (18, 'dog'), (90, 'toothbrush')]]
    with open(root / 'annotations' / 'instances.json', 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=cats), f)
    return str(root)


def _load_tool(repo_root):
    path = osp.join(repo_root, 'tools', 'dataset_converters',
                    'coco_to_masks.py')
    spec = importlib.util.spec_from_file_location('coco_to_masks', path)
    mod = importlib.util.module_from_spec(spec)
    # registered so that --nproc workers can unpickle its functions
    sys.modules['coco_to_masks'] = mod
    spec.loader.exec_module(mod)
    return mod


def _build(root, **kw):
    cfg = dict(
        type='COCOImageLabelDataset',
        data_root=root,
        ann_file='annotations/instances.json',
        data_prefix=dict(img_path='train2014'),
        serialize_data=False)
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_labels_and_metainfo(coco_root):
    ds = _build(coco_root)
    assert ds.metainfo['classes'] == COCO_CLASSES and len(COCO_CLASSES) == 81
    assert len(ds.metainfo['palette']) == 81
    assert len(ds) == 2  # the unannotated image is skipped
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert a['img_id'] == IMG1 and a['coco_id'] == 1
    assert a['img_path'] == osp.join(coco_root, 'train2014', IMG1 + '.jpg')
    # person=1, car=3 (crowd counts), dog=17
    assert a['img_labels'] == [1, 3, 17]
    assert COCO_CLASSES[17] == 'dog' and COCO_CLASSES[3] == 'car'
    assert b['img_labels'] == [80] and COCO_CLASSES[80] == 'toothbrush'
    assert a['seg_map_path'] is None
    ds = _build(coco_root, crowd_labels=False, skip_unlabeled=False)
    assert len(ds) == 3
    assert ds.get_data_info(0)['img_labels'] == [1, 17]
    assert ds.get_data_info(2)['img_labels'] == []


def test_split_file_and_label_cache(coco_root, tmp_path, monkeypatch):
    split = tmp_path / 'split.txt'
    split.write_text(f'{IMG2}\n{IMG1}\n')
    ds = _build(coco_root, split_file=str(split))
    assert [ds.get_data_info(i)['img_id'] for i in range(2)] == [IMG2, IMG1]
    split.write_text('COCO_train2014_999\n')
    with pytest.raises(KeyError, match='COCO_train2014_999'):
        _build(coco_root, split_file=str(split))

    cache = str(tmp_path / 'coco_labels.json')
    coco_mod._COCO_LABEL_CACHE.clear()
    _build(coco_root, label_cache=cache)
    with open(cache) as f:
        stored = json.load(f)
    assert stored['images'][0] == [IMG1 + '.jpg', 1, [1, 3, 17]]
    # a new process reads the cache, not the annotation file
    coco_mod._COCO_LABEL_CACHE.clear()
    import pycocotools.coco

    def boom(*a, **k):
        raise AssertionError('annotation file parsed despite the cache')

    monkeypatch.setattr(pycocotools.coco, 'COCO', boom)
    assert _build(
        coco_root, label_cache=cache).get_data_info(0)['img_labels'] == [
            1, 3, 17
        ]
    # in-memory cache of this process
    assert _build(coco_root).get_data_info(1)['img_labels'] == [80]


def test_semantic_mask_rule():
    h, w = 40, 60
    anns = [
        dict(category_id=1, iscrowd=0, area=1200.0,
             segmentation=_rect(5, 5, 45, 35)),
        dict(category_id=18, iscrowd=0, area=100.0,
             segmentation=_rect(20, 10, 30, 20)),
        dict(category_id=3, iscrowd=1, segmentation=_crowd_rle(h, w, 50, 60)),
    ]
    m = coco_semantic_mask(h, w, anns)
    assert m.dtype == np.uint8 and m.shape == (h, w)
    assert m[15, 25] == 17  # dog painted on top of the larger person
    assert m[30, 10] == 1  # person only
    assert m[20, 55] == 255  # crowd, not covered by an instance
    assert m[2, 2] == 0 and m[38, 48] == 0
    # the order of the annotations does not matter (area order does)
    assert np.array_equal(coco_semantic_mask(h, w, anns[::-1]), m)
    m2 = coco_semantic_mask(h, w, anns, ignore_overlap=True)
    assert m2[15, 25] == 255 and m2[30, 10] == 1
    m3 = coco_semantic_mask(h, w, anns, crowd_as_label=True)
    assert m3[20, 55] == 3 and m3[15, 25] == 17
    # unknown category id
    with pytest.raises(ValueError, match='category id 12'):
        coco_semantic_mask(
            h, w, [dict(category_id=12, segmentation=_rect(1, 1, 5, 5))])


def test_converter_pngs_resume_and_dataset_gt(coco_root, repo_root, capsys):
    tool = _load_tool(repo_root)
    ann = osp.join(coco_root, 'annotations', 'instances.json')
    out = osp.join(coco_root, 'SegmentationClass', 'train2014')
    assert tool.main([ann, out]) == 0
    assert '3 masks written' in capsys.readouterr().out
    names = sorted(os.listdir(out))
    assert names == [IMG1 + '.png', IMG2 + '.png', IMG3 + '.png']
    with Image.open(osp.join(out, IMG1 + '.png')) as im:
        assert im.mode == 'P' and im.size == (60, 40)
        m1 = np.array(im)
    assert m1[15, 25] == 17 and m1[30, 10] == 1 and m1[20, 55] == 255
    assert m1[2, 2] == 0
    assert set(np.unique(m1).tolist()) == {0, 1, 17, 255}
    m2 = np.array(Image.open(osp.join(out, IMG2 + '.png')))
    assert m2[15, 15] == 80 and set(np.unique(m2).tolist()) == {0, 80}
    assert not np.array(Image.open(osp.join(out, IMG3 + '.png'))).any()

    # resume: nothing rewritten
    mtimes = {n: os.stat(osp.join(out, n)).st_mtime_ns for n in names}
    tool.main([ann, out])
    assert '0 masks written, 3 skipped' in capsys.readouterr().out
    assert mtimes == {n: os.stat(osp.join(out, n)).st_mtime_ns for n in names}
    # --overwrite with options, 2 processes
    tool.main([ann, out, '--overwrite', '--ignore-overlap',
               '--crowd-as-label', '--nproc', '2'])
    assert '3 masks written' in capsys.readouterr().out
    m1b = np.array(Image.open(osp.join(out, IMG1 + '.png')))
    assert m1b[15, 25] == 255 and m1b[20, 55] == 3 and m1b[30, 10] == 1
    assert not [n for n in os.listdir(out) if n.endswith('.tmp')]

    # the dataset with the converter's GT, through mmseg's LoadAnnotations
    tool.main([ann, out, '--overwrite'])
    ds = _build(
        coco_root,
        data_prefix=dict(
            img_path='train2014', seg_map_path='SegmentationClass/train2014'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackWSSSInputs')
        ])
    sample = ds[0]
    gt = sample['data_samples'].gt_sem_seg.data[0].numpy()
    assert np.array_equal(gt, m1)
    assert sample['data_samples'].img_labels == [1, 3, 17]
    assert sample['inputs'].shape == (3, 40, 60)


def test_bad_input(coco_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.json'):
        _build(coco_root, ann_file='annotations/nothing.json')
    # missing GT masks, named
    os.makedirs(osp.join(coco_root, 'gt'))
    with pytest.raises(
            FileNotFoundError,
            match=f'(?s)2 ground-truth masks not found.*{IMG1}.png.*'
            'coco_to_masks.py'):
        _build(
            coco_root,
            data_prefix=dict(img_path='train2014', seg_map_path='gt'))
    # missing image, named
    os.remove(osp.join(coco_root, 'train2014', IMG2 + '.jpg'))
    with pytest.raises(FileNotFoundError, match=IMG2 + '.jpg'):
        _build(coco_root)
    # unknown category id: error names the file, image and id
    ann = osp.join(coco_root, 'annotations', 'instances.json')
    with open(ann) as f:
        data = json.load(f)
    data['annotations'][0]['category_id'] = 12
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=f'bad.json.*{IMG1}.*category id 12'):
        _build(coco_root, ann_file=str(bad))
    data['images'] = []
    data['annotations'] = []
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match='lists no images'):
        _build(coco_root, ann_file=str(bad))


def test_class_order_and_names(coco_root):
    """Issue 12: a reordered COCO class list is an error, renamed classes a
    warning (the new names are used, indices keep their COCO meaning)."""
    with pytest.raises(ValueError, match='COCO classes in another order'):
        _build(coco_root, metainfo=dict(classes=COCO_CLASSES[::-1]))
    import logging

    from mmengine.logging import MMLogger
    lines = []
    handler = logging.Handler()
    handler.emit = lambda r: lines.append(r.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    renamed = ('background', 'human') + COCO_CLASSES[2:]
    ds = _build(coco_root, metainfo=dict(classes=renamed))
    assert ds.metainfo['classes'] == renamed
    assert ds.get_data_info(0)['img_labels'] == [1, 3, 17]
    assert any("1: 'human' for 'person'" in ln for ln in lines), lines
