"""mmwsss.compat.cpu_dist: distributed runs without CUDA (gloo), applied
only when CUDA is unavailable and a launcher is given. The two-process
runs themselves: tests/tools/test_dist_runs.py."""
import os.path as osp
import socket

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import utils as dist_utils
from mmengine.registry import MODEL_WRAPPERS
from torch import nn

from mmwsss.apis.mm_tools import cpu_distributed_arguments
from mmwsss.compat.cpu_dist import (CPU_DDP, cpu_distributed_overrides,
                                    cpu_process_group)

NO_CUDA_OVERRIDES = {
    'env_cfg.dist_cfg.backend': 'gloo',
    'model_wrapper_cfg.broadcast_buffers': False,
    'model_wrapper_cfg.find_unused_parameters': True,
    'model_wrapper_cfg.type': CPU_DDP,
}


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


def _cfg(**kwargs) -> Config:
    cfg = dict(
        env_cfg=dict(dist_cfg=dict(backend='nccl')),
        find_unused_parameters=True)
    cfg.update(kwargs)
    return Config(cfg)


def test_overrides_without_cuda(no_cuda):
    assert cpu_distributed_overrides(_cfg(), 'pytorch') == NO_CUDA_OVERRIDES
    # mmengine's default wrapping keeps the config's find_unused_parameters
    plain = cpu_distributed_overrides(
        _cfg(find_unused_parameters=False), 'slurm')
    assert plain['model_wrapper_cfg.find_unused_parameters'] is False
    # a configured DDP wrapper keeps its arguments; gloo is not repeated
    cfg = _cfg(
        env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=60)),
        model_wrapper_cfg=dict(
            type='MMDistributedDataParallel', find_unused_parameters=False))
    assert cpu_distributed_overrides(cfg, 'pytorch') == {
        'model_wrapper_cfg.type': CPU_DDP
    }
    # no backend at all is mmengine's nccl
    assert cpu_distributed_overrides(Config(
        dict()), 'pytorch')['env_cfg.dist_cfg.backend'] == 'gloo'
    # another wrapper (FSDP, DeepSpeed) is the user's: backend only
    fsdp = _cfg(model_wrapper_cfg=dict(type='MMFullyShardedDataParallel'))
    assert cpu_distributed_overrides(fsdp, 'pytorch') == {
        'env_cfg.dist_cfg.backend': 'gloo'
    }
    # one process: nothing
    assert cpu_distributed_overrides(_cfg(), 'none') == {}


def test_no_overrides_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert cpu_distributed_overrides(_cfg(), 'pytorch') == {}
    original = dist_utils._init_dist_pytorch
    with cpu_process_group():
        assert dist_utils._init_dist_pytorch is original


def test_tool_arguments(no_cuda, tmp_path):
    config = tmp_path / 'cfg.py'
    config.write_text("env_cfg = dict(dist_cfg=dict(backend='nccl'))\n"
                      'find_unused_parameters = True\n')
    ours = [f'{k}={v}' for k, v in NO_CUDA_OVERRIDES.items()]
    args = [str(config), '--launcher', 'pytorch']
    assert cpu_distributed_arguments(args) == args + ['--cfg-options'] + ours
    # placed first among the user's options, so theirs win
    args = [str(config), '--launcher=pytorch', '--cfg-options', 'a=1']
    assert cpu_distributed_arguments(args) == args[:3] + ours + ['a=1']
    # the user's own wrapper (read with their --cfg-options) is kept
    args = [
        str(config), '--cfg-options', 'model_wrapper_cfg.type=Other',
        '--launcher', 'pytorch'
    ]
    assert cpu_distributed_arguments(args) == [
        str(config), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        'model_wrapper_cfg.type=Other', '--launcher', 'pytorch'
    ]
    for args in ([str(config)], [str(config), '--launcher', 'none']):
        assert cpu_distributed_arguments(args) == args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='the adaptation is off with CUDA')
def test_process_group_and_wrapper_without_cuda(monkeypatch):
    """mmengine's pytorch launcher function starts a (1-process) gloo group
    inside the context only; the wrapper takes SyncBN models on the CPU."""
    for key, value in dict(
            RANK='0',
            LOCAL_RANK='0',
            WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(_free_port())).items():
        monkeypatch.setenv(key, value)
    original, set_device = dist_utils._init_dist_pytorch, torch.cuda.set_device
    with pytest.raises((RuntimeError, AssertionError)):
        original('gloo')  # mmengine alone: torch.cuda.set_device fails
    assert not torch_dist.is_initialized()
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4))
    try:
        with cpu_process_group():
            dist_utils._init_dist_pytorch('gloo')
            assert torch.cuda.set_device is set_device  # restored at once
            assert torch_dist.get_backend() == 'gloo'
            # what Runner.wrap_model builds (device_ids=[LOCAL_RANK] too)
            ddp = MODEL_WRAPPERS.build(
                dict(type=CPU_DDP, broadcast_buffers=False),
                default_args=dict(module=model, device_ids=[0]))
            assert ddp.device_ids is None
            bn = ddp.module[1]  # mmengine's revert_sync_batchnorm
            assert isinstance(bn, nn.modules.batchnorm._BatchNorm)
            assert not isinstance(bn, nn.SyncBatchNorm)
            ddp.train()
            out = ddp(torch.rand(2, 3, 4, 4))  # SyncBN would refuse the CPU
            assert out.shape == (2, 4, 4, 4)
        assert dist_utils._init_dist_pytorch is original
        # the group ends with the tool (no live gloo group at shutdown)
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def test_prompt_configs_find_unused_parameters(repo_root):
    """Each phase trains one prompt learner: DDP must allow the other's
    unused prompts (without it the first phase-1 step fails under DDP)."""
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', 'fma', 'voc_prompts.py'))
    assert cfg.find_unused_parameters is True
