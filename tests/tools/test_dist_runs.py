"""Distributed runs with two CPU processes (gloo), through the launchers a
user runs (tools/dist_train.sh, tools/dist_test.sh: torch.distributed.run
and mmengine's pytorch launcher, the code path of NCCL on GPUs minus the
device): the two-phase prompt schedule, the fine seeds and stage 2, on the
tiny random models and a folder of 5 shrunk images (3 with masks: an odd
count, so a rank that padded its share would repeat an image).

Every process imports tests/_dist_probe.py, which logs each atomic write
(``os.replace``) and each training iteration's start with its rank: the
tests count the writes of every file over the ranks and order phase 2
after the coarse seeds.
"""
import collections
import json
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from _helpers import PIPELINE_TRAIN, PIPELINE_VAL, make_label_folder

#: Prompt iterations of each phase in the shared runs.
PHASE_ITERS = 2
STAGE2_ITERS = 2
WECLIP_ITERS = 2
#: Seconds any one run may take (a hang fails the test, not CI).
RUN_TIMEOUT = 300
IMAGES = sorted(PIPELINE_TRAIN)
WITH_MASKS = PIPELINE_TRAIN[:3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(root: str, probe: str) -> dict:
    """The environment of a run: the probe module importable and on, one
    thread per process, a free port for the process group."""
    os.makedirs(probe, exist_ok=True)
    path = [osp.join(root, 'probe_module'), os.environ.get('PYTHONPATH', '')]
    return dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PORT=str(_free_port()),
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join(p for p in path if p),
        MMWSSS_DIST_PROBE=probe)


def _run(cmd, repo_root: str, env: dict) -> str:
    proc = subprocess.run(
        cmd,
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def _dist(repo_root: str, script: str, args, env: dict) -> str:
    return _run(['bash', osp.join(repo_root, 'tools', script)] +
                [str(a) for a in args], repo_root, env)


def _events(probe: str) -> list:
    out = []
    for name in sorted(os.listdir(probe)):
        with open(osp.join(probe, name)) as f:
            out += [json.loads(line) for line in f]
    return out


def _writes(events: list, folder: str, ext: str = '.png') -> dict:
    """File name -> ranks that replaced it in ``folder``, once per write."""
    out = collections.defaultdict(list)
    for e in events:
        if e['kind'] == 'replace' and osp.dirname(e['path']) == folder and \
                e['path'].endswith(ext):
            out[osp.basename(e['path'])].append(e['rank'])
    return dict(out)


def _each_seed_written_once(events: list, folder: str) -> None:
    """Every image's seed PNG in ``folder`` was written exactly once, the
    two ranks splitting the 5 images 3 / 2 (rank 0 the larger share)."""
    writes = _writes(events, folder)
    assert sorted(writes) == [i + '.png' for i in IMAGES]
    assert all(len(r) == 1 for r in writes.values()), writes
    assert collections.Counter(r[0] for r in writes.values()) == {0: 3, 1: 2}


def _same_seed_bytes(dir_a: str, dir_b: str) -> None:
    """The seed PNGs of every image are byte-identical in both folders."""
    for name in (i + '.png' for i in IMAGES):
        with open(osp.join(dir_a, name), 'rb') as a, \
                open(osp.join(dir_b, name), 'rb') as b:
            assert a.read() == b.read(), name


def _configs(repo_root: str, root: str, spec, masks: str) -> dict:
    """The stage configs of the pipeline, each importing the probe."""
    from mmwsss.apis.stage_configs import (Weights, dump_config, prompt_config,
                                           seed_config, set_prompt_iters,
                                           set_stage2_iters, set_weclip_iters,
                                           stage2_config, weclip_config)
    configs = osp.join(repo_root, 'configs')
    weights = Weights()
    prompts = prompt_config(
        osp.join(configs, 'fma', 'voc_mini_prompts_demo.py'), spec, masks,
        weights)
    set_prompt_iters(prompts, PHASE_ITERS, PHASE_ITERS)
    seeds = seed_config(
        osp.join(configs, 'fma', 'voc_mini_seeds_demo.py'), spec, masks,
        weights, osp.join(root, 'seeds'))
    # overwrite: a rank that repeated an image would write it twice
    seeds.test_evaluator.overwrite = True
    stage2 = stage2_config(
        osp.join(
            configs, 'deeplabv3plus',
            'deeplabv3plus_r18-tiny_1xb4-800iter_voc-mini-pseudo-'
            '64x64.py'), spec, masks, osp.join(root, 'seeds', 'seeds'),
        len(spec.classes) + 1, osp.join(root, 'pred'))
    set_stage2_iters(stage2, STAGE2_ITERS)
    weclip = weclip_config(
        osp.join(configs, 'weclip', 'weclip-plus_tiny-clip-tiny-dinov2_'
                 '1xb2-2iter_voc-mini-64x64.py'), spec, weights)
    set_weclip_iters(weclip, WECLIP_ITERS)
    out = {}
    for name, cfg in (('prompts', prompts), ('seeds', seeds),
                      ('stage2', stage2), ('weclip', weclip)):
        cfg.custom_imports = dict(
            imports=['mmwsss.registration', '_dist_probe'],
            allow_failed_imports=False)
        cfg.custom_hooks = list(cfg.get('custom_hooks')
                                or []) + [dict(type='DistProbeHook')]
        out[name] = dump_config(cfg, osp.join(root, 'configs', name + '.py'))
    return out


@pytest.fixture(scope='module')
def dist_runs(repo_root, voc_mini_root, tmp_path_factory) -> dict:
    """One set of runs for the module: 2-process prompts (both phases),
    2-process seeds from its checkpoint and the same seeds in one process,
    2-process stage 2 on the 2-process seeds.

    Returns:
        dict: ``root``, ``train`` / ``val`` folders, ``configs``, and per
        run its output (``*_out``) and probe events (``*_events``).
    """
    from mmwsss.apis.data_spec import FolderSpec
    from mmwsss.apis.sam_masks import generate_sam_masks
    from mmwsss.apis.stage_configs import Weights, sam_config
    root = str(tmp_path_factory.mktemp('dist_runs'))
    os.makedirs(osp.join(root, 'probe_module'))
    shutil.copy(
        osp.join(repo_root, 'tests', '_dist_probe.py'),
        osp.join(root, 'probe_module'))
    train, val = osp.join(root, 'train'), osp.join(root, 'val')
    make_label_folder(voc_mini_root, train, IMAGES, with_masks=WITH_MASKS)
    make_label_folder(voc_mini_root, val, PIPELINE_VAL)
    spec = FolderSpec(train, val)
    spec.check()
    masks = osp.join(root, 'masks')
    res = generate_sam_masks(
        sam_config(
            osp.join(repo_root, 'configs', 'sams', 'felzenszwalb.py'), spec,
            masks, Weights()),
        work_dir=osp.join(root, 'masks_log'))
    assert res['exit_code'] == 0, res
    configs = _configs(repo_root, root, spec, masks)
    out = dict(root=root, train=train, val=val, configs=configs)

    def run(name, cmd, script=None):
        probe = osp.join(root, 'probe', name)
        env = _env(root, probe)
        out[name + '_out'] = (
            _dist(repo_root, script, cmd, env) if script else _run(
                cmd, repo_root, env))
        out[name + '_events'] = _events(probe)

    ckpt = osp.join(root, 'prompts', f'iter_{2 * PHASE_ITERS}.pth')
    run('train',
        [configs['prompts'], 2, '--work-dir',
         osp.join(root, 'prompts')], 'dist_train.sh')
    run('seeds',
        [configs['seeds'], ckpt, 2, '--work-dir',
         osp.join(root, 'seeds')], 'dist_test.sh')
    one = osp.join(root, 'seeds_one')
    run('seeds_one', [
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), configs['seeds'], ckpt,
        '--work-dir', one, '--cfg-options', f'test_evaluator.seed_dir={one}'
        '/seeds', f'test_evaluator.out_dir={one}',
        f'test_evaluator.overlay_dir={one}/overlays',
        f'model.reuse_seeds_from={one}/seeds'
    ])
    run('stage2',
        [configs['stage2'], 2, '--work-dir',
         osp.join(root, 'stage2')], 'dist_train.sh')
    # WeCLIP+ trained by two processes, its pseudo labels written as seeds
    # by two processes and, from the same checkpoint, by one
    from mmwsss.apis.stage_configs import dump_config, weclip_seed_config
    for name in ('weclip_seeds', 'weclip_seeds_one'):
        cfg = weclip_seed_config(configs['weclip'], spec,
                                 osp.join(root, name))
        cfg.test_evaluator.overwrite = True
        configs[name] = dump_config(
            cfg, osp.join(root, 'configs', name + '.py'))
    run('weclip', [configs['weclip'], 2, '--work-dir',
                   osp.join(root, 'weclip')], 'dist_train.sh')
    wckpt = osp.join(root, 'weclip', f'iter_{WECLIP_ITERS}.pth')
    run('weclip_seeds', [configs['weclip_seeds'], wckpt, 2, '--work-dir',
                         osp.join(root, 'weclip_seeds')], 'dist_test.sh')
    run('weclip_seeds_one', [
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), configs['weclip_seeds_one'],
        wckpt, '--work-dir', osp.join(root, 'weclip_seeds_one')
    ])
    return out


def test_two_phase_prompts_each_coarse_seed_once_then_phase_two(dist_runs):
    root = dist_runs['root']
    out, events = dist_runs['train_out'], dist_runs['train_events']
    # started through the CPU adaptation (mmwsss.compat.cpu_dist)
    assert 'model_wrapper_cfg.type=CPUDistributedDataParallel' in out
    assert 'env_cfg.dist_cfg.backend=gloo' in out
    coarse = osp.join(root, 'prompts', 'coarse_seeds')
    pngs = [i + '.png' for i in IMAGES]
    _each_seed_written_once(events, coarse)  # each rank its own share
    assert sorted(os.listdir(coarse)) == pngs  # and nothing else left
    # phase 2 starts on every rank after the last coarse seed is written,
    # with all of them in the folder
    last_write = max(
        e['t'] for e in events
        if e['kind'] == 'replace' and osp.dirname(e['path']) == coarse)
    starts = [
        e for e in events if e['kind'] == 'iter' and e['iter'] == PHASE_ITERS
    ]
    assert sorted(e['rank'] for e in starts) == [0, 1]
    for e in starts:
        assert e['t'] > last_write
        assert e['coarse_seeds'] == pngs
    # every rank ran every iteration of both phases
    for rank in (0, 1):
        assert sorted(e['iter'] for e in events
                      if e['kind'] == 'iter' and e['rank'] == rank) == list(
                          range(2 * PHASE_ITERS))
    assert osp.isfile(osp.join(root, 'prompts', f'iter_{2 * PHASE_ITERS}.pth'))


def test_coarse_seed_scores_summed_over_ranks_equal_one_process(dist_runs):
    """The mIoU the ranks all-reduce is the one of the written files,
    scored in one process (each image with a mask counted once)."""
    from mmwsss.evaluation.seed_scores import (scores_from_confusion,
                                               seed_confusion)
    from mmwsss.io import read_seed_png
    root, train = dist_runs['root'], dist_runs['train']
    found = re.findall(r'cls seeds in \S+: mIoU ([\d.]+) on (\d+) images',
                       dist_runs['train_out'])
    assert len(found) == 1, found  # rank 0 logs it once
    miou, n = float(found[0][0]), int(found[0][1])
    assert n == len(WITH_MASKS)
    conf = sum(
        seed_confusion(
            read_seed_png(
                osp.join(root, 'prompts', 'coarse_seeds', i + '.png')),
            read_seed_png(osp.join(train, 'masks', i + '.png')), 4)
        for i in WITH_MASKS)
    assert miou == pytest.approx(
        scores_from_confusion(conf)['mIoU'] * 100, abs=0.006)


def test_seeds_each_written_once_and_equal_to_one_process(dist_runs):
    root = dist_runs['root']
    pngs = [i + '.png' for i in IMAGES]
    dist_dir = osp.join(root, 'seeds', 'seeds')
    one_dir = osp.join(root, 'seeds_one', 'seeds')
    _each_seed_written_once(dist_runs['seeds_events'], dist_dir)
    overlays = _writes(dist_runs['seeds_events'],
                       osp.join(root, 'seeds', 'overlays'), '.jpg')
    assert sorted(overlays) == [i + '.jpg' for i in IMAGES]
    assert all(len(r) == 1 for r in overlays.values()), overlays
    # the one-process run writes the same files, byte for byte
    assert sorted(_writes(dist_runs['seeds_one_events'], one_dir)) == pngs
    _same_seed_bytes(dist_dir, one_dir)
    # ... and the same scores: mIoU, per class, images with / without GT
    reports = []
    for folder in ('seeds', 'seeds_one'):
        with open(osp.join(root, folder, 'seed_scores.json')) as f:
            reports.append(json.load(f))
    assert reports[0] == reports[1]
    assert reports[0]['num_images'] == len(WITH_MASKS)
    assert reports[0]['num_images_without_gt'] == len(IMAGES) - len(WITH_MASKS)
    metric = re.compile(r'Iter\(test\).*?mIoU: ([\d.]+)')
    assert metric.findall(dist_runs['seeds_out']) == metric.findall(
        dist_runs['seeds_one_out'])
    assert len(metric.findall(dist_runs['seeds_out'])) == 1


def test_stage2_trains_on_the_seeds(dist_runs):
    root, events = dist_runs['root'], dist_runs['stage2_events']
    for rank in (0, 1):
        assert sorted(e['iter'] for e in events
                      if e['kind'] == 'iter' and e['rank'] == rank) == list(
                          range(STAGE2_ITERS))
    assert osp.isfile(osp.join(root, 'stage2', f'iter_{STAGE2_ITERS}.pth'))
    out = dist_runs['stage2_out']
    # DDP on the CPU: the config's SyncBN trained as BN
    assert 'model_wrapper_cfg.type=CPUDistributedDataParallel' in out
    assert re.search(r'Iter\(val\).*mIoU: [\d.]+', out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_rank_fails_the_run_without_a_hang(dist_runs, repo_root):
    """SIGKILL to rank 1 mid-training: the launcher ends rank 0 and exits
    non-zero, naming the rank and the signal, within a bounded time."""
    root = dist_runs['root']
    probe = osp.join(root, 'probe', 'kill')
    env = _env(root, probe)
    cmd = [
        'bash',
        osp.join(repo_root, 'tools', 'dist_train.sh'),
        dist_runs['configs']['prompts'], '2', '--work-dir',
        osp.join(root, 'killed'), '--cfg-options', 'train_cfg.cls_iters=100000'
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True)
    try:
        deadline = time.time() + RUN_TIMEOUT
        pids = {}
        while time.time() < deadline and proc.poll() is None:
            if osp.isdir(probe):
                running = [
                    e for e in _events(probe)
                    if e['kind'] == 'iter' and e['iter'] >= 1
                ]
                pids = {e['rank']: e['pid'] for e in running}
                if len(pids) == 2:
                    break
            time.sleep(0.2)
        assert len(pids) == 2, proc.communicate(timeout=60)[0][-6000:]
        os.kill(pids[1], signal.SIGKILL)
        killed = time.time()
        out, _ = proc.communicate(timeout=120)
        took = time.time() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0, out[-6000:]
    assert took < 60, took
    assert 'ChildFailedError' in out, out[-6000:]
    assert re.search(r'rank\s*: 1 \(local_rank: 1\)\s*\n\s*exitcode\s*: -9',
                     out), out[-6000:]
    assert 'Signal 9 (SIGKILL)' in out
    assert not _alive(pids[0])


def test_weclip_two_processes_train_and_write_each_seed_once(dist_runs):
    """WeCLIP+ under DDP (2 CPU processes): both ranks train every
    iteration; its online pseudo labels are written once each, split over
    the ranks, byte-identical to one process with the same checkpoint."""
    root = dist_runs['root']
    events = dist_runs['weclip_events']
    for rank in (0, 1):
        assert sorted(e['iter'] for e in events if e['kind'] == 'iter' and
                      e['rank'] == rank) == list(range(WECLIP_ITERS))
    assert 'model_wrapper_cfg.type=CPUDistributedDataParallel' in \
        dist_runs['weclip_out']
    dist_dir = osp.join(root, 'weclip_seeds', 'seeds')
    _each_seed_written_once(dist_runs['weclip_seeds_events'], dist_dir)
    _same_seed_bytes(dist_dir, osp.join(root, 'weclip_seeds_one', 'seeds'))
    scores = []
    for name in ('weclip_seeds', 'weclip_seeds_one'):
        with open(osp.join(root, name, 'seed_scores.json')) as f:
            scores.append(json.load(f)['mIoU'])
    assert scores[0] == scores[1]
