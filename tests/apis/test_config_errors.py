"""Config mistakes through the tools end in one line, exit code 2 (issue 25).
"""
import os.path as osp

import pytest

from mmwsss.apis.mm_tools import run_mmseg_tool

CONFIG = 'configs/fma/voc_mini_prompts_demo.py'


def _run(repo_root, tmp_path, capsys, option, *extra):
    with pytest.raises(SystemExit) as exit_info:
        run_mmseg_tool('train.py', [
            osp.join(repo_root, CONFIG), '--work-dir',
            str(tmp_path), '--cfg-options', option, *extra
        ])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    return exit_info.value.code, lines[-1]


@pytest.mark.parametrize('option, want', [
    ('model.cam_sofmax=exact',
     "config error: model.cam_sofmax: FMAPromptModel has no argument "
     "'cam_sofmax'; did you mean 'cam_softmax'?"),
    ('model.cam_softmax=foo',
     "config error: model.cam_softmax: FMAPromptModel: cam_softmax must be "
     "one of ('global_max', 'exact'), got 'foo'"),
    ('model.type=FMAPromptModle',
     "config error: type='FMAPromptModle' is not registered in "
     "mmseg::model; did you mean 'FMAPromptModel'?"),
])
def test_one_line_exit_2(repo_root, tmp_path, capsys, option, want):
    code, last = _run(repo_root, tmp_path, capsys, option)
    assert code == 2
    assert last.startswith(want), last
    assert last.endswith('(--debug shows the traceback)')


def test_debug_shows_the_traceback(repo_root, tmp_path, capsys):
    with pytest.raises(TypeError, match="unexpected keyword argument "
                       "'cam_sofmax'"):
        run_mmseg_tool('train.py', [
            osp.join(repo_root, CONFIG), '--work-dir',
            str(tmp_path), '--cfg-options', 'model.cam_sofmax=exact',
            '--debug'
        ])


def test_unwritable_work_dir_is_one_line(repo_root, tmp_path, capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(SystemExit) as exit_info:
        run_mmseg_tool('train.py', [
            osp.join(repo_root, CONFIG), '--work-dir',
            str(blocker / 'work')
        ])
    assert exit_info.value.code == 2
    last = [ln for ln in capsys.readouterr().err.splitlines() if ln][-1]
    assert last.startswith(f'error: cannot write to {blocker}'), last
    assert 'Not a directory' in last
