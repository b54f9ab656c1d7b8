"""Learning-rate schedules: FMA-WSSS prompt learning (CoOp style) and
WeCLIP's poly schedule with linear warm-up (:class:`PolyWarmupLR`).

FMA-WSSS:

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

from mmwsss.functional import poly_warmup_factor

__all__ = ['WarmupCosineLR', 'warmup_cosine_value', 'PolyWarmupLR']


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


@PARAM_SCHEDULERS.register_module()
class PolyWarmupLR(LRSchedulerMixin, _ParamScheduler):
    """The learning rate of WeCLIP's ``PolyWarmupAdamW``: ``lr0 * m(s)``
    with :func:`mmwsss.functional.poly_warmup_factor` at the 0-based step
    ``s`` (linear warm-up from ``warmup_ratio`` over ``warmup_iters``, then
    ``(1 - s / max_iters) ** power``; unchanged after ``max_iters``).

    Closed form in the step, so resuming needs only ``last_step``.

    Args:
        optimizer: Wrapped optimizer.
        warmup_iters (int): Warm-up steps. Defaults to 50.
        max_iters (int): The poly horizon. Defaults to 30000.
        warmup_ratio (float): Factor at step 0. Defaults to 1e-6.
        power (float): Poly exponent. Defaults to 1.0.
        begin (int): First step. Defaults to 0.
        end (int, optional): End step (exclusive); defaults to
            ``max_iters``.
        last_step (int): See mmengine schedulers. Defaults to -1.
        by_epoch (bool): Defaults to False (iteration-based).
        verbose (bool): Print every update. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 warmup_iters: int = 50,
                 max_iters: int = 30000,
                 warmup_ratio: float = 1e-6,
                 power: float = 1.0,
                 begin: int = 0,
                 end: int = None,
                 last_step: int = -1,
                 by_epoch: bool = False,
                 verbose: bool = False) -> None:
        self.warmup_iters = int(warmup_iters)
        self.max_iters = int(max_iters)
        self.warmup_ratio = float(warmup_ratio)
        self.power = float(power)
        super().__init__(
            optimizer,
            begin=begin,
            end=self.max_iters if end is None else end,
            last_step=last_step,
            by_epoch=by_epoch,
            verbose=verbose)

    def _get_value(self):
        m = poly_warmup_factor(self.last_step, self.warmup_iters,
                               self.max_iters, self.warmup_ratio, self.power)
        return [base * m for base in self.base_values]
