"""The one command with ``--method weclip-plus`` (issue 26): WeCLIP+ trains
in the first stage, its online pseudo labels become the seeds (one per
training image, only the image's classes, scored like FMA-WSSS's), stage 2
learns from them and SAMS TTA tests it. The run starts from a copy of the
session's FMA-WSSS run (its SAM masks are reused), which also shows that a
change of method is refused without ``--force prompts``."""
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
from mmengine.config import Config

from mmwsss.apis.stages import score_seeds
from mmwsss.io import read_seed_png

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _main(argv):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import run_pipeline
    return run_pipeline.main(argv + ['--in-process', '--no-report'])


@pytest.fixture(scope='module')
def weclip_run(tiny_pipeline, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('weclip_pipeline') / 'work')
    shutil.copytree(tiny_pipeline['work'], work)
    argv = list(tiny_pipeline['argv'])
    argv[argv.index('--work-dir') + 1] = work
    argv += ['--method', 'weclip-plus', '--weclip-iters', '2']
    with pytest.raises(SystemExit) as refused:
        _main(argv)
    results = _main(argv + ['--force', 'prompts'])
    return dict(
        work=work,
        argv=argv,
        results=results,
        refused=str(refused.value),
        fma=tiny_pipeline['results'],
        train=tiny_pipeline['train'])


def test_method_change_needs_force(weclip_run):
    msg = weclip_run['refused']
    assert 'was made from other inputs: method' in msg
    assert '--force prompts' in msg and '\n' not in msg


def test_weclip_trains_in_the_first_stage(weclip_run):
    res = weclip_run['results']
    assert res['sam_masks'] == weclip_run['fma']['sam_masks']  # reused
    assert res['prompts']['iterations'] == 2
    assert np.isfinite(res['prompts']['loss_last'])
    cfg = Config.fromfile(osp.join(weclip_run['work'], 'configs',
                                   'prompts.py'))
    assert cfg.model.type == 'WeCLIP' and cfg.model.dino is not None
    assert cfg.model.classes == ['person', 'car', 'plane']
    assert osp.isfile(res['prompts']['checkpoint'])
    # --force prompts started afresh: FMA-WSSS's prompt run, seeds and
    # stage 2 were moved aside, not resumed from and not lost
    old = os.listdir(osp.join(weclip_run['work'], 'superseded'))
    assert len(old) == 1
    kept = osp.join(weclip_run['work'], 'superseded', old[0])
    assert {'prompts', 'seeds', 'stage2'} <= set(os.listdir(kept))
    assert osp.isdir(osp.join(kept, 'prompts', 'coarse_seeds'))
    assert not osp.exists(osp.join(weclip_run['work'], 'prompts',
                                   'coarse_seeds'))


def test_pseudo_labels_are_the_seeds(weclip_run):
    work = weclip_run['work']
    with open(osp.join(weclip_run['train'], 'labels.json')) as f:
        labels = json.load(f)
    names = ['person', 'car', 'plane']
    seeds = sorted(os.listdir(osp.join(work, 'seeds')))
    assert seeds == sorted(f'{i}.png' for i in labels)
    for stem, present in labels.items():
        seed = read_seed_png(osp.join(work, 'seeds', stem + '.png'))
        from PIL import Image
        with Image.open(
                osp.join(weclip_run['train'], 'images', stem + '.jpg')) as im:
            assert seed.shape == (im.height, im.width)
        allowed = {0} | {names.index(n) + 1 for n in present}
        assert set(np.unique(seed).tolist()) <= allowed, stem
    # the seeds stage's mIoU is the one mmwsss-eval-seeds gives the PNGs
    report = score_seeds(
        osp.join(work, 'seeds'),
        dataset=osp.join(work, 'configs', 'seeds.py'),
        out=osp.join(str(work), 'rescored.json'))
    assert report['mIoU'] == pytest.approx(
        weclip_run['results']['seeds']['seed_mIoU'], abs=0.01)


def test_stage2_learns_from_weclip_seeds_and_the_table_says_so(
        weclip_run, capsys):
    res = weclip_run['results']
    assert res['stage2']['iterations'] == 1
    assert res['test']['val_mIoU'] is not None
    assert res['test_sams']['val_mIoU'] is not None
    # a rerun resumes every stage and prints the WeCLIP+ rows
    _main(weclip_run['argv'])
    out = capsys.readouterr().out
    assert out.count('done before') == 6
    assert 'WeCLIP+ pipeline on' in out
    assert 'WeCLIP+ training (single stage)' in out
    assert 'online pseudo labels (train)' in out


def test_report_of_a_weclip_run(weclip_run):
    """The report names WeCLIP+, plots its loss terms (no FMA-WSSS phase
    is missing), scores its pseudo labels, and its CAM strips show the
    pseudo label's scores, which remake the saved seeds exactly."""
    from mmwsss.evaluation.report.cams import recompute_cams
    from mmwsss.evaluation.report.data import report_data
    from mmwsss.evaluation.report.inputs import (WECLIP_CURVE,
                                                 inputs_from_work_dir)
    work = weclip_run['work']
    data, _ = report_data(inputs_from_work_dir(work, cams=False))
    assert data['title'].startswith('WeCLIP+ report')
    assert list(data['seed_sets']) == ['WeCLIP+ pseudo labels']
    assert data['seed_sets']['WeCLIP+ pseudo labels']['mIoU'] == \
        pytest.approx(weclip_run['results']['seeds']['seed_mIoU'], abs=0.01)
    assert WECLIP_CURVE in data['curves']
    # stage 2's one iteration logs nothing; no prompt phase is expected
    assert data['missing_curves'] == ['stage 2 (segmentor on the seeds)']
    assert 'loss_aff' in data['curves'][WECLIP_CURVE]
    settings = dict(data['settings'])
    assert 'DINOv2 tiny' in settings['WeCLIP+'] and 'prompt phases' \
        not in settings
    stems = sorted(os.listdir(osp.join(work, 'seeds')))[:2]
    cams = recompute_cams(
        osp.join(work, 'configs', 'seeds.py'),
        weclip_run['results']['prompts']['checkpoint'],
        [osp.splitext(s)[0] for s in stems],
        seed_dir=osp.join(work, 'seeds'))
    assert len(cams) == 2
    for c in cams.values():
        assert c.seed_agreement == 1.0
        assert c.cams.shape[0] == len(c.class_ids)
        assert 0 <= c.cams.min() and c.cams.max() <= 1
