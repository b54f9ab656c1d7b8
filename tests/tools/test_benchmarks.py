"""tools/benchmarks/cam_speed.py and prompt_step.py: smoke runs with the
tiny CLIP, summary lines parse."""
import argparse
import importlib.util
import os.path as osp
import re

import pytest

TINY = 'mmwsss-tiny-ViT-16'
NUM = r'(\d+(?:\.\d+)?)'


def _load(repo_root, name):
    spec = importlib.util.spec_from_file_location(
        f'_bench_{name}',
        osp.join(repo_root, 'tools', 'benchmarks', name + '.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def cam_speed(repo_root):
    return _load(repo_root, 'cam_speed')


@pytest.fixture(scope='module')
def prompt_step(repo_root):
    return _load(repo_root, 'prompt_step')


def test_cam_speed_summary(cam_speed, voc_mini_root, capsys):
    res = cam_speed.main([
        '--model-name', TINY, '--data-root', voc_mini_root, '--images', '2',
        '--warmup', '1'
    ])
    out = capsys.readouterr().out.strip().splitlines()
    assert 'RANDOM weights' in '\n'.join(out)
    assert sum(line.startswith('[') for line in out) == 2  # progress
    m = re.fullmatch(rf'clip_ms={NUM} cam_ms={NUM} ratio={NUM}', out[-1])
    assert m, out[-1]
    clip_ms, cam_ms, ratio = (float(v) for v in m.groups())
    extra = re.fullmatch(rf'gradcam_ms={NUM} caa_ms={NUM} peak_mib={NUM}',
                         out[-2])
    assert extra, out[-2]
    gradcam_ms, caa_ms, _ = (float(v) for v in extra.groups())
    assert clip_ms > 0 and cam_ms > 0 and caa_ms > 0
    assert cam_ms == pytest.approx(gradcam_ms + caa_ms, abs=0.15)
    assert ratio == pytest.approx(cam_ms / clip_ms, abs=0.01)
    assert res['cam_ms'] == pytest.approx(cam_ms, abs=0.05)
    assert 'sams_ms' not in res


def test_cam_speed_with_sams(cam_speed, voc_mini_root, gt_mask_cache, capsys):
    res = cam_speed.main([
        '--model-name', TINY, '--data-root', voc_mini_root, '--images', '1',
        '--warmup', '0', '--task', 'cls', '--mask-dir', gt_mask_cache
    ])
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(rf'clip_ms={NUM} cam_ms={NUM} ratio={NUM}', out[-1])
    assert re.fullmatch(
        rf'gradcam_ms={NUM} caa_ms={NUM} sams_ms={NUM} peak_mib={NUM}',
        out[-2]), out[-2]
    assert res['sams_ms'] > 0


def test_prompt_step_summary(prompt_step, voc_mini_root, capsys, monkeypatch):
    """Both phases and the schedule estimate; the workers run in this
    process (a fresh process each costs seconds of imports)."""

    def in_process(args, phase):
        return prompt_step.run_worker(
            argparse.Namespace(**dict(vars(args), worker=phase)))

    monkeypatch.setattr(prompt_step, 'spawn', in_process)
    res = prompt_step.main([
        '--model-name', TINY, '--data-root', voc_mini_root, '--batch-size',
        '2', '--steps', '1', '--warmup', '0'
    ])
    out = capsys.readouterr().out.strip().splitlines()
    cls = re.fullmatch(rf'phase=cls step_s={NUM} peak_mib={NUM}', out[-4])
    seg = re.fullmatch(rf'phase=seg step_s={NUM} peak_mib={NUM}', out[-3])
    total = re.fullmatch(rf'schedule_h={NUM}', out[-2])
    last = re.fullmatch(rf'step_s={NUM} peak_mib=(\d+)', out[-1])
    assert cls and seg and total and last, out[-4:]
    assert float(last.group(1)) == pytest.approx(
        (1800 * float(cls.group(1)) + 17000 * float(seg.group(1))) / 18800,
        rel=0.01,
        abs=0.002)
    cls_s, seg_s = float(cls.group(1)), float(seg.group(1))
    assert cls_s > 0 and seg_s > 0
    assert float(total.group(1)) == pytest.approx(
        (1800 * cls_s + 17000 * seg_s) / 3600, rel=0.01, abs=0.01)
    assert res['schedule_h'] == pytest.approx(float(total.group(1)), abs=0.01)
    assert res['seg']['prompt_params'] == res['cls']['prompt_params'] > 0


def test_prompt_step_worker_process(prompt_step, voc_mini_root, capsys):
    """One phase through the real fresh-process worker: no schedule line."""
    res = prompt_step.main([
        '--model-name', TINY, '--data-root', voc_mini_root, '--batch-size',
        '1', '--steps', '1', '--warmup', '0', '--phases', 'cls'
    ])
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(rf'phase=cls step_s={NUM} peak_mib={NUM}', out[-2])
    assert re.fullmatch(rf'step_s={NUM} peak_mib=\d+', out[-1])
    assert res['schedule_h'] is None and res['cls']['step_s'] > 0


def test_prompt_step_amp_needs_cuda(prompt_step):
    with pytest.raises(SystemExit):
        prompt_step.parse_args(['--amp', '--device', 'cpu'])
