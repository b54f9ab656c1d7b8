"""`make demo` end to end: the figures that show every stage did something.

The one test of the suite that runs the demo as a user does (tools/demo.py,
all six stages on data/voc_mini, ~1.5 min on 2 cores). It fails when a
broken CAM, SAMS or phase 2 leaves the seeds without foreground, phase 2
without CAL loss, or SAMS TTA without a pixel to change.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from _helpers import is_blank_png, open_in_chromium


def test_demo_figures_are_not_zero(repo_root, tmp_path):
    work = str(tmp_path / 'demo')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    for var in ('MMWSSS_CLIP', 'MMWSSS_CLIP_PRETRAINED', 'MMWSSS_SAM_TYPE',
                'MMWSSS_SAM_CHECKPOINT'):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, 'tools/demo.py', '--work-dir', work],
        cwd=repo_root, capture_output=True, text=True, timeout=900, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'CHECK FAILED' not in out
    with open(osp.join(work, 'demo_results.json')) as f:
        res = json.load(f)
    # a seed map of background only, a CAL loss of exactly 0 or a TTA that
    # relabels nothing is what a broken stage looks like
    assert 0.05 < res['prompts']['coarse_seed_fg_fraction'] < 0.95
    assert 0.02 < res['seeds']['seed_fg_fraction'] < 0.95
    assert res['prompts']['phase2_cal_loss_last'] > 0
    assert 0 < res['test_sams']['tta_changed_fraction'] < 0.9
    assert res['stage2']['iterations'] == 800
    assert sorted(os.listdir(osp.join(work, 'seeds'))) and sorted(
        os.listdir(osp.join(work, 'overlays')))
    assert 'SAMS changed' in out and 'Felzenszwalb' in out
    # the HTML report (issue 22): written at the end, its path printed,
    # with the curves of both prompt phases and stage 2, and a browser
    # shows it whole
    report = osp.join(work, 'report', 'report.html')
    assert f'Report: {osp.abspath(report)}' in proc.stdout
    with open(osp.join(work, 'report', 'report.json')) as f:
        data = json.load(f)
    assert len(data['curves']) == 3 and data['missing_curves'] == []
    assert list(data['seed_sets']) == ['coarse seeds', 'fine seeds']
    assert data['seed_sets']['coarse seeds']['mIoU'] == pytest.approx(
        res['prompts']['coarse_seed_mIoU'], abs=0.006)
    assert not any('differs' in n for n in data['cam_notes'])
    seen = open_in_chromium(report, str(tmp_path / 'shot.png'))
    assert seen['errors'] == [] and all(i['width'] > 0
                                        for i in seen['images'])
    assert not is_blank_png(str(tmp_path / 'shot.png'))
