"""A user's own folder, as it comes (issue 25): spreadsheet label files,
files that are not images, masks with values outside the class list, EXIF-
rotated phone photos, and images left out named in the log."""
import logging
import os.path as osp

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmseg.registry import DATASETS
from PIL import Image

from mmwsss.datasets.folder import read_label_entries
from mmwsss.io import displayed_size, exif_orientation, read_rgb_image


@pytest.fixture
def folder(tmp_path):
    """images/{a,b,c}.jpg (16x12), classes.txt: cat, dog, traffic light."""
    root = tmp_path / 'data'
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    for name in 'abc':
        Image.new('RGB', (16, 12), (10, 200, 30)).save(
            root / 'images' / f'{name}.jpg')
    (root / 'classes.txt').write_text('cat\ndog\ntraffic light\n')
    return root


def _build(root, label_file='labels.csv', **kw):
    cfg = dict(
        type='ImageLabelFolderDataset',
        data_root=str(root),
        label_file=label_file,
        classes='classes.txt',
        serialize_data=False)
    if (root / 'masks').is_dir() and any((root / 'masks').iterdir()):
        cfg['data_prefix'] = dict(img_path='images', seg_map_path='masks')
    cfg.update(kw)
    return DATASETS.build(cfg)


def _labels(ds):
    return {
        ds.get_data_info(i)['img_id']: ds.get_data_info(i)['img_labels']
        for i in range(len(ds))
    }


WANT = {'a': [1, 3], 'b': [2], 'c': [1, 2]}


@pytest.mark.parametrize(
    'content',
    [
        # Excel "CSV UTF-8": BOM, CRLF, a header row
        '\ufeffimage,labels\r\na.jpg,cat;traffic light\r\nb,dog\r\n'
        'c,cat;dog\r\n',
        # a European-locale spreadsheet: ';' between fields, ',' in a field
        'Filename;Labels\r\na.jpg;"cat,traffic light"\r\nb;dog\r\n'
        'c;cat,dog\r\n',
        # one label a column, empty trailing columns, a capitalised header
        'File,Label 1,Label 2\na,cat,traffic light\nb,dog,\nc,cat,dog\n',
        # tab-separated
        'image\tlabels\na\tcat;traffic light\nb\tdog\nc\tcat dog\n',
        # indices, no header
        'a,1;3\nb,2\nc,1 2\n',
    ],
    ids=['bom-crlf', 'semicolon', 'columns', 'tab', 'indices'])
def test_spreadsheet_label_files(folder, content):
    (folder / 'labels.csv').write_bytes(content.encode('utf-8'))
    assert _labels(_build(folder)) == WANT
    assert read_label_entries(str(folder / 'labels.csv'))[0][0] in ('a',
                                                                    'a.jpg')


def test_label_file_not_utf8(folder):
    (folder / 'labels.csv').write_bytes('a,caf\xe9\n'.encode('latin-1'))
    with pytest.raises(ValueError, match='labels.csv is not UTF-8'):
        _build(folder)


@pytest.mark.parametrize('content', [b'', b'this is not a photo\n'],
                         ids=['zero-bytes', 'text'])
def test_labelled_file_that_is_not_an_image(folder, content):
    (folder / 'images' / 'b.jpg').write_bytes(content)
    (folder / 'labels.csv').write_text('a,cat\nb,dog\n')
    with pytest.raises(ValueError) as err:
        _build(folder)
    msg = str(err.value)
    assert 'cannot decode image' in msg and msg.count('\n') == 0
    assert osp.join('images', 'b.jpg') in msg


def test_mask_value_outside_the_class_list(folder):
    mask = np.zeros((12, 16), np.uint8)
    mask[2:5, 2:5] = 7  # 3 classes: 0..3 and 255 allowed
    mask[8:, 8:] = 255
    Image.fromarray(mask).save(folder / 'masks' / 'a.png')
    (folder / 'labels.csv').write_text('a,cat\nb,dog\n')
    with pytest.raises(ValueError, match=r'masks/a.png: class id 7 is '
                       r'outside the class list \(0..3, 255 = ignore\)'):
        _build(folder)
    mask[2:5, 2:5] = 3
    Image.fromarray(mask).save(folder / 'masks' / 'a.png')
    assert len(_build(folder)) == 2


def _phone_photo(path, stored_wh=(16, 12), orientation=6):
    """A JPEG stored landscape whose EXIF says: display rotated by 90."""
    img = Image.new('RGB', stored_wh, (200, 10, 10))
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif)


def test_exif_rotated_photo_and_its_mask(folder):
    photo = folder / 'images' / 'a.jpg'
    _phone_photo(photo)
    assert exif_orientation(str(photo)) == 6
    assert displayed_size(str(photo)) == (16, 12)  # (H, W) as displayed
    # every reader of mmwsss sees the displayed image
    assert read_rgb_image(str(photo)).shape == (16, 12, 3)
    (folder / 'labels.csv').write_text('a,cat\nb,dog\n')
    # a mask drawn on the stored (unrotated) pixels: refused, with the way
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(folder / 'masks' /
                                                       'a.png')
    with pytest.raises(ValueError) as err:
        _build(folder)
    msg = str(err.value)
    assert 'the stored size of' in msg and 'EXIF orientation 6' in msg
    assert 'draw the mask on the displayed image' in msg
    assert msg.count('\n') == 0
    # a mask drawn on the displayed photo: accepted, and it fits the image
    # that mmseg's loading pipeline gives the model
    mask = np.zeros((16, 12), np.uint8)
    mask[:4] = 1
    Image.fromarray(mask).save(folder / 'masks' / 'a.png')
    ds = _build(
        folder,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations')
        ])
    sample = ds[0]
    assert sample['img'].shape[:2] == sample['gt_seg_map'].shape == (16, 12)


def test_dropped_images_are_named(folder):
    (folder / 'labels.csv').write_text('a,cat\nb,\n')
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        ds = _build(folder)
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert ds.dropped_images == {
        'no foreground label': ['b'],
        'no label entry': ['c']
    }
    text = '\n'.join(lines)
    assert 'skipped 1 images without foreground labels' in text
    assert '\n  b' in text and '\n  c' in text
