"""ImageLabelFolderDataset: JSON and CSV labels, class lists, bad input."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmwsss.class_names import voc_colormap
from mmwsss.datasets.folder import read_class_names, read_label_entries


@pytest.fixture
def folder(tmp_path):
    """images/{a.jpg, b.png, c.jpg, extra.jpg}, masks/a.png, classes.txt."""
    root = tmp_path / 'data'
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    for name, size in [('a.jpg', (16, 12)), ('b.png', (10, 10)),
                       ('c.jpg', (8, 8)), ('extra.jpg', (8, 8))]:
        Image.new('RGB', size, (10, 200, 30)).save(root / 'images' / name)
    mask = np.zeros((12, 16), dtype=np.uint8)
    mask[2:6, 2:6] = 2
    Image.fromarray(mask).save(root / 'masks' / 'a.png')
    (root / 'classes.txt').write_text('cat\ndog\ntraffic light\n')
    return str(root)


def _build(root, label_file, **kw):
    cfg = dict(
        type='ImageLabelFolderDataset',
        data_root=root,
        label_file=label_file,
        classes='classes.txt',
        serialize_data=False)
    cfg.update(kw)
    return DATASETS.build(cfg)


def _infos(ds):
    return {
        ds.get_data_info(i)['img_id']: ds.get_data_info(i)
        for i in range(len(ds))
    }


def test_class_names():
    assert read_class_names(['cat', 'dog']) == ('background', 'cat', 'dog')
    assert read_class_names(['Background', 'cat']) == ('Background', 'cat')
    with pytest.raises(ValueError, match='no foreground'):
        read_class_names(['background'])
    with pytest.raises(ValueError, match='repeated'):
        read_class_names(['cat', 'cat'])
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        read_class_names('/nope.txt')


def test_json_labels(folder):
    labels = {
        'a': ['dog', 'cat'],
        'b.png': [3, 'background'],
        'c': ['DOG'],
    }
    with open(osp.join(folder, 'labels.json'), 'w') as f:
        json.dump(labels, f)
    ds = _build(
        folder, 'labels.json',
        data_prefix=dict(img_path='images', seg_map_path='masks'))
    assert ds.metainfo['classes'] == ('background', 'cat', 'dog',
                                      'traffic light')
    assert ds.metainfo['palette'] == voc_colormap(4)
    infos = _infos(ds)
    assert sorted(infos) == ['a', 'b', 'c']  # extra.jpg has no label entry
    assert infos['a']['img_labels'] == [1, 2]
    assert infos['b']['img_labels'] == [3]
    assert infos['c']['img_labels'] == [2]
    assert infos['a']['img_path'] == osp.join(folder, 'images', 'a.jpg')
    assert infos['b']['img_path'] == osp.join(folder, 'images', 'b.png')
    assert infos['a']['seg_map_path'] == osp.join(folder, 'masks', 'a.png')
    assert infos['b']['seg_map_path'] is None
    # classes given as a list in the config, background added
    ds = _build(folder, 'labels.json', classes=['cat', 'dog', 'traffic light'])
    assert ds.metainfo['classes'][0] == 'background'
    # standard pipeline with the optional GT
    ds = _build(
        folder, 'labels.json',
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations'),
                  dict(type='PackWSSSInputs')])
    out = ds[0]
    assert out['data_samples'].img_id == 'a'
    assert out['data_samples'].img_labels == [1, 2]
    assert out['data_samples'].gt_sem_seg.data.sum() == 2 * 16


def test_csv_labels(folder):
    with open(osp.join(folder, 'labels.csv'), 'w') as f:
        f.write('image,labels\n'
                'a.jpg,cat;traffic light\n'
                'b,1 2\n'
                'c,\n')
    ds = _build(folder, 'labels.csv', skip_unlabeled=False)
    infos = _infos(ds)
    assert infos['a']['img_labels'] == [1, 3]
    assert infos['b']['img_labels'] == [1, 2]
    assert infos['c']['img_labels'] == []
    # c has no label: skipped by default
    assert sorted(_infos(_build(folder, 'labels.csv'))) == ['a', 'b']
    assert read_label_entries(osp.join(folder, 'labels.csv'))[0] == (
        'a.jpg', ['cat', 'traffic light'])


def test_bad_input(folder, tmp_path):
    lf = osp.join(folder, 'labels.json')

    def write(obj):
        with open(lf, 'w') as f:
            json.dump(obj, f)

    write({'a': [7]})
    with pytest.raises(ValueError, match='sample a: class id 7 is outside'):
        _build(folder, 'labels.json')
    write({'a': ['horse']})
    with pytest.raises(ValueError, match="sample a: class 'horse'"):
        _build(folder, 'labels.json')
    write({})
    with pytest.raises(ValueError, match='labels.json.*lists no images'):
        _build(folder, 'labels.json')
    write({'a': ['cat'], 'ghost': ['cat']})
    with pytest.raises(
            FileNotFoundError, match='(?s)1 labelled images.*ghost'):
        _build(folder, 'labels.json')
    with pytest.raises(FileNotFoundError, match='missing.json'):
        _build(folder, 'missing.json')
    # an image folder with no images
    empty = tmp_path / 'empty'
    empty.mkdir()
    write({'a': ['cat']})
    with pytest.raises(ValueError, match=f'no images in the image folder '
                       f'{empty}'):
        _build(folder, 'labels.json', data_prefix=dict(img_path=str(empty)))
    # every labelled image unlabelled -> nothing to load
    write({'a': []})
    with pytest.raises(ValueError, match='no images to load'):
        _build(folder, 'labels.json')
    with pytest.raises(ValueError, match='classes'):
        DATASETS.build(
            dict(type='ImageLabelFolderDataset', data_root=folder,
                 label_file='labels.json'))
    os.remove(osp.join(folder, 'images', 'a.jpg'))
    with pytest.raises(FileNotFoundError,
                       match='(?s)1 labelled images are not in.*  a$'):
        _build(folder, 'labels.json')
