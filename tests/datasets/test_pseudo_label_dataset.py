"""PseudoLabelDataset: seeds written here, standard mmseg pipelines and
dataloaders, missing seeds, class-frequency log, bad seeds."""
import logging
import os
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmseg.registry import DATASETS
from PIL import Image

from mmwsss.class_names import VOC_CLASSES
from mmwsss.io import read_seed_png, write_seed_png

STD_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def _inner(root, split='train.txt', **kw):
    cfg = dict(
        type='VOCImageLabelDataset',
        data_root=root,
        ann_file=f'ImageSets/Segmentation/{split}',
        serialize_data=False)
    cfg.update(kw)
    return cfg


def _pascal_voc(root):
    """mmseg's own PascalVOCDataset on the bundled train images."""
    return dict(
        type='PascalVOCDataset',
        data_root=root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt')


def _ids(root, split='train.txt'):
    with open(osp.join(root, 'ImageSets', 'Segmentation', split)) as f:
        return [ln.strip() for ln in f if ln.strip()]


@pytest.fixture
def seed_dir(tmp_path, voc_mini_root):
    """Seeds of the 10 train images: stripes of the image's classes."""
    out = tmp_path / 'seeds'
    import json
    with open(osp.join(voc_mini_root, 'image_labels.json')) as f:
        labels = json.load(f)
    for k, img_id in enumerate(_ids(voc_mini_root)):
        with Image.open(
                osp.join(voc_mini_root, 'JPEGImages', img_id + '.jpg')) as im:
            w, h = im.size
        seed = np.zeros((h, w), dtype=np.uint8)
        for j, c in enumerate(labels[img_id]):
            seed[:, (2 * j + 1) * w // 8:(2 * j + 2) * w // 8] = c
        if k == 0:
            seed[:4, :4] = 255  # ignore is allowed
        write_seed_png(str(out / f'{img_id}.png'), seed)
    return str(out)


@pytest.fixture
def log_records():
    """Records of mmengine's current logger."""
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record)

    logger = MMLogger.get_current_instance()
    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_pairs_images_with_seeds(voc_mini_root, seed_dir):
    ds = DATASETS.build(
        dict(
            type='PseudoLabelDataset',
            dataset=_inner(voc_mini_root),
            seed_dir=seed_dir,
            pipeline=STD_PIPELINE))
    ids = _ids(voc_mini_root)
    assert len(ds) == 10
    assert ds.metainfo['classes'] == VOC_CLASSES
    assert ds.metainfo['palette'] == ds.dataset.metainfo['palette']
    for i in (0, 5):
        info = ds.get_data_info(i)
        assert info['img_id'] == ids[i]
        assert info['seg_map_path'] == osp.join(seed_dir, ids[i] + '.png')
        assert info['gt_seg_map_path'] == osp.join(
            voc_mini_root, 'SegmentationClass', ids[i] + '.png')
        assert info['img_labels'] == ds.dataset.get_data_info(i)['img_labels']
        assert info['label_map'] is None and not info['reduce_zero_label']
        out = ds[i]
        seed = read_seed_png(info['seg_map_path'])
        gt = out['data_samples'].gt_sem_seg.data[0].numpy()
        assert np.array_equal(gt, seed)
        assert out['inputs'].shape[1:] == seed.shape
    assert (read_seed_png(ds.get_data_info(0)['seg_map_path']) == 255).sum() \
        == 16


def test_mmseg_dataloader_and_inner_pascal_voc(voc_mini_root, seed_dir):
    """Built the way mmengine builds a train dataloader from a config;
    the inner dataset is mmseg's own PascalVOCDataset."""
    inner = _pascal_voc(voc_mini_root)
    loader = Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='PseudoLabelDataset',
                dataset=inner,
                seed_dir=seed_dir,
                pipeline=STD_PIPELINE + [])),
        seed=0)
    batch = next(iter(loader))
    ids = _ids(voc_mini_root)
    for k in range(2):
        sample = batch['data_samples'][k]
        assert sample.img_path.endswith(ids[k] + '.jpg')
        seed = read_seed_png(osp.join(seed_dir, ids[k] + '.png'))
        assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), seed)
    info = loader.dataset.get_data_info(0)
    assert 'img_labels' not in info  # mmseg's dataset has none
    assert info['img_id'] == ids[0]


def test_inner_concat_dataset(voc_mini_root, seed_dir):
    """mmseg's VOC aug config trains on a ConcatDataset (train + aug)."""
    voc = _pascal_voc(voc_mini_root)
    ds = DATASETS.build(
        dict(
            type='PseudoLabelDataset',
            dataset=dict(type='ConcatDataset', datasets=[voc, voc]),
            seed_dir=seed_dir,
            pipeline=STD_PIPELINE))
    assert len(ds) == 20
    assert ds.get_data_info(13)['seg_map_path'] == osp.join(
        seed_dir,
        _ids(voc_mini_root)[3] + '.png')
    assert ds.metainfo['classes'] == VOC_CLASSES


def test_override_of_an_mmseg_config(voc_mini_root, seed_dir, tmp_path):
    """`train_dataloader.dataset` of mmseg's VOC aug config replaced by a
    PseudoLabelDataset; mmseg's own train pipeline runs on the seeds."""
    cfg_path = tmp_path / 'pseudo_cfg.py'
    cfg_path.write_text(
        "_base_ = ['mmseg::_base_/datasets/pascal_voc12_aug.py']\n"
        'train_dataloader = dict(dataset=dict(\n'
        "    _delete_=True, type='PseudoLabelDataset',\n"
        f'    seed_dir={seed_dir!r},\n'
        f"    dataset=dict(type='VOCImageLabelDataset', "
        f'data_root={voc_mini_root!r},\n'
        "        ann_file='ImageSets/Segmentation/train.txt'),\n"
        '    pipeline={{_base_.train_pipeline}}))\n')
    cfg = Config.fromfile(str(cfg_path))
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.pipeline[-1]['type'] == 'PackSegInputs'
    ds = DATASETS.build(ds_cfg)
    out = ds[3]
    gt = out['data_samples'].gt_sem_seg.data[0].numpy()
    assert out['inputs'].shape[1:] == (512, 512) == gt.shape
    seed_values = set(
        np.unique(read_seed_png(ds.get_data_info(3)['seg_map_path'])))
    # the crop holds seed classes (+ 255 from mmseg's Pad)
    assert set(np.unique(gt).tolist()) <= seed_values | {255}


def test_missing_seeds(voc_mini_root, seed_dir, log_records):
    ids = _ids(voc_mini_root)
    os.remove(osp.join(seed_dir, ids[4] + '.png'))
    cfg = dict(
        type='PseudoLabelDataset',
        dataset=_inner(voc_mini_root),
        seed_dir=seed_dir)
    with pytest.raises(FileNotFoundError) as e:
        DATASETS.build(cfg)
    msg = str(e.value)
    assert '1 of 10 images have no seed' in msg
    assert osp.join('JPEGImages', ids[4] + '.jpg') in msg
    assert 'allow_missing' in msg
    ds = DATASETS.build(dict(cfg, allow_missing=True))
    assert len(ds) == 9
    assert ids[4] not in [ds.get_data_info(i)['img_id'] for i in range(9)]
    warn = [r for r in log_records if r.levelno == logging.WARNING]
    assert warn and ids[4] in warn[-1].getMessage()


def test_many_missing_seeds_listing(voc_mini_root, tmp_path):
    empty = tmp_path / 'no_seeds'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='10 of 10 images'):
        DATASETS.build(
            dict(
                type='PseudoLabelDataset',
                dataset=_inner(voc_mini_root),
                seed_dir=str(empty)))
    with pytest.raises(FileNotFoundError, match='seed folder not found'):
        DATASETS.build(
            dict(
                type='PseudoLabelDataset',
                dataset=_inner(voc_mini_root),
                seed_dir=str(tmp_path / 'nowhere')))
    with pytest.raises(ValueError, match='seed_dir is not set'):
        DATASETS.build(
            dict(
                type='PseudoLabelDataset',
                dataset=_inner(voc_mini_root),
                seed_dir=None))


def test_class_frequency_log(voc_mini_root, seed_dir, log_records):
    DATASETS.build(
        dict(
            type='PseudoLabelDataset',
            dataset=_inner(voc_mini_root),
            seed_dir=seed_dir))
    text = '\n'.join(r.getMessage() for r in log_records)
    assert 'pixel share over 10 seeds' in text
    counts = np.zeros(256, dtype=np.int64)
    for name in os.listdir(seed_dir):
        counts += np.bincount(
            read_seed_png(osp.join(seed_dir, name)).ravel(), minlength=256)
    share = counts / counts.sum()
    for c in (0, 1, 15):
        assert f'{VOC_CLASSES[c]} {100 * share[c]:.1f}%' in text
    assert f'ignore {100 * share[255]:.1f}%' in text
    # classes not in the train seeds are reported as absent
    assert re.search(r'absent from the sampled seeds: .*tvmonitor', text)
    # image counts from img_labels: aeroplane in 3 train images
    assert 'aeroplane 3' in text and 'person 2' in text


def test_bad_seeds(voc_mini_root, seed_dir):
    ids = _ids(voc_mini_root)
    cfg = dict(
        type='PseudoLabelDataset',
        dataset=_inner(voc_mini_root),
        seed_dir=seed_dir)
    path = osp.join(seed_dir, ids[0] + '.png')
    seed = read_seed_png(path)
    bad = seed.copy()
    bad[10, 10] = 42
    write_seed_png(path, bad, overwrite=True)
    with pytest.raises(ValueError, match=f'{ids[0]}.png.*class id 42'):
        DATASETS.build(cfg)
    write_seed_png(path, seed[:-3], overwrite=True)
    with pytest.raises(ValueError, match=f'{ids[0]}.png is'):
        DATASETS.build(cfg)
    with open(path, 'wb') as f:
        f.write(b'broken')
    with pytest.raises(ValueError, match=f'{ids[0]}.png'):
        DATASETS.build(cfg)
