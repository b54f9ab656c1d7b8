"""tools/benchmarks: cam_speed.py, prompt_step.py and stage2_step.py smoke
runs with the tiny models, summary lines parse; the shared bench_utils."""
import argparse
import importlib.util
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
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


@pytest.fixture(scope='module')
def stage2_step(repo_root):
    return _load(repo_root, 'stage2_step')


@pytest.fixture(scope='module')
def bench_utils(repo_root):
    return _load(repo_root, 'bench_utils')


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


def test_prompt_step_amp_on_cpu(prompt_step, voc_mini_root):
    """--amp on the CPU: bfloat16 autocast (DeviceAmpOptimWrapper, as
    tools/train.py --amp). Until issue 15 it was refused without CUDA (this
    test replaces test_prompt_step_amp_needs_cuda)."""
    args = prompt_step.parse_args([
        '--model-name', TINY, '--data-root', voc_mini_root, '--batch-size',
        '1', '--steps', '1', '--warmup', '0', '--amp', '--device', 'cpu'
    ])
    args.worker = 'seg'
    res = prompt_step.run_worker(args)
    assert res['device'] == 'cpu' and res['cpu_s'] > 0
    assert all(np.isfinite(res['losses']))
    assert prompt_step.amp_label(args) == ', AMP bfloat16'


def test_stage2_step_tiny(stage2_step, voc_mini_root, capsys, monkeypatch):
    """Both tiny stage-2 models (workers in this process), the summary
    lines; one real-size crop/batch default check."""

    def in_process(script, argv, name, threads=None, quiet=False):
        args = stage2_step.parse_args([str(a) for a in argv])
        return stage2_step.run_worker(args)

    monkeypatch.setattr(stage2_step, 'spawn_worker', in_process)
    res = stage2_step.main([
        '--arch', 'tiny', '--steps', '1', '--warmup', '0', '--data-root',
        voc_mini_root, '--crop', '32'
    ])
    out = capsys.readouterr().out.strip().splitlines()
    for line, name in zip(out[-2:], ('deeplabv3plus', 'mask2former')):
        m = re.fullmatch(
            rf'model={name} step_s={NUM} per_image_ms={NUM} peak_mib={NUM}',
            line)
        assert m, line
        step_s, per_image_ms = float(m.group(1)), float(m.group(2))
        assert per_image_ms == pytest.approx(
            1e3 * step_s / 2, rel=0.02, abs=0.1)
        assert res[name]['batch_size'] == 2 and res[name]['crop'] == 32
        assert all(np.isfinite(res[name]['losses']))
    assert stage2_step.BATCH['real'] == dict(deeplabv3plus=16, mask2former=4)
    assert stage2_step.CROP['real'] == 512


def test_bench_utils_peak_memory_and_workers(bench_utils, tmp_path):
    """PeakMemory sees a 64 MiB allocation on the CPU; spawn_worker returns
    the last JSON line and names a failing worker."""
    # in a fresh process: in a long one, memory freed earlier may serve the
    # allocation without raising the resident set
    probe = tmp_path / 'probe.py'
    probe.write_text(
        'import json, sys, torch\n'
        f'sys.path.insert(0, {osp.dirname(bench_utils.__file__)!r})\n'
        f'sys.path.insert(0, {osp.dirname(osp.dirname(osp.dirname(bench_utils.__file__)))!r})\n'
        'import bench_utils\n'
        'with bench_utils.PeakMemory("cpu") as mem:\n'
        '    x = torch.ones(16 * 2**20)  # 64 MiB of float32, touched\n'
        '    x += 1\n'
        'print(json.dumps([mem.kind, mem.mib, mem.total_mib]))\n')
    out = subprocess.run([sys.executable, str(probe)],
                         capture_output=True, text=True, check=True).stdout
    kind, mib, total = json.loads(out.strip().splitlines()[-1])
    assert kind == 'RSS' and mib >= 60 and total is None
    script = tmp_path / 'w.py'
    script.write_text('import json, sys\nprint("progress")\n'
                      'print(json.dumps({"argv": sys.argv[1:]}))\n'
                      'sys.exit(int(sys.argv[1]))\n')
    assert bench_utils.spawn_worker(str(script), [0, 'a'], 'w') == {
        'argv': ['0', 'a']
    }
    with pytest.raises(RuntimeError, match='w worker of w.py failed'):
        bench_utils.spawn_worker(str(script), [3], 'w', quiet=True)
    assert bench_utils.resolve_device('cpu') == 'cpu'
    assert bench_utils.resolve_device('auto') in ('cpu', 'cuda')
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='no usable CUDA'):
            bench_utils.resolve_device('cuda')


def test_sams_dense_same_seeds_and_summary(repo_root, capsys):
    """tools/benchmarks/sams_dense.py: sams_seed and the reference's dense
    form give the same seed map on a real image (the benchmark asserts it)
    and the last line is the summary."""
    bench = _load(repo_root, 'sams_dense')
    bench.main(['--images', '1', '--repeats', '1', '--max-masks', '30'])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = re.fullmatch(rf'reference_ms={NUM} sams_ms={NUM} speedup={NUM}', last)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0
