"""pipeline_stats: seed foreground share, last logged loss, changed pixels."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from mmwsss.evaluation.pipeline_stats import (CAL_LOSS_KEYS, changed_fraction,
                                              last_logged_loss,
                                              seed_fg_fraction)
from mmwsss.io import write_seed_png


def _seeds(folder, maps):
    for name, seed in maps.items():
        write_seed_png(str(folder / f'{name}.png'), np.asarray(seed, np.uint8))
    return str(folder)


def test_seed_fg_fraction(tmp_path):
    a = np.zeros((4, 5), np.uint8)
    a[0, :3] = 15  # 3 fg
    a[1, 0] = 255  # ignored
    b = np.zeros((2, 2), np.uint8)
    b[0, 0] = 1  # 1 fg
    folder = _seeds(tmp_path, {'a': a, 'b': b})
    # (3 + 1) fg over (19 + 4) valid pixels
    assert seed_fg_fraction(folder) == pytest.approx(4 / 23)
    # without an ignore label, 255 is a class like any other
    assert seed_fg_fraction(folder, ignore_index=-1) == pytest.approx(5 / 24)
    (tmp_path / 'notes.txt').write_text('not a seed')
    assert seed_fg_fraction(folder) == pytest.approx(4 / 23)
    empty = tmp_path / 'empty'
    empty.mkdir()
    _seeds(empty, {'z': np.zeros((3, 3))})
    assert seed_fg_fraction(str(empty)) == 0.0
    with pytest.raises(FileNotFoundError, match='no folder'):
        seed_fg_fraction(str(tmp_path / 'missing'))
    (tmp_path / 'none').mkdir()
    with pytest.raises(FileNotFoundError, match='no .png'):
        seed_fg_fraction(str(tmp_path / 'none'))


def _scalars(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_last_logged_loss(tmp_path):
    run = tmp_path / 'run'
    # phase 1 (MCL only), then phase 2 (CAL); a resumed second start
    _scalars(run / '20260101_000000' / 'vis_data' / 'scalars.json', [
        dict(loss=3.0, loss_mcl=3.0, iter=5),
        dict(loss=0.5, loss_cal_fg=0.25, loss_cal_bg=0.25, iter=25),
    ])
    _scalars(
        run / '20260101_010000' / 'vis_data' / 'scalars.json',
        [
            dict(loss=0.3, loss_cal_fg=0.125, loss_cal_bg=0.0625, iter=30),
            dict(mIoU=10.0, step=30),  # a val record without losses
        ])
    assert last_logged_loss(str(run)) == pytest.approx(0.1875)
    assert CAL_LOSS_KEYS == ('loss_cal_fg', 'loss_cal_bg')
    assert last_logged_loss(str(run), 'loss_mcl') == 3.0
    first = run / '20260101_000000' / 'vis_data' / 'scalars.json'
    assert last_logged_loss(str(first), 'loss_cal_fg') == 0.25
    with pytest.raises(KeyError, match='loss_mcl'):
        last_logged_loss(str(run), 'loss_cal')  # names the keys seen
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        last_logged_loss(str(tmp_path / 'nothing'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1}\nnot json\n')
    with pytest.raises(ValueError, match='bad.json:2'):
        last_logged_loss(str(bad), 'loss')
    nan = tmp_path / 'nan.json'
    nan.write_text('{"loss": NaN}\n')
    assert math.isnan(last_logged_loss(str(nan), 'loss'))


def test_changed_fraction(tmp_path):
    a = tmp_path / 'a'
    b = tmp_path / 'b'
    a.mkdir()
    b.mkdir()
    x = np.zeros((4, 5), np.uint8)
    y = x.copy()
    y[0, :2] = 3
    # IoUMetric writes grey ('L') PNGs; seeds are palette PNGs: both read
    Image.fromarray(x).save(a / 'i1.png')
    write_seed_png(str(b / 'i1.png'), y)
    Image.fromarray(np.ones((2, 2), np.uint8)).save(a / 'i2.png')
    Image.fromarray(np.ones((2, 2), np.uint8)).save(b / 'i2.png')
    assert changed_fraction(str(a), str(b)) == pytest.approx(2 / 24)
    assert changed_fraction(str(a), str(a)) == 0.0
    Image.fromarray(np.ones((2, 2), np.uint8)).save(b / 'i3.png')
    with pytest.raises(ValueError, match="only in the second: \\['i3'\\]"):
        changed_fraction(str(a), str(b))
    (b / 'i3.png').unlink()
    Image.fromarray(np.ones((3, 2), np.uint8)).save(b / 'i2.png')
    with pytest.raises(ValueError, match='i2.png'):
        changed_fraction(str(a), str(b))
