"""The one command on a work dir it shares with earlier or other runs
(issue 25): changed inputs are refused, two runs never share a work dir,
an unwritable work dir is one line, and a run killed (SIGKILL) at a stage
and rerun ends with the seeds and numbers of an uninterrupted run."""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from mmwsss.apis.run_guard import INPUTS_FILE, WorkDirLock
from mmwsss.io import read_seed_png

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _main(argv):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import run_pipeline
    return run_pipeline.main(argv + ['--in-process', '--no-report'])


def _copy_run(tiny_pipeline, tmp_path):
    work = str(tmp_path / 'work')
    shutil.copytree(tiny_pipeline['work'], work)
    argv = list(tiny_pipeline['argv'])
    argv[argv.index('--work-dir') + 1] = work
    return work, argv


def test_rerun_with_the_same_inputs_reuses_every_stage(
        tiny_pipeline, tmp_path, capsys):
    work, argv = _copy_run(tiny_pipeline, tmp_path)
    assert osp.isfile(osp.join(work, INPUTS_FILE))
    results = _main(argv)
    out = capsys.readouterr().out
    assert out.count('done before') == 6
    # the images the folder check left out, by reason (none here)
    with open(osp.join(work, 'data_check.json')) as f:
        assert json.load(f) == dict(dropped_images={})
    assert results['seeds']['seed_mIoU'] == tiny_pipeline['results'][
        'seeds']['seed_mIoU']


def test_class_order_changed_is_refused(tiny_pipeline, tmp_path, capsys):
    work, argv = _copy_run(tiny_pipeline, tmp_path)
    with open(osp.join(tiny_pipeline['train'], 'classes.txt')) as f:
        names = [ln.strip() for ln in f if ln.strip()]
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(
        osp.join(work, 'seeds', '*.png'))}
    with pytest.raises(SystemExit) as err:
        _main(argv + ['--classes', ','.join(reversed(names))])
    msg = str(err.value)
    assert msg.startswith(f'error: {work} was made from other inputs: '
                          'classes in another order')
    assert '--force prompts' in msg and '\n' not in msg
    assert {p: os.stat(p).st_mtime_ns for p in before} == before


def test_second_run_on_a_held_work_dir_is_refused(tiny_pipeline, tmp_path):
    work, argv = _copy_run(tiny_pipeline, tmp_path)
    with WorkDirLock(work):
        with pytest.raises(SystemExit) as err:
            _main(argv)
    assert 'is in use by another run' in str(err.value)
    assert f'pid {os.getpid()}' in str(err.value)


def test_unwritable_work_dir_is_one_line(tiny_pipeline, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    argv = list(tiny_pipeline['argv'])
    argv[argv.index('--work-dir') + 1] = str(blocker / 'work')
    with pytest.raises(SystemExit) as err:
        _main(argv)
    assert str(err.value).startswith(f'error: cannot write to {blocker}')


def _run_until(argv, stage):
    """Run the one command; SIGKILL it when ``stage`` starts (None: run to
    the end). Returns what it printed."""
    cmd = [sys.executable, osp.join(REPO, 'tools', 'run_pipeline.py')
           ] + argv + ['--in-process', '--no-report']
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=REPO)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if stage is not None and line.strip().endswith(f'] {stage}'):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    text = ''.join(lines)
    if stage is None:
        assert proc.returncode == 0, text[-3000:]
    else:
        assert proc.returncode == -signal.SIGKILL, text[-3000:]
    return text


def test_killed_at_each_stage_and_rerun(tiny_pipeline, tmp_path):
    """SIGKILL when the prompt, seed and stage-2 stages start, rerun each
    time: the finished stages are reused and the end equals the session's
    uninterrupted run (same seeds, same numbers)."""
    argv = list(tiny_pipeline['argv'])
    work = str(tmp_path / 'killed')
    argv[argv.index('--work-dir') + 1] = work
    for stage in ('prompts', 'seeds', 'stage2'):
        _run_until(argv, stage)
    out = _run_until(argv, None)
    assert out.count('done before') == 3
    want = tiny_pipeline['results']
    with open(osp.join(work, 'pipeline_results.json')) as f:
        got = json.load(f)
    for stage in ('prompts', 'seeds', 'test', 'test_sams'):
        for key in ('seed_mIoU', 'val_mIoU', 'coarse_seed_mIoU',
                    'phase2_cal_loss_last', 'seed_fg_fraction',
                    'coarse_seed_fg_fraction', 'tta_changed_fraction'):
            if key in want[stage]:
                assert got[stage][key] == want[stage][key], (stage, key)
    for path in sorted(glob.glob(osp.join(tiny_pipeline['work'], 'seeds',
                                          '*.png'))):
        np.testing.assert_array_equal(
            read_seed_png(osp.join(work, 'seeds', osp.basename(path))),
            read_seed_png(path))
