"""Mixed precision on any device: ``DeviceAmpOptimWrapper`` (what
``tools/train.py --amp`` selects), the ``--amp`` argument translation, a
prompt-training run with ``--amp`` on the CPU (bfloat16), and the seed CAMs'
``cam_dtype`` switch (float32 by default even under an outer autocast)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from _helpers import build_tiny_prompt_model, voc_mini_crops

from mmwsss.engine import DeviceAmpOptimWrapper
from mmwsss.apis.mm_tools import amp_arguments, run_mmseg_tool

PROMPT_CFG = 'configs/fma/voc_mini_prompts_demo.py'


@pytest.fixture(scope='module')
def batch(voc_mini_root):
    """2 bundled training images as 64x64 crops with their GT as D_C."""
    return voc_mini_crops(voc_mini_root, 2)


def test_cpu_wrapper_is_bf16_without_scaler():
    p = torch.nn.Parameter(torch.ones(3))
    wrapper = build_optim_wrapper(
        torch.nn.Linear(1, 1),
        dict(type='DeviceAmpOptimWrapper', optimizer=dict(type='SGD', lr=0.5)))
    assert wrapper.device_type == 'cpu'
    assert wrapper.cast_dtype is torch.bfloat16
    assert not wrapper.loss_scaler.is_enabled()
    # autocast is on inside the context, on the parameters' device
    with wrapper.optim_context(torch.nn.Linear(1, 1)):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype is torch.bfloat16
    # the update: loss 2 * sum(p) -> grad 2, lr 0.5 -> p = 1 - 1 = 0
    wrapper = DeviceAmpOptimWrapper(optimizer=torch.optim.SGD([p], lr=0.5))
    wrapper.update_params((2 * p).sum())
    assert torch.equal(p.detach(), torch.zeros(3))
    # state dicts round-trip (the scaler is disabled: nothing to restore)
    wrapper.load_state_dict(wrapper.state_dict())


def test_cpu_wrapper_rejects_float16():
    with pytest.raises(ValueError, match='optim_wrapper.dtype'):
        DeviceAmpOptimWrapper(
            dtype='float16',
            optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                      lr=1.))
    with pytest.raises(ValueError, match='optim_wrapper.dtype'):
        DeviceAmpOptimWrapper(
            dtype='half',
            optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                      lr=1.))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_wrapper_is_fp16_with_dynamic_loss_scale():
    p = torch.nn.Parameter(torch.ones(3, device='cuda'))
    wrapper = DeviceAmpOptimWrapper(optimizer=torch.optim.SGD([p], lr=0.5))
    assert wrapper.device_type == 'cuda'
    assert wrapper.loss_scaler.is_enabled()
    with wrapper.optim_context(torch.nn.Linear(1, 1)):
        y = torch.ones(2, 2, device='cuda') @ torch.ones(2, 2, device='cuda')
    assert y.dtype is torch.float16


def test_amp_arguments(repo_root):
    cfg = osp.join(repo_root, PROMPT_CFG)
    assert amp_arguments([cfg, '--work-dir', 'w']) == [cfg, '--work-dir', 'w']
    assert amp_arguments([cfg, '--amp']) == [
        cfg, '--cfg-options', 'optim_wrapper.type=DeviceAmpOptimWrapper'
    ]
    # placed first among the user's options: an explicit type still wins
    assert amp_arguments([cfg, '--amp', '--cfg-options', 'a=1']) == [
        cfg, '--cfg-options', 'optim_wrapper.type=DeviceAmpOptimWrapper', 'a=1'
    ]


def test_amp_arguments_rejects_other_wrappers(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("optim_wrapper = dict(type='MyWrapper')\n")
    with pytest.raises(ValueError, match='cfg.py: --amp needs'):
        amp_arguments([str(cfg), '--amp'])


@pytest.mark.parametrize('phase', ['cls', 'seg'])
def test_prompt_step_under_cpu_amp(batch, phase):
    """One train_step of each phase with the wrapper --amp selects: the
    losses are finite, the phase's prompts move and stay float32."""
    model = build_tiny_prompt_model(phase=phase)
    model.train()
    wrapper = build_optim_wrapper(
        model,
        dict(
            type='DeviceAmpOptimWrapper',
            optimizer=dict(type='SGD', lr=1.0, momentum=0.9)))
    learner = model.cls_prompt if phase == 'cls' else model.seg_prompt
    before = learner.ctx.detach().clone()
    log_vars = model.train_step(copy.deepcopy(batch), wrapper)
    assert torch.isfinite(log_vars['loss'])
    assert learner.ctx.dtype is torch.float32
    assert not torch.equal(learner.ctx.detach(), before)


def test_train_py_amp_on_cpu(repo_root, tmp_path, gt_mask_cache, monkeypatch):
    """``tools/train.py CONFIG --amp`` on the tiny prompt demo config: 1
    cls + 1 seg iteration on the CPU under bfloat16 autocast."""
    monkeypatch.chdir(repo_root)
    work = tmp_path / 'work'
    run_mmseg_tool('train.py', [
        PROMPT_CFG, '--amp', '--work-dir',
        str(work), '--cfg-options', 'train_cfg.cls_iters=1',
        'train_cfg.seg_iters=1', 'param_scheduler.0.end=1',
        'param_scheduler.0.warmup_iters=0', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=2', 'param_scheduler.1.warmup_iters=0',
        f'model.seeder.cls.mask_dir={gt_mask_cache}',
        f'model.seeder.seg.mask_dir={gt_mask_cache}',
        # the coarse-seed and phase-2 datasets derive from this one
        'train_dataloader.dataset.indices=2'
    ])
    assert osp.isfile(work / 'iter_2.pth')
    dumped = Config.fromfile(str(work / 'voc_mini_prompts_demo.py'))
    assert dumped.optim_wrapper.type == 'DeviceAmpOptimWrapper'
    ckpt = torch.load(work / 'iter_2.pth', weights_only=False)
    assert ckpt['state_dict']['seg_prompt.ctx'].dtype is torch.float32


def test_cam_dtype_default_float32_under_outer_autocast(batch):
    model = build_tiny_prompt_model()
    model.eval()
    data = model.data_preprocessor(copy.deepcopy(batch), False)
    inputs, samples = data['inputs'], data['data_samples']
    labels = model.multi_hot(samples)
    ref, fg = model.seed_predictor.image_cams(inputs, 0, samples[0], labels,
                                              'seg')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        cams, _ = model.seed_predictor.image_cams(inputs, 0, samples[0],
                                                  labels, 'seg')
    assert cams.dtype is torch.float32
    torch.testing.assert_close(cams, ref, rtol=0, atol=0)

    bf16 = build_tiny_prompt_model(cam_dtype='bfloat16').eval()
    low, fg16 = bf16.seed_predictor.image_cams(inputs, 0, samples[0], labels,
                                               'seg')
    assert torch.equal(fg16, fg) and low.dtype is torch.float32  # CAA f32
    assert not torch.equal(low, ref)  # the GradCAM did run in bfloat16
    torch.testing.assert_close(low, ref, rtol=0, atol=0.1)


def test_cam_dtype_checked():
    with pytest.raises(ValueError, match='cam_dtype'):
        build_tiny_prompt_model(cam_dtype='fp8')


@pytest.mark.parametrize('phase', ['cls', 'seg'])
@pytest.mark.parametrize('dtype,tol', [(torch.float16, 0.05),
                                       (torch.bfloat16, 0.1)])
def test_prompt_gradients_under_autocast_match_float32(batch, phase, dtype,
                                                       tol):
    """The prompts' gradients (MCL; second-order CAL through the GradCAM)
    under autocast stay close to float32: float16 with a loss scale of 1024
    (what GradScaler does on CUDA; CPU autocast runs the same float16
    casts) and bfloat16 unscaled."""
    grads = {}
    for dt in (torch.float32, dtype):
        model = build_tiny_prompt_model(phase=phase)
        model.train()
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        with torch.autocast('cpu', dtype=dt, enabled=dt != torch.float32):
            loss = sum(
                model.loss(data['inputs'], data['data_samples']).values())
        scale = 1024. if dt is torch.float16 else 1.
        (loss * scale).backward()
        learner = model.cls_prompt if phase == 'cls' else model.seg_prompt
        grads[dt] = learner.ctx.grad / scale
    ref = grads[torch.float32]
    assert ref.abs().max() > 0
    assert float((grads[dtype] - ref).norm() / ref.norm()) < tol
