"""tools/eval_seeds.py on the bundled VOC images (data/voc_mini)."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmwsss.evaluation import SeedEvalError
from mmwsss.io import read_seed_png, write_seed_png


def _load_tool(repo_root, name):
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', osp.join(repo_root, 'tools', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def eval_seeds(repo_root):
    return _load_tool(repo_root, 'eval_seeds')


def _train_ids(root):
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        return [ln.strip() for ln in f if ln.strip()]


def _gt(root, stem):
    path = osp.join(root, 'SegmentationClass', stem + '.png')
    return np.array(Image.open(path))


def _gt_seeds(root, folder):
    """Seeds equal to the GT (255 boundaries kept: they are ignored)."""
    for stem in _train_ids(root):
        write_seed_png(osp.join(folder, stem + '.png'), _gt(root, stem))


def _args(root, seed_dir, out, *more):
    return [seed_dir, '--dataset', 'voc', '--data-root', root, '--split',
            'train', '--out', out, *more]


def test_gt_copy_scores_100(eval_seeds, voc_mini_root, tmp_path):
    seeds = str(tmp_path / 'seeds')
    _gt_seeds(voc_mini_root, seeds)
    out = str(tmp_path / 'r.json')
    report = eval_seeds.main(_args(voc_mini_root, seeds, out))
    assert report['mIoU'] == pytest.approx(100.0)
    assert report['mPrecision'] == pytest.approx(100.0)
    assert report['num_images'] == 10
    assert report['num_missing_seeds'] == 0
    assert report['split'] == 'train' and report['dataset'] == 'voc'
    assert json.load(open(out)) == report
    # classes absent from the train split are NaN -> null, not 0
    assert report['per_class']['cat']['IoU'] is None
    assert report['per_class']['cow']['IoU'] == pytest.approx(100.0)


def test_corrupted_seed_hand_computed(eval_seeds, voc_mini_root, tmp_path):
    seeds = str(tmp_path / 'seeds')
    _gt_seeds(voc_mini_root, seeds)
    # 'cow' (10) occurs only in this train image: paint it as background
    stem = 'dlv3p_c516a72_0293'
    gt = _gt(voc_mini_root, stem)
    seed = gt.copy()
    seed[gt == 10] = 0
    write_seed_png(osp.join(seeds, stem + '.png'), seed, overwrite=True)

    # hand computation over the 10 train images
    gts = [_gt(voc_mini_root, s) for s in _train_ids(voc_mini_root)]
    n_bg = sum(int((g == 0).sum()) for g in gts)
    n_cow = int((gt == 10).sum())
    present = sorted(
        set(np.concatenate([np.unique(g) for g in gts]).tolist()) - {255})
    assert 10 in present and n_cow > 0
    iou_bg = n_bg / (n_bg + n_cow)
    # cow: IoU 0, recall 0, precision undefined (never predicted)
    miou = 100 * (iou_bg + 0 + (len(present) - 2)) / len(present)
    mprec = 100 * ((n_bg / (n_bg + n_cow)) + len(present) - 2) / (
        len(present) - 1)
    mrec = 100 * (len(present) - 1) / len(present)

    report = eval_seeds.main(
        _args(voc_mini_root, seeds, str(tmp_path / 'r.json')))
    assert report['mIoU'] == pytest.approx(miou)
    assert report['mPrecision'] == pytest.approx(mprec)
    assert report['mRecall'] == pytest.approx(mrec)
    assert report['per_class']['cow'] == dict(
        IoU=0.0, Precision=None, Recall=0.0, gt_pixels=n_cow, pred_pixels=0)
    assert report['per_class']['background']['Recall'] == pytest.approx(100)
    assert report['mIoU'] < 100


def test_missing_seed_error_and_allow_missing(eval_seeds, voc_mini_root,
                                              tmp_path):
    seeds = str(tmp_path / 'seeds')
    _gt_seeds(voc_mini_root, seeds)
    gone = osp.join(seeds, 'dlv3p_d1182fc_0020.png')
    os.remove(gone)
    out = str(tmp_path / 'r.json')
    with pytest.raises(SeedEvalError) as err:
        eval_seeds.main(_args(voc_mini_root, seeds, out))
    assert '1 of 10 seeds missing' in str(err.value)
    assert gone in str(err.value)
    assert not osp.exists(out)
    report = eval_seeds.main(
        _args(voc_mini_root, seeds, out, '--allow-missing'))
    assert report['num_images'] == 9
    assert report['num_missing_seeds'] == 1
    assert report['mIoU'] == pytest.approx(100.0)


def test_config_dataset_default_out_and_overlays(eval_seeds, voc_mini_root,
                                                 tmp_path):
    seeds = str(tmp_path / 'seeds')
    _gt_seeds(voc_mini_root, seeds)
    cfg = tmp_path / 'data_cfg.py'
    # the pipeline is never run, so it may name anything
    cfg.write_text(
        'test_dataloader = dict(batch_size=1, dataset=dict(\n'
        "    type='PascalVOCDataset', data_root='unused',\n"
        "    data_prefix=dict(img_path='JPEGImages',\n"
        "                     seg_map_path='SegmentationClass'),\n"
        "    ann_file='ImageSets/Segmentation/val.txt',\n"
        "    pipeline=[dict(type='NotARegisteredTransform')]))\n")
    ov = str(tmp_path / 'ov')
    report = eval_seeds.main([
        seeds, '--dataset',
        str(cfg), '--data-root', voc_mini_root, '--cfg-options',
        'test_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt',
        '--overlay-dir', ov, '--num-overlays', '2'
    ])
    assert report['mIoU'] == pytest.approx(100.0)
    assert report['num_images'] == 10
    default_out = osp.join(seeds, 'seed_scores.json')
    assert json.load(open(default_out))['mIoU'] == pytest.approx(100.0)
    assert len(os.listdir(ov)) == 2
    assert all(f.endswith('.jpg') for f in os.listdir(ov))

    # a `dataset` key is used as well; --split is refused for configs
    cfg2 = tmp_path / 'data_cfg2.py'
    cfg2.write_text(cfg.read_text().replace(
        'test_dataloader = dict(batch_size=1, dataset=dict(',
        'dataset = dict(dict(').replace('val.txt', 'train.txt'))
    report = eval_seeds.main(
        [seeds, '--dataset', str(cfg2), '--data-root', voc_mini_root])
    assert report['num_images'] == 10
    with pytest.raises(SeedEvalError, match='--split'):
        eval_seeds.main([seeds, '--dataset', str(cfg2), '--split', 'val'])


def test_bad_inputs(eval_seeds, voc_mini_root, tmp_path):
    seeds = str(tmp_path / 'seeds')
    _gt_seeds(voc_mini_root, seeds)
    for bad in ('cityscapes', str(tmp_path / 'no.py')):
        with pytest.raises(SeedEvalError, match='neither a built-in'):
            eval_seeds.main([seeds, '--dataset', bad])
    with pytest.raises(SeedEvalError, match='nowhere.*not found'):
        eval_seeds.main(
            [seeds, '--dataset', 'voc', '--data-root',
             str(tmp_path / 'nowhere')])
    with pytest.raises(SeedEvalError, match='test.txt not found'):
        eval_seeds.main([
            seeds, '--dataset', 'voc', '--data-root', voc_mini_root,
            '--split', 'test'
        ])
    with pytest.raises(SeedEvalError, match='seed folder .* not found'):
        eval_seeds.main(
            _args(voc_mini_root, str(tmp_path / 'none'),
                  str(tmp_path / 'r.json')))
    stem = _train_ids(voc_mini_root)[0]
    write_seed_png(
        osp.join(seeds, stem + '.png'),
        np.zeros((5, 5), np.uint8),
        overwrite=True)
    with pytest.raises(SeedEvalError, match=f'{stem}.png is 5x5'):
        eval_seeds.main(
            _args(voc_mini_root, seeds, str(tmp_path / 'r.json')))
    assert read_seed_png(osp.join(seeds, stem + '.png')).shape == (5, 5)
