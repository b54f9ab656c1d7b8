"""VOCImageLabelDataset on the bundled real VOC images and on broken copies."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmwsss.class_names import VOC_CLASSES, voc_colormap
from mmwsss.datasets import image_label
from mmwsss.datasets.image_label import derive_mask_labels, load_label_file


def _build(root, **kw):
    cfg = dict(
        type='VOCImageLabelDataset',
        data_root=root,
        ann_file='ImageSets/Segmentation/train.txt',
        serialize_data=False)  # mmengine's gc.collect costs 0.2 s a build
    cfg.update(kw)
    return DATASETS.build(cfg)


def _ids(root, split):
    with open(osp.join(root, 'ImageSets', 'Segmentation', split)) as f:
        return [ln.strip() for ln in f if ln.strip()]


@pytest.fixture
def voc_copy(tmp_path, voc_mini_root):
    """A writable copy of data/voc_mini (15 small files, copied)."""
    dst = tmp_path / 'voc'
    shutil.copytree(voc_mini_root, dst)
    return str(dst)


def _write_split(root, name, ids):
    path = osp.join(root, 'ImageSets', 'Segmentation', name)
    with open(path, 'w') as f:
        f.write(''.join(i + '\n' for i in ids))
    return path


def test_labels_from_masks_equal_label_json(voc_mini_root):
    with open(osp.join(voc_mini_root, 'image_labels.json')) as f:
        expected = json.load(f)
    for split in ('train.txt', 'val.txt'):
        ds = _build(voc_mini_root, ann_file=f'ImageSets/Segmentation/{split}')
        ids = _ids(voc_mini_root, split)
        assert len(ds) == len(ids)
        for i, img_id in enumerate(ids):
            info = ds.get_data_info(i)
            assert info['img_id'] == img_id
            assert info['img_labels'] == expected[img_id]
            assert info['img_path'] == osp.join(voc_mini_root, 'JPEGImages',
                                                img_id + '.jpg')
            assert info['seg_map_path'] == osp.join(
                voc_mini_root, 'SegmentationClass', img_id + '.png')
            assert info['label_map'] is None
            assert info['reduce_zero_label'] is False
            assert info['seg_fields'] == []
            assert info['sample_idx'] == i


def test_labels_from_json_file(voc_mini_root, tmp_path):
    # A label file that differs from the masks proves where labels come from.
    with open(osp.join(voc_mini_root, 'image_labels.json')) as f:
        table = json.load(f)
    table['2007_000032'] = [20, 3, 3, 0]  # unsorted, duplicate, background
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps(table))
    ds = _build(voc_mini_root, label_file=str(path))
    assert ds.get_data_info(0)['img_id'] == '2007_000032'
    assert ds.get_data_info(0)['img_labels'] == [3, 20]
    assert ds.get_data_info(1)['img_labels'] == table[_ids(
        voc_mini_root, 'train.txt')[1]]
    # relative to data_root
    ds = _build(voc_mini_root, label_file='image_labels.json')
    assert ds.get_data_info(0)['img_labels'] == [1, 15]


def test_labels_from_cls_labels_npy(voc_mini_root, tmp_path):
    with open(osp.join(voc_mini_root, 'image_labels.json')) as f:
        table = json.load(f)
    multi_hot = {}
    for k, v in table.items():
        vec = np.zeros(20, dtype=np.float32)
        vec[np.asarray(v) - 1] = 1
        multi_hot[k] = vec
    path = tmp_path / 'cls_labels.npy'
    np.save(path, multi_hot)
    assert load_label_file(str(path), 20) == table
    ds = _build(voc_mini_root, label_file=str(path))
    for i, img_id in enumerate(_ids(voc_mini_root, 'train.txt')):
        assert ds.get_data_info(i)['img_labels'] == table[img_id]
    # IRN's int keys (2007000032) are entered with the underscore too.
    np.save(path, {2007000032: multi_hot['2007_000032']})
    assert load_label_file(str(path), 20)['2007_000032'] == [1, 15]
    np.save(path, {'2007_000032': np.ones(21)})
    with pytest.raises(ValueError, match='2007_000032.*21 entries'):
        load_label_file(str(path), 20)


def test_metainfo(voc_mini_root):
    ds = _build(voc_mini_root, serialize_data=True)
    assert ds.metainfo['classes'] == VOC_CLASSES
    assert ds.metainfo['palette'] == voc_colormap(21)
    assert ds.metainfo['label_map'] is None
    assert ds.num_fg_classes == 20
    # mmseg's own VOC palette is the same colour map
    from mmseg.datasets import PascalVOCDataset
    assert PascalVOCDataset.METAINFO['palette'] == voc_colormap(21)
    with pytest.raises(ValueError, match='metainfo.classes'):
        _build(voc_mini_root, metainfo=dict(classes=('background', 'cat')))


def test_seg_map_fallback_and_no_gt(voc_copy):
    # trainaug layout: masks of two images only in SegmentationClassAug.
    ids = _ids(voc_copy, 'train.txt')
    aug = osp.join(voc_copy, 'SegmentationClassAug')
    os.makedirs(aug)
    for i in ids[:2]:
        shutil.move(
            osp.join(voc_copy, 'SegmentationClass', i + '.png'),
            osp.join(aug, i + '.png'))
    ds = _build(voc_copy, seg_map_fallback=['SegmentationClassAug'])
    assert ds.get_data_info(0)['seg_map_path'] == osp.join(
        aug, ids[0] + '.png')
    assert ds.get_data_info(2)['seg_map_path'] == osp.join(
        voc_copy, 'SegmentationClass', ids[2] + '.png')
    assert ds.get_data_info(0)['img_labels'] == [1, 15]
    # without the fallback, mask-derived labels cannot be made: error
    with pytest.raises(FileNotFoundError, match=ids[0]) as e:
        _build(voc_copy)
    assert '2 images have no mask' in str(e.value)
    # with a label file, GT is optional: None where missing
    ds = _build(voc_copy, label_file='image_labels.json')
    assert ds.get_data_info(0)['seg_map_path'] is None
    assert ds.get_data_info(2)['seg_map_path'] is not None
    # a split without any GT folder
    ds = _build(
        voc_copy,
        label_file='image_labels.json',
        data_prefix=dict(img_path='JPEGImages', seg_map_path=None))
    assert all(
        ds.get_data_info(i)['seg_map_path'] is None for i in range(len(ds)))
    with pytest.raises(FileNotFoundError, match='NoSuchFolder'):
        _build(voc_copy, seg_map_fallback=['NoSuchFolder'])


def test_label_cache_file_and_memory(voc_mini_root, tmp_path, monkeypatch):
    cache = str(tmp_path / 'labels_cache.json')
    image_label._MASK_LABEL_CACHE.clear()
    ds = _build(voc_mini_root, label_cache=cache)
    with open(cache) as f:
        stored = json.load(f)['masks']
    assert len(stored) == 10
    first = osp.abspath(ds.get_data_info(0)['seg_map_path'])
    assert stored[first][2] == [1, 15]

    calls = []
    real = image_label.labels_from_mask

    def counting(path, *a, **k):
        calls.append(path)
        return real(path, *a, **k)

    monkeypatch.setattr(image_label, 'labels_from_mask', counting)
    # in-memory cache: no PNG is read again
    _build(voc_mini_root)
    assert calls == []
    # disk cache: a fresh process (empty memory) reads the JSON, not PNGs;
    # a tampered entry shows that the file is what was used.
    image_label._MASK_LABEL_CACHE.clear()
    stored[first][2] = [7]
    with open(cache, 'w') as f:
        json.dump(dict(version=1, ignore_index=255, masks=stored), f)
    ds = _build(voc_mini_root, label_cache=cache)
    assert calls == []
    assert ds.get_data_info(0)['img_labels'] == [7]
    # a stale entry (mask changed: other mtime) is recomputed
    image_label._MASK_LABEL_CACHE.clear()
    stored[first][0] -= 1
    with open(cache, 'w') as f:
        json.dump(dict(version=1, ignore_index=255, masks=stored), f)
    ds = _build(voc_mini_root, label_cache=cache)
    assert [osp.abspath(c) for c in calls] == [first]
    assert ds.get_data_info(0)['img_labels'] == [1, 15]


def test_derive_mask_labels_threads_match_serial(voc_mini_root):
    paths = sorted(
        osp.join(voc_mini_root, 'SegmentationClass', f)
        for f in os.listdir(osp.join(voc_mini_root, 'SegmentationClass')))
    image_label._MASK_LABEL_CACHE.clear()
    serial = derive_mask_labels(paths, 20, nproc=1)
    image_label._MASK_LABEL_CACHE.clear()
    threaded = derive_mask_labels(paths, 20, nproc=4)
    assert serial == threaded
    assert len(serial) == 15 and all(serial)


# ----------------------------------------------------------------- bad input


def test_empty_split_file(voc_copy):
    path = _write_split(voc_copy, 'empty.txt', [])
    with pytest.raises(ValueError, match='empty.txt.*empty'):
        _build(voc_copy, ann_file='ImageSets/Segmentation/empty.txt')
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        _build(voc_copy, ann_file='ImageSets/Segmentation/nope.txt')
    assert osp.isfile(path)


def test_missing_images_listed(voc_copy):
    ids = _ids(voc_copy, 'train.txt')
    os.remove(osp.join(voc_copy, 'JPEGImages', ids[3] + '.jpg'))
    with pytest.raises(FileNotFoundError) as e:
        _build(voc_copy)
    assert '1 images not found' in str(e.value)
    assert ids[3] + '.jpg' in str(e.value)
    # many missing: first 20 listed, plus the count
    many = [f'ghost_{k:03d}' for k in range(25)]
    _write_split(voc_copy, 'ghosts.txt', many)
    with pytest.raises(FileNotFoundError) as e:
        _build(
            voc_copy,
            ann_file='ImageSets/Segmentation/ghosts.txt',
            label_file='ghosts.json')
    msg = str(e.value)
    assert '25 images not found' in msg and 'ghost_019.jpg' in msg
    assert 'ghost_020.jpg' not in msg and '... and 5 more' in msg


def test_unreadable_image_names_file(voc_copy):
    ids = _ids(voc_copy, 'train.txt')
    with open(osp.join(voc_copy, 'JPEGImages', ids[0] + '.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    ds = _build(
        voc_copy,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackWSSSInputs')])
    with pytest.raises(Exception, match=ids[0] + '.jpg'):
        ds[0]


def test_label_id_outside_class_list(voc_copy, tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps({'2007_000032': [1, 25]}))
    with pytest.raises(ValueError, match='2007_000032.*class id 25'):
        _build(voc_copy, label_file=str(path))
    path.write_text(json.dumps({'2007_000032': ['cat']}))
    with pytest.raises(ValueError, match="2007_000032.*'cat'"):
        _build(voc_copy, label_file=str(path))
    # a mask value outside 0..20 (not 255)
    ids = _ids(voc_copy, 'train.txt')
    mask_path = osp.join(voc_copy, 'SegmentationClass', ids[1] + '.png')
    arr = np.array(Image.open(mask_path))
    arr[0, 0] = 42
    Image.fromarray(arr).save(mask_path)
    with pytest.raises(ValueError, match=ids[1] + r'.png.*class id 42'):
        _build(voc_copy)


def test_label_file_missing_entries(voc_copy, tmp_path):
    path = tmp_path / 'partial.json'
    path.write_text(json.dumps({'2007_000032': [1]}))
    with pytest.raises(KeyError, match='9 images have no entry') as e:
        _build(voc_copy, label_file=str(path))
    assert 'dlv3p_d1182fc_0008' in str(e.value)
    with pytest.raises(FileNotFoundError, match='nothere.json'):
        _build(voc_copy, label_file='nothere.json')
    path.write_text('{broken')
    with pytest.raises(ValueError, match='partial.json'):
        _build(voc_copy, label_file=str(path))
