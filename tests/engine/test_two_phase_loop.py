"""The FMA-WSSS schedule in one run (tools/train.py configs/fma/...):
phase 1 -> coarse seeds on disk -> phase 2, resume in any phase, the
warm-up cosine learning rate."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmwsss.engine.schedulers import warmup_cosine_value

CONFIG = 'configs/fma/voc_mini_prompts_demo.py'


class _Stop(RuntimeError):
    pass


@HOOKS.register_module(force=True)
class StopAtIter(Hook):
    """Test hook: simulate a crash after iteration ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            raise _Stop(f'stopped at {self.at}')


def _cfg(repo_root,
         work_dir,
         mask_dir,
         stop_at=None,
         resume=False,
         alphas=(0.6, )):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    cfg.resume = resume
    for task in ('cls', 'seg'):
        cfg.model.seeder[task].mask_dir = mask_dir
    cfg.train_cfg.cls_iters = 4
    cfg.train_cfg.seg_iters = 4
    cfg.train_cfg.coarse_seeds.alphas = list(alphas)
    cfg.param_scheduler[0].update(end=4, warmup_iters=1)
    cfg.param_scheduler[1].update(begin=4, end=8, warmup_iters=1)
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=10)
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = ([
        dict(type='StopAtIter', at=stop_at, priority='LOWEST')
    ] if stop_at else [])
    # run from the repo root, where the config's data paths are relative.
    # Issue 13: the coarse-seed and phase-2 datasets are derived from the
    # train dataset (mmwsss/engine/derived_data.py), so one data_root is
    # all there is to change.
    assert cfg.train_cfg.coarse_seeds.dataloader is None
    assert cfg.train_cfg.seg_dataloader.dataset.dataset is None
    cfg.train_dataloader.dataset.data_root = osp.join(repo_root, 'data',
                                                      'voc_mini')
    return cfg


def _run(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_full_schedule_then_resume_in_phase_two(repo_root, tmp_path,
                                                gt_mask_cache):
    work = tmp_path / 'work'
    # 1) crash in phase 2 (after iteration 6)
    with pytest.raises(_Stop):
        _run(_cfg(repo_root, work, gt_mask_cache, stop_at=6))
    seeds = sorted(glob.glob(str(work / 'coarse_seeds' / '*.png')))
    assert len(seeds) == 10  # every training image has a coarse seed
    assert osp.isfile(work / 'iter_4.pth') and osp.isfile(work / 'iter_6.pth')
    mtimes = {p: os.stat(p).st_mtime_ns for p in seeds}
    ckpt4 = torch.load(work / 'iter_4.pth', weights_only=False)
    ckpt6 = torch.load(work / 'iter_6.pth', weights_only=False)
    # phase 1 trained the cls prompts only, phase 2 the seg prompts only
    assert sorted(ckpt6['state_dict']) == ['cls_prompt.ctx', 'seg_prompt.ctx']
    assert torch.equal(ckpt4['state_dict']['cls_prompt.ctx'],
                       ckpt6['state_dict']['cls_prompt.ctx'])
    assert not torch.equal(ckpt4['state_dict']['seg_prompt.ctx'],
                           ckpt6['state_dict']['seg_prompt.ctx'])

    # 2) --resume: continues at iteration 6 in phase 2, seeds reused
    runner = _run(_cfg(repo_root, work, gt_mask_cache, resume=True))
    assert runner.iter == 8
    assert osp.isfile(work / 'iter_8.pth')
    assert {p: os.stat(p).st_mtime_ns for p in seeds} == mtimes
    ckpt8 = torch.load(work / 'iter_8.pth', weights_only=False)
    assert torch.equal(ckpt4['state_dict']['cls_prompt.ctx'],
                       ckpt8['state_dict']['cls_prompt.ctx'])
    # the seg-phase learning rate restarted its warm-up at iteration 4 and
    # decays to 0 at 8
    lr = ckpt8['message_hub']['log_scalars']['train/lr']
    assert lr.current() == pytest.approx(
        warmup_cosine_value(3, 4, 1e-3, 1, 1e-5, 0.), abs=1e-9)


@HOOKS.register_module(force=True)
class RecordIters(Hook):
    """Test hook: the iterations trained, in order, with their phase."""

    trained = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        RecordIters.trained.append((runner.iter, model.phase))


def test_killed_in_phase_two_resumes_the_same_iterations(
        repo_root, tmp_path, gt_mask_cache):
    """Issue 25: the phase-1 checkpoint is named and recorded as the
    iterations it completed (iter_4 after 4, not iter_5), and a run killed
    at its first phase-2 iteration, then resumed, trains the iterations of
    a run that was never killed, in the same order."""
    def cfg(work, **kw):
        c = _cfg(repo_root, work, gt_mask_cache, **kw)
        c.default_hooks.checkpoint.update(interval=100)  # phase end only
        c.custom_hooks.append(dict(type='RecordIters', priority='HIGHEST'))
        return c

    RecordIters.trained = []
    _run(cfg(tmp_path / 'whole'))
    whole = list(RecordIters.trained)
    assert whole == [(i, 'cls') for i in range(4)] + [(i, 'seg')
                                                      for i in range(4, 8)]

    work = tmp_path / 'killed'
    RecordIters.trained = []
    with pytest.raises(_Stop):
        _run(cfg(work, stop_at=5))
    first = list(RecordIters.trained)
    assert osp.isfile(work / 'iter_4.pth')
    assert not osp.isfile(work / 'iter_5.pth')
    assert torch.load(work / 'iter_4.pth',
                      weights_only=False)['meta']['iter'] == 4
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_4.pth')
    RecordIters.trained = []
    _run(cfg(work, resume=True))
    resumed = list(RecordIters.trained)
    # the killed iteration (4) is trained again: nothing of it was saved
    assert first[:4] + resumed == whole


def test_interrupted_coarse_seeds_resume(repo_root, tmp_path, gt_mask_cache):
    """A run that stops while writing D_C resumes from the phase-1
    checkpoint and writes only the missing seeds; with several alphas the
    best one by GT mIoU is kept and remembered."""
    work = tmp_path / 'work'
    with pytest.raises(_Stop):
        _run(
            _cfg(repo_root, work, gt_mask_cache, stop_at=5, alphas=(0.3, 0.6)))
    choice = work / 'coarse_seeds' / 'selection.json'
    assert choice.is_file()
    sub = sorted(glob.glob(str(work / 'coarse_seeds' / 'alpha_*')))
    assert [osp.basename(p) for p in sub] == ['alpha_0.3', 'alpha_0.6']
    # simulate a crash in the seed stage: 3 seeds of one alpha lost
    lost = sorted(glob.glob(osp.join(sub[0], '*.png')))[:3]
    kept = sorted(glob.glob(osp.join(sub[0], '*.png')))[3:]
    for p in lost:
        os.remove(p)
    os.remove(choice)
    with open(work / 'last_checkpoint', 'w') as f:
        f.write(str(work / 'iter_4.pth'))
    mtimes = {p: os.stat(p).st_mtime_ns for p in kept}
    _run(_cfg(repo_root, work, gt_mask_cache, resume=True, alphas=(0.3, 0.6)))
    assert all(osp.isfile(p) for p in lost)
    assert {p: os.stat(p).st_mtime_ns for p in kept} == mtimes
    assert choice.is_file()


def test_coarse_seeds_overwrite_rewrites_the_files(repo_root, tmp_path,
                                                  gt_mask_cache):
    """coarse_seeds.overwrite=True recomputes every seed and writes it over
    the finished one (it used to compute and score the new seed but keep
    the old file)."""
    from mmwsss.io import read_seed_png, seed_path, write_seed_png
    work = tmp_path / 'work'
    cfg = _cfg(repo_root, work, gt_mask_cache)
    cfg.train_cfg.cls_iters = 0
    cfg.train_cfg.seg_iters = 1
    cfg.train_cfg.coarse_seeds.overwrite = True
    cfg.param_scheduler[1].update(begin=0, end=1, warmup_iters=0)
    stale = seed_path(str(work / 'coarse_seeds'), '2007_000032.jpg')
    old = read_seed_png(
        osp.join(repo_root, 'data', 'voc_mini', 'SegmentationClass',
                 '2007_000032.png'))
    write_seed_png(stale, (old * 0 + 7))
    _run(cfg)
    assert not (read_seed_png(stale) == 7).all()


def test_warmup_cosine_values():
    # constant warm-up, then cosine from base to eta_min
    assert warmup_cosine_value(0, 10, 1e-3, 2, 1e-5, 0.) == 1e-5
    assert warmup_cosine_value(1, 10, 1e-3, 2, 1e-5, 0.) == 1e-5
    assert warmup_cosine_value(2, 10, 1e-3, 2, 1e-5, 0.) == pytest.approx(1e-3)
    assert warmup_cosine_value(6, 10, 1e-3, 2, 1e-5, 0.) == pytest.approx(
        5e-4)  # half way through the 8 cosine steps
    assert warmup_cosine_value(10, 10, 1e-3, 2, 1e-5, 0.) == pytest.approx(0.)
