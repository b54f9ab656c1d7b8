"""Learning-rate schedule of FMA-WSSS prompt learning (CoOp style).

The authors train each prompt set with SGD: a constant warm-up learning rate
(1e-5) for 500 iterations, then cosine annealing from the base learning rate
to ``eta_min`` over the rest of the phase. mmengine's ``CosineAnnealingLR``
is chainable (it continues from whatever value the previous scheduler left),
so a second phase could not restart from the base learning rate; this
scheduler is closed-form within its ``[begin, end)`` window, so one instance
per training phase restarts cleanly, and resuming needs only ``last_step``.
"""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS

__all__ = ['WarmupCosineLR', 'warmup_cosine_value']


def warmup_cosine_value(step: int, total: int, base: float, warmup: int,
                        warmup_value: float, eta_min: float) -> float:
    """Value at ``step`` (0-based, within the window) of a constant warm-up
    followed by cosine annealing.

    Args:
        step (int): Steps since the window began.
        total (int): Window length.
        base (float): Value at the start of the cosine part.
        warmup (int): Warm-up steps.
        warmup_value (float): Constant value during warm-up.
        eta_min (float): Final value of the cosine.

    Returns:
        float: The scheduled value.
    """
    if step < warmup:
        return warmup_value
    span = max(total - warmup, 1)
    t = min(step - warmup, span)
    return eta_min + 0.5 * (base - eta_min) * (1 +
                                               math.cos(math.pi * t / span))


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, _ParamScheduler):
    """Constant warm-up then cosine annealing, closed form in its window.

    Args:
        optimizer: Wrapped optimizer.
        warmup_iters (int): Warm-up length in steps. Defaults to 500.
        warmup_lr (float): Learning rate during warm-up. Defaults to 1e-5.
        eta_min (float): Final learning rate. Defaults to 0.
        begin (int): First step of the window. Defaults to 0.
        end (int): End of the window (exclusive); required.
        last_step (int): See mmengine schedulers. Defaults to -1.
        by_epoch (bool): Defaults to False (iteration-based).
        verbose (bool): Print every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 warmup_iters: int = 500,
                 warmup_lr: float = 1e-5,
                 eta_min: float = 0.,
                 begin: int = 0,
                 end: int = None,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if end is None:
            raise ValueError('WarmupCosineLR needs `end` (the last step of '
                             'its phase, exclusive)')
        self.warmup_iters = warmup_iters
        self.warmup_lr = warmup_lr
        self.eta_min = eta_min
        super().__init__(
            optimizer,
            begin=begin,
            end=end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    def _get_value(self):
        total = self.end - self.begin
        return [
            warmup_cosine_value(self.last_step, total, base, self.warmup_iters,
                                self.warmup_lr, self.eta_min)
            for base in self.base_values
        ]
