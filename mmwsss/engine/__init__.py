"""mmwsss.engine: the FMA-WSSS two-phase train loop and its LR schedule.

Importing registers ``FMATwoPhaseTrainLoop`` (LOOPS), ``WarmupCosineLR``
and WeCLIP's ``PolyWarmupLR`` (PARAM_SCHEDULERS) and
``DeviceAmpOptimWrapper`` (OPTIM_WRAPPERS; what ``tools/train.py --amp``
uses) into MMSegmentation's registries.
"""
from mmwsss.compat import apply_all

apply_all()  # before mmseg: its imports reach mmcv's compiled ops (compat)

from .hooks import FinishedSeedsHook  # noqa: E402
from .loops import FMATwoPhaseTrainLoop, write_model_seeds  # noqa: E402
from .optim_wrappers import DeviceAmpOptimWrapper  # noqa: E402
from .schedulers import PolyWarmupLR, WarmupCosineLR  # noqa: E402

__all__ = [
    'DeviceAmpOptimWrapper', 'FMATwoPhaseTrainLoop', 'write_model_seeds',
    'WarmupCosineLR', 'PolyWarmupLR', 'FinishedSeedsHook'
]
