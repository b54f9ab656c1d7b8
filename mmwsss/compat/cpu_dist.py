"""Distributed runs where CUDA is unavailable: gloo, the model on the CPU.

mmengine's pytorch launcher path, unchanged, cannot start on a CPU:
``Runner.setup_env`` -> ``init_dist`` -> ``_init_dist_pytorch`` calls
``torch.cuda.set_device(LOCAL_RANK)`` before it starts the process group,
the configs ask for the ``nccl`` backend, ``Runner.wrap_model`` gives DDP
``device_ids=[LOCAL_RANK]`` (a CPU module needs ``None``), and
``SyncBatchNorm`` (the stage-2 configs' norm layer) refuses CPU tensors in
a process group. What this module changes, only for ``tools/train.py`` /
``tools/test.py`` with a launcher and only while
``torch.cuda.is_available()`` is False (a GPU run is unchanged):

- :func:`cpu_distributed_overrides`: config overrides the tools apply as the
  first ``--cfg-options`` (the user's own still win):
  ``env_cfg.dist_cfg.backend='gloo'`` (when it was ``nccl`` or unset) and
  ``model_wrapper_cfg.type=`` :data:`CPU_DDP`, keeping the wrapper
  arguments mmengine's default wrapping uses (``broadcast_buffers=False``,
  the config's ``find_unused_parameters``);
- :class:`CPUDistributedDataParallel` (a new registry entry):
  ``MMDistributedDataParallel`` with ``device_ids=None`` whose SyncBN layers
  become BN (each rank normalises with its own batch statistics);
- :func:`cpu_process_group`: while active, ``torch.cuda.set_device`` is a
  no-op inside mmengine's ``_init_dist_pytorch`` (and nowhere else).
"""
import contextlib
import functools
from typing import Any, Dict, Iterator

import torch
from mmengine.dist import utils as dist_utils
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS

__all__ = [
    'CPU_DDP', 'cpu_distributed', 'cpu_distributed_overrides',
    'cpu_process_group', 'end_process_group', 'CPUDistributedDataParallel'
]

#: The model wrapper of distributed CPU runs (mmengine's MODEL_WRAPPERS,
#: beside its MMDistributedDataParallel: the Runner looks it up there).
CPU_DDP = 'CPUDistributedDataParallel'
#: The wrapper types :func:`cpu_distributed_overrides` replaces.
DDP_TYPES = (None, 'MMDistributedDataParallel', CPU_DDP)


def cpu_distributed(launcher: str) -> bool:
    """Whether a run is distributed on a machine without CUDA.

    Args:
        launcher (str): The tool's ``--launcher`` (``'none'``,
            ``'pytorch'``, ``'slurm'``, ``'mpi'``).

    Returns:
        bool: True for a launcher other than ``'none'`` without CUDA.
    """
    return launcher != 'none' and not torch.cuda.is_available()


def cpu_distributed_overrides(cfg: Any, launcher: str) -> Dict[str, Any]:
    """The config overrides of a distributed run without CUDA.

    Args:
        cfg (Config | dict): The run's config (``env_cfg``,
            ``model_wrapper_cfg``, ``find_unused_parameters`` are read).
        launcher (str): The tool's ``--launcher``.

    Returns:
        dict: Dotted keys -> values (for ``Config.merge_from_dict`` or
        ``--cfg-options``); empty when CUDA is available or the launcher is
        ``'none'``; the backend only when the config wraps the model in
        something other than DDP (FSDP, DeepSpeed: left to the user).
    """
    if not cpu_distributed(launcher):
        return {}
    out: Dict[str, Any] = {}
    dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        out['env_cfg.dist_cfg.backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        # mmengine's own wrapping without a model_wrapper_cfg
        out['model_wrapper_cfg.broadcast_buffers'] = False
        out['model_wrapper_cfg.find_unused_parameters'] = bool(
            cfg.get('find_unused_parameters', False))
    elif wrapper.get('type') not in DDP_TYPES:
        return out
    out['model_wrapper_cfg.type'] = CPU_DDP
    return out


def _no_set_device(device: Any) -> None:
    """Stand-in for ``torch.cuda.set_device`` without CUDA."""


@contextlib.contextmanager
def cpu_process_group() -> Iterator[None]:
    """Let mmengine's pytorch launcher start a process group without CUDA,
    and end it cleanly.

    Without CUDA, mmengine's ``_init_dist_pytorch`` (the function the
    Runner's ``init_dist`` calls for ``--launcher pytorch``) runs with
    ``torch.cuda.set_device`` as a no-op; it is restored when that call
    returns, and mmengine's function when the context exits. On exit the
    process group the tool started is destroyed (after a barrier when the
    tool returned normally): mmengine never does, and a process that
    reaches interpreter shutdown with a live gloo group can abort in
    gloo's worker threads (``terminate called without an active
    exception``, SIGABRT: pytorch issue 190489), which failed one rank of
    a finished run now and then. With CUDA nothing changes.
    """
    if torch.cuda.is_available():
        yield
        return
    original = dist_utils._init_dist_pytorch

    @functools.wraps(original)
    def init_without_cuda(*args, **kwargs):
        set_device = torch.cuda.set_device
        torch.cuda.set_device = _no_set_device
        try:
            return original(*args, **kwargs)
        finally:
            torch.cuda.set_device = set_device

    dist_utils._init_dist_pytorch = init_without_cuda
    finished = False
    try:
        yield
        finished = True
    finally:
        dist_utils._init_dist_pytorch = original
        end_process_group(barrier=finished)


def end_process_group(barrier: bool = True) -> None:
    """Destroy the default process group, if one is live.

    Args:
        barrier (bool): Wait for every rank first (a normal end; not after
            an error, where a peer may be gone). Defaults to True.
    """
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    if barrier:
        dist.barrier()
    dist.destroy_process_group()


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for a model on the CPU (gloo).

    ``device_ids`` is always None (what DDP takes for a CPU module, whatever
    the Runner passes); SyncBN layers become BN first, since
    ``SyncBatchNorm`` refuses CPU tensors in a process group.

    Args:
        module (nn.Module): The model.
        device_ids: Ignored (None).
        **kwargs: ``MMDistributedDataParallel``'s other arguments.
    """

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        super().__init__(
            module=revert_sync_batchnorm(module), device_ids=None, **kwargs)
