"""The work-dir guards of the one-command pipeline (issue 25)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mmwsss.apis.run_guard import (INPUTS_FILE, RunGuardError, WorkDirLock,
                                   check_inputs, check_writable,
                                   die_with_parent)

STAGES = ('sam_masks', 'prompts', 'seeds', 'stage2', 'test', 'test_sams')
FIRST = dict(
    classes='sam_masks',
    images='sam_masks',
    mask_generator='sam_masks',
    weights='prompts',
    prompt_iters='prompts')


def _inputs(**kw):
    base = dict(
        classes=['background', 'cat', 'dog'],
        images=['a.jpg', 'b.jpg'],
        mask_generator='felzenszwalb',
        weights='random tiny',
        prompt_iters=[4, 4])
    base.update(kw)
    return base


def test_same_inputs_pass_and_are_recorded(tmp_path):
    check_inputs(str(tmp_path), _inputs(), FIRST, None, STAGES)
    check_inputs(str(tmp_path), _inputs(), FIRST, None, STAGES)
    with open(tmp_path / INPUTS_FILE) as f:
        assert json.load(f) == _inputs()


def test_class_order_change_refuses_in_one_line(tmp_path):
    check_inputs(str(tmp_path), _inputs(), FIRST, None, STAGES)
    new = _inputs(classes=['background', 'dog', 'cat'])
    with pytest.raises(RunGuardError) as err:
        check_inputs(str(tmp_path), new, FIRST, None, STAGES)
    msg = str(err.value)
    assert 'classes in another order' in msg
    assert '--force sam_masks' in msg and '--work-dir' in msg
    assert '\n' not in msg
    # the record is kept until a run is allowed
    with open(tmp_path / INPUTS_FILE) as f:
        assert json.load(f) == _inputs()
    check_inputs(str(tmp_path), new, FIRST, 'sam_masks', STAGES)
    with open(tmp_path / INPUTS_FILE) as f:
        assert json.load(f) == new


def test_force_of_a_later_stage_is_not_enough(tmp_path):
    check_inputs(str(tmp_path), _inputs(), FIRST, None, STAGES)
    with pytest.raises(RunGuardError, match='--force prompts'):
        check_inputs(str(tmp_path), _inputs(prompt_iters=[8, 8]), FIRST,
                     'seeds', STAGES)
    check_inputs(str(tmp_path), _inputs(prompt_iters=[8, 8]), FIRST,
                 'prompts', STAGES)
    with pytest.raises(RunGuardError, match=r'images changed: 1 added '
                       r"\(e.g. c.jpg\)"):
        check_inputs(str(tmp_path),
                     _inputs(prompt_iters=[8, 8],
                             images=['a.jpg', 'b.jpg', 'c.jpg']), FIRST,
                     None, STAGES)


def test_lock_refuses_a_second_run_and_frees_on_kill(tmp_path):
    work = str(tmp_path / 'work')
    code = ('import sys, time; from mmwsss.apis.run_guard import '
            'WorkDirLock\nwith WorkDirLock(sys.argv[1]):\n'
            '    print("held", flush=True); time.sleep(60)')
    holder = subprocess.Popen([sys.executable, '-c', code, work],
                              stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        with pytest.raises(RunGuardError) as err:
            with WorkDirLock(work):
                pass
        assert f'pid {holder.pid}' in str(err.value)
        assert 'is in use by another run' in str(err.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with WorkDirLock(work):  # a killed holder leaves nothing stuck
        pass


@pytest.mark.skipif(os.getuid() == 0, reason='root writes everywhere')
def test_unwritable_work_dir_as_user(tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(RunGuardError, match='cannot write to'):
        check_writable(str(ro / 'work'))


def test_unwritable_work_dir(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    with pytest.raises(RunGuardError) as err:
        check_writable(str(blocker / 'work'))
    msg = str(err.value)
    assert msg.startswith(f'cannot write to {blocker}/work: ')
    assert '\n' not in msg


def test_child_dies_with_its_parent(tmp_path):
    pid_file = tmp_path / 'child.pid'
    code = ('import subprocess, sys, time\n'
            'from mmwsss.apis.run_guard import die_with_parent\n'
            'p = subprocess.Popen([sys.executable, "-c", '
            '"import time; time.sleep(60)"], preexec_fn=die_with_parent)\n'
            f'open({str(pid_file)!r}, "w").write(str(p.pid))\n'
            'time.sleep(60)\n')
    parent = subprocess.Popen([sys.executable, '-c', code])
    for _ in range(1200):  # the parent imports mmwsss.apis (slow on 2 cores)
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a zombie (reparented, not yet reaped) counts as gone
        with open(f'/proc/{child}/stat') as f:
            if f.read().split()[2] == 'Z':
                break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail('the child outlived its killed parent')
