"""Seed PNG / overlay / JSON I/O: round trip, atomic writes, resume, errors."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from mmwsss.class_names import voc_colormap
from mmwsss.io import atomic
from mmwsss.io import (dump_json_atomic, finished_seed, is_done,
                       pending_seeds, read_seed_png, render_seed_overlay,
                       seed_path, write_seed_overlay, write_seed_png)


def _seed(h=6, w=9):
    seed = (np.arange(h * w).reshape(h, w) % 21).astype(np.uint8)
    seed[0, 0] = 255
    return seed


def test_seed_path_and_is_done(tmp_path):
    assert seed_path('out', '/data/JPEGImages/2007_000032.jpg') == \
        os.path.join('out', '2007_000032.png')
    assert seed_path('s', 'a.b.jpg') == os.path.join('s', 'a.b.png')
    p = tmp_path / 'x.png'
    assert not is_done(str(p))
    p.write_bytes(b'')
    assert not is_done(str(p))  # empty file is not a finished output
    p.write_bytes(b'x')
    assert is_done(str(p))


def test_finished_seed_is_the_one_rule_of_resume(tmp_path):
    """finished_seed: a non-empty seed PNG in the folder, unless the run
    overwrites or has no folder; pending_seeds: the images without one in
    every folder, in order."""
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    imgs = ['/data/JPEGImages/x.jpg', 'y.jpg', 'z.jpeg', 'w.jpg']
    write_seed_png(seed_path(a, imgs[0]), _seed())
    write_seed_png(seed_path(a, imgs[1]), _seed())
    write_seed_png(seed_path(b, imgs[0]), _seed())
    os.makedirs(b, exist_ok=True)
    open(seed_path(b, imgs[1]), 'wb').close()  # empty: not finished
    write_seed_png(seed_path(b, imgs[3]), _seed())

    assert finished_seed(a, imgs[0]) == seed_path(a, imgs[0])
    assert finished_seed(a, 'other/dir/x.png') == seed_path(a, imgs[0])
    assert finished_seed(a, imgs[2]) is None  # not written
    assert finished_seed(b, imgs[1]) is None  # empty file
    assert finished_seed(a, imgs[0], overwrite=True) is None
    assert finished_seed(None, imgs[0]) is None
    assert finished_seed('', imgs[0]) is None

    assert pending_seeds(imgs, a) == [2, 3]
    assert pending_seeds(imgs, [a]) == [2, 3]
    assert pending_seeds(imgs, b) == [1, 2]
    assert pending_seeds(imgs, [a, b]) == [1, 2, 3]  # all folders needed
    assert pending_seeds(imgs, [a, b], overwrite=True) == [0, 1, 2, 3]
    assert pending_seeds(imgs, None) == [0, 1, 2, 3]
    assert pending_seeds(iter(imgs), (a, )) == [2, 3]  # any iterable
    assert pending_seeds([], a) == []


def test_round_trip_palette_png(tmp_path):
    seed = _seed()
    path = str(tmp_path / 'sub' / 'img.png')
    assert write_seed_png(path, seed)
    np.testing.assert_array_equal(read_seed_png(path), seed)
    with Image.open(path) as img:
        assert img.mode == 'P'
        pal = np.array(img.getpalette()).reshape(-1, 3)
    np.testing.assert_array_equal(pal[:21], voc_colormap(21))
    np.testing.assert_array_equal(pal[255], [224, 224, 192])
    # only the PNG in the folder: no temporary file left
    assert os.listdir(tmp_path / 'sub') == ['img.png']
    # usual permissions, not mkstemp's 0600
    assert os.stat(path).st_mode & 0o044


def test_tensor_input_custom_palette_and_bad_values(tmp_path):
    seed = torch.tensor([[[0, 1], [2, 1]]])  # (1, H, W) int64
    path = str(tmp_path / 't.png')
    write_seed_png(path, seed, palette=[[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(read_seed_png(path), [[0, 1], [2, 1]])
    with Image.open(path) as img:
        pal = np.array(img.getpalette()).reshape(-1, 3)
    np.testing.assert_array_equal(pal[:3], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(pal[3], voc_colormap(4)[3])
    with pytest.raises(ValueError, match='0..255'):
        write_seed_png(str(tmp_path / 'b.png'), np.array([[0, 300]]))
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        write_seed_png(str(tmp_path / 'c.png'), np.zeros((2, 2, 2)))
    assert not (tmp_path / 'b.png').exists()


def test_existing_seed_skipped_unless_overwrite(tmp_path):
    path = str(tmp_path / 'img.png')
    first = np.zeros((4, 4), np.uint8)
    second = np.full((4, 4), 3, np.uint8)
    assert write_seed_png(path, first)
    assert write_seed_png(path, second) is False
    np.testing.assert_array_equal(read_seed_png(path), first)
    assert write_seed_png(path, second, overwrite=True)
    np.testing.assert_array_equal(read_seed_png(path), second)
    assert os.listdir(tmp_path) == ['img.png']


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, 'replace', boom)
    with pytest.raises(KeyboardInterrupt):
        write_seed_png(str(tmp_path / 'img.png'), _seed())
    with pytest.raises(KeyboardInterrupt):
        dump_json_atomic({'a': 1}, str(tmp_path / 'r.json'))
    assert os.listdir(tmp_path) == []


def test_read_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        read_seed_png(missing)
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG not really')
    with pytest.raises(ValueError, match='broken.png'):
        read_seed_png(str(broken))
    rgb = tmp_path / 'rgb.png'
    Image.new('RGB', (3, 2), (128, 0, 0)).save(rgb)
    with pytest.raises(ValueError, match=r"rgb.png.*'RGB'"):
        read_seed_png(str(rgb))
    grey = tmp_path / 'grey.png'
    Image.fromarray(np.array([[0, 5]], np.uint8)).save(grey)
    np.testing.assert_array_equal(read_seed_png(str(grey)), [[0, 5]])


def test_json_atomic(tmp_path):
    path = str(tmp_path / 'r.json')
    dump_json_atomic({'mIoU': 50.0, 'x': None}, path)
    assert json.load(open(path)) == {'mIoU': 50.0, 'x': None}
    with pytest.raises(ValueError):
        dump_json_atomic({'bad': float('nan')}, path)
    assert os.listdir(tmp_path) == ['r.json']


def test_overlay(tmp_path):
    h, w = 40, 50
    image = np.full((h, w, 3), 100, np.uint8)
    seed = np.zeros((h, w), np.uint8)
    seed[10:20, 10:30] = 15
    seed[30:, :5] = 255
    names = ['background'] + [f'c{i}' for i in range(1, 21)]
    vis = render_seed_overlay(image, seed, names, alpha=0.5)
    # 3 legend rows of 20 px do not fit in 40 px: padded below, not cut
    assert vis.shape[0] == 3 * 20 + 8 and vis.shape[1] > w
    assert vis.dtype == np.uint8
    assert (vis[h:, :w] == 255).all()
    person = np.array(voc_colormap(16)[15])
    np.testing.assert_allclose(vis[15, 15], (100 + person) / 2, atol=1)
    np.testing.assert_array_equal(vis[0, 0], [50, 50, 50])  # bg is black
    legend = vis[:, w:]
    # one swatch per present class (0, 15, 255) in the palette colour
    for color in (voc_colormap(256)[0], person, voc_colormap(256)[255]):
        assert (legend == np.array(color, np.uint8)).all(-1).sum() >= 100
    assert not (legend == np.array(voc_colormap(3)[2], np.uint8)).all(
        -1).any()  # absent class: no swatch

    path = str(tmp_path / 'o.jpg')
    assert write_seed_overlay(path, image, seed, names)
    assert write_seed_overlay(path, image, seed, names) is False
    with Image.open(path) as img:
        assert img.format == 'JPEG' and img.size == vis.shape[1::-1]
    assert os.listdir(tmp_path) == ['o.jpg']
    with pytest.raises(ValueError, match='differs'):
        render_seed_overlay(image[:5], seed, names)
    big = render_seed_overlay(
        np.zeros((200, 30, 3), np.uint8), seed[:1, :1].repeat(200, 0).repeat(
            30, 1), names)
    assert big.shape[0] == 200  # tall image: legend padded, not the image


def test_overlay_with_ground_truth():
    """Issue 14: image | seed | ground truth side by side, one legend of the
    classes present in either."""
    h, w = 80, 50
    image = np.full((h, w, 3), 100, np.uint8)
    seed = np.zeros((h, w), np.uint8)
    seed[10:20, 10:30] = 15  # person in the seed
    gt = np.zeros((h, w), np.uint8)
    gt[5:15, 5:15] = 3  # bird in the ground truth only
    gt[0, :] = 255
    names = ['background'] + [f'c{i}' for i in range(1, 21)]
    vis = render_seed_overlay(image, seed, names, alpha=0.5, gt=gt)
    cap, gap = 20, 4
    colors = voc_colormap(256)
    # 4 legend rows (bg, bird, person, ignore: 88 px) fit in 100 px
    assert vis.shape[0] == cap + h
    panels = vis[cap:, :3 * w + 2 * gap]
    np.testing.assert_array_equal(panels[:, :w], image)  # plain image
    assert (panels[:, w:w + gap] == 255).all()  # white separator
    seed_panel = panels[:, w + gap:2 * w + gap]
    gt_panel = panels[:, 2 * (w + gap):]
    np.testing.assert_allclose(seed_panel[15, 15],
                               (100 + np.array(colors[15])) / 2, atol=1)
    np.testing.assert_array_equal(seed_panel[7, 7], [50, 50, 50])
    np.testing.assert_allclose(gt_panel[7, 7],
                               (100 + np.array(colors[3])) / 2, atol=1)
    np.testing.assert_allclose(gt_panel[0, 0],
                               (100 + np.array(colors[255])) / 2, atol=1)
    # captions: dark text on the white strip above each panel
    for x0 in (0, w + gap, 2 * (w + gap)):
        strip = vis[:cap, x0:x0 + w]
        assert (strip < 128).any() and (strip == 255).mean() > 0.5
    legend = vis[:, 3 * w + 2 * gap:]
    for v in (0, 3, 15, 255):
        assert (legend == np.array(colors[v], np.uint8)).all(-1).sum() >= 100
    assert not (legend == np.array(colors[2], np.uint8)).all(-1).any()
    with pytest.raises(ValueError, match='ground truth size'):
        render_seed_overlay(image, seed, names, gt=gt[:5])
    # without ground truth: the single blended panel, as before
    single = render_seed_overlay(image, seed, names)
    assert single.shape[0] == h
    np.testing.assert_array_equal(single[:, :w], seed_panel)
