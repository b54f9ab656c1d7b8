"""Mixed precision on whatever device the model is on.

mmengine's ``AmpOptimWrapper`` asserts that CUDA (or NPU/MLU/MUSA) is
available and autocasts on the device mmengine's ``get_device()`` reports,
not on the model's. ``DeviceAmpOptimWrapper`` is the same wrapper with the
device taken from the parameters it optimizes:

- CUDA (and other accelerators): exactly ``AmpOptimWrapper``: autocast with
  ``dtype`` (default float16) and a ``GradScaler`` (``loss_scale``,
  default ``'dynamic'``);
- CPU: bfloat16 autocast (the only dtype mmengine's CPU autocast accepts)
  and no loss scaling (bfloat16 has float32's exponent range).

``tools/train.py --amp`` selects it (see
:func:`mmwsss.apis.mm_tools.amp_arguments`), so ``--amp`` works for the
prompt training (``configs/fma``) and stage 2 on a GPU and on a CPU.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

__all__ = ['DeviceAmpOptimWrapper', 'optimizer_device']


def optimizer_device(optimizer: torch.optim.Optimizer) -> torch.device:
    """Device of the first parameter an optimizer updates.

    Args:
        optimizer (torch.optim.Optimizer): The optimizer.

    Returns:
        torch.device: Its parameters' device (CPU when it has none).
    """
    for group in optimizer.param_groups:
        for p in group['params']:
            return p.device
    return torch.device('cpu')


@OPTIM_WRAPPERS.register_module()
class DeviceAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` that autocasts on the parameters' device.

    Args:
        loss_scale (float | str | dict): ``GradScaler`` setting on CUDA (see
            ``AmpOptimWrapper``). Ignored on CPU, where no scaler is used.
            Defaults to ``'dynamic'``.
        dtype (str | torch.dtype, optional): Autocast dtype. None: float16
            on CUDA, bfloat16 on CPU. On CPU only bfloat16 is accepted.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 **kwargs) -> None:
        device = optimizer_device(kwargs['optimizer'])
        self.device_type = device.type
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'optim_wrapper.dtype must be one of '
                                 f'{self.valid_dtypes}, got {dtype!r}')
            dtype = getattr(torch, dtype)
        if self.device_type != 'cpu':
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        if dtype not in (None, torch.bfloat16):
            raise ValueError(
                f'optim_wrapper.dtype={dtype} with the model on the CPU: '
                'CPU autocast supports bfloat16 only (set dtype=None or '
                "'bfloat16', or train on a GPU)")
        OptimWrapper.__init__(self, **kwargs)  # skips the CUDA assertion
        self._scale_update_param = None
        self.loss_scaler = torch.amp.GradScaler('cpu', enabled=False)
        self.cast_dtype = torch.bfloat16
        print_log(
            'DeviceAmpOptimWrapper: parameters on the CPU, bfloat16 '
            'autocast without loss scaling',
            logger='current')

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Autocast on the parameters' device (mmengine's own context
        autocasts on ``get_device()``, i.e. CUDA whenever one is visible,
        even for a model on the CPU)."""
        with OptimWrapper.optim_context(self, model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield
