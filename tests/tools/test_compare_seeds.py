"""tools/compare_seeds.py: one markdown + JSON table for several methods."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.class_names import VOC_CLASSES
from mmwsss.evaluation import SeedEvalError
from mmwsss.io import write_seed_png


@pytest.fixture(scope='module')
def compare_seeds(repo_root):
    spec = importlib.util.spec_from_file_location(
        '_tool_compare_seeds', osp.join(repo_root, 'tools',
                                        'compare_seeds.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_seeds(root, folder, all_background=False):
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        stems = [ln.strip() for ln in f if ln.strip()]
    for stem in stems:
        gt = np.array(
            Image.open(osp.join(root, 'SegmentationClass', stem + '.png')))
        write_seed_png(
            osp.join(folder, stem + '.png'),
            np.zeros_like(gt) if all_background else gt)


def test_two_methods_markdown_and_json(compare_seeds, voc_mini_root,
                                       tmp_path, capsys):
    good, bg = str(tmp_path / 'good'), str(tmp_path / 'bg')
    _write_seeds(voc_mini_root, good)
    _write_seeds(voc_mini_root, bg, all_background=True)
    out_dir = str(tmp_path / 'cmp')
    res = compare_seeds.main([
        '--seeds', f'Oracle={good}', f'AllBG={bg}', '--dataset', 'voc',
        '--data-root', voc_mini_root, '--split', 'train', '--out-dir',
        out_dir, '--nproc', '2'
    ])
    printed = capsys.readouterr().out
    md = open(osp.join(out_dir, 'seed_comparison.md')).read()
    assert res['markdown'] in md and res['markdown'] in printed
    rows = res['markdown'].splitlines()
    assert rows[0] == '| Method | ' + ' | '.join(VOC_CLASSES) + \
        ' | mIoU | mPrecision | mRecall |'
    assert len(rows) == 4
    oracle = rows[2].split(' | ')
    assert oracle[0] == '| Oracle'
    assert oracle[1] == '100.0'  # background
    assert oracle[VOC_CLASSES.index('cat') + 1] == '-'  # not in the split
    assert rows[2].endswith('| 100.0 | 100.0 | 100.0 |')
    allbg = rows[3].split(' | ')
    assert allbg[0] == '| AllBG'
    assert allbg[VOC_CLASSES.index('person') + 1] == '0.0'

    data = json.load(open(osp.join(out_dir, 'seed_comparison.json')))
    assert data['methods'] == ['Oracle', 'AllBG']
    assert data['split'] == 'train'
    rep = data['reports']['AllBG']
    assert rep == res['reports']['AllBG']
    # all-background seeds: bg IoU = bg pixels / all scored pixels
    conf = np.array(rep['confusion'])
    assert rep['per_class']['background']['IoU'] == pytest.approx(
        100 * conf[0, 0] / conf.sum())
    n_present = sum(r['IoU'] is not None for r in rep['per_class'].values())
    assert rep['mIoU'] == pytest.approx(
        rep['per_class']['background']['IoU'] / n_present)
    assert f'{rep["mIoU"]:.1f}' == allbg[-3]
    assert data['reports']['Oracle']['num_images'] == 10


def test_bad_seed_specs(compare_seeds, voc_mini_root, tmp_path):
    good = str(tmp_path / 'good')
    _write_seeds(voc_mini_root, good)
    base = ['--dataset', 'voc', '--data-root', voc_mini_root, '--out-dir',
            str(tmp_path)]
    with pytest.raises(SeedEvalError, match="'A' given twice"):
        compare_seeds.main(['--seeds', f'A={good}', f'A={good}'] + base)
    with pytest.raises(SeedEvalError, match='NAME=DIR'):
        compare_seeds.main(['--seeds', f'={good}'] + base)
    # a bare folder is named after itself
    res = compare_seeds.main(['--seeds', good] + base)
    assert list(res['reports']) == ['good']
