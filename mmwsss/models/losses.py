"""The MCL and CAL losses as registered modules (MODELS).

The equations themselves are :func:`mmwsss.functional.losses.mcl_loss` and
:func:`mmwsss.functional.losses.cal_loss`; these wrappers add the weights and
loss names mmseg's segmentors expect.
"""
from typing import Dict, Optional, Sequence, Union

from mmseg.registry import MODELS
from torch import Tensor, nn

from mmwsss.functional.losses import cal_loss, mcl_loss

__all__ = ['MCLLoss', 'CALLoss']


@MODELS.register_module()
class MCLLoss(nn.Module):
    """Multi-label contrastive loss module (see :func:`mcl_loss`).

    Args:
        gamma (float, optional): Scale of the logits. Defaults to None.
        reduce (str): 'pos_mean' or 'sample_mean'. Defaults to 'pos_mean'.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item; must start with ``loss_``
            to be back-propagated. Defaults to 'loss_mcl'.
    """

    def __init__(self,
                 gamma: Optional[float] = None,
                 reduce: str = 'pos_mean',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_mcl') -> None:
        super().__init__()
        if reduce not in ('pos_mean', 'sample_mean'):
            raise ValueError("MCLLoss reduce must be 'pos_mean' or "
                             f"'sample_mean', got {reduce!r}")
        self.gamma = gamma
        self.reduce = reduce
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Weighted MCL.

        Args:
            logits (Tensor): (N, G) foreground logits.
            labels (Tensor): (N, G) 0/1 labels.

        Returns:
            Tensor: ``loss_weight * mcl_loss(...)``.
        """
        return self.loss_weight * mcl_loss(
            logits, labels, gamma=self.gamma, reduce=self.reduce)

    @property
    def loss_name(self) -> str:
        """str: Name of the loss item."""
        return self._loss_name


@MODELS.register_module()
class CALLoss(nn.Module):
    """CAM activation loss module (see :func:`cal_loss`).

    Args:
        loss_type (str): 'l1' or 'l2'. Defaults to 'l1'.
        reduce (str): 'all', 'fg-bg' or 'fg-bg-per-pos'. Defaults to 'all'.
        detach_max (bool): Detach the foreground maximum. Defaults to True.
        bg_thresh (float): Background threshold. Defaults to 0.
        ignore_index (int): Ignored label. Defaults to 255.
        loss_weight (float | Sequence[float]): One weight for both terms or
            ``(fg_weight, bg_weight)``. Defaults to 1.0.
        loss_name (str): Prefix of the two loss items,
            ``{loss_name}_fg`` and ``{loss_name}_bg``. Defaults to
            'loss_cal'.
    """

    def __init__(self,
                 loss_type: str = 'l1',
                 reduce: str = 'all',
                 detach_max: bool = True,
                 bg_thresh: float = 0.,
                 ignore_index: int = 255,
                 loss_weight: Union[float, Sequence[float]] = 1.0,
                 loss_name: str = 'loss_cal') -> None:
        super().__init__()
        if loss_type not in ('l1', 'l2'):
            raise ValueError("CALLoss loss_type must be 'l1' or 'l2', got "
                             f'{loss_type!r}')
        if reduce not in ('all', 'fg-bg', 'fg-bg-per-pos'):
            raise ValueError("CALLoss reduce must be 'all', 'fg-bg' or "
                             f"'fg-bg-per-pos', got {reduce!r}")
        if isinstance(loss_weight, (int, float)):
            loss_weight = (float(loss_weight), float(loss_weight))
        loss_weight = tuple(float(w) for w in loss_weight)
        if len(loss_weight) != 2:
            raise ValueError('CALLoss loss_weight must be a float or '
                             f'(fg_weight, bg_weight), got {loss_weight}')
        self.loss_type = loss_type
        self.reduce = reduce
        self.detach_max = detach_max
        self.bg_thresh = bg_thresh
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, pos_cam: Tensor, fg_cls_lb: Tensor,
                lb: Tensor) -> Dict[str, Tensor]:
        """Weighted CAL terms.

        Args:
            pos_cam (Tensor): (P, h, w) raw CAMs of the positive pairs, in
                ``torch.nonzero(fg_cls_lb)`` order.
            fg_cls_lb (Tensor): (N, C) 0/1 foreground labels.
            lb (Tensor): (N, H, W) label maps (0 bg, c+1, ignore_index).

        Returns:
            dict[str, Tensor]: ``{loss_name}_fg`` and ``{loss_name}_bg``,
            each scaled by its weight.
        """
        fg, bg = cal_loss(
            pos_cam,
            fg_cls_lb,
            lb,
            loss_type=self.loss_type,
            reduce=self.reduce,
            detach_max=self.detach_max,
            bg_thresh=self.bg_thresh,
            ignore_index=self.ignore_index)
        return {
            f'{self._loss_name}_fg': self.loss_weight[0] * fg,
            f'{self._loss_name}_bg': self.loss_weight[1] * bg,
        }

    @property
    def loss_name(self) -> str:
        """str: Prefix of the loss items."""
        return self._loss_name
