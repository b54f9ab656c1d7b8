"""mmwsss.engine: the FMA-WSSS two-phase train loop and its LR schedule.

Importing registers ``FMATwoPhaseTrainLoop`` (LOOPS), ``WarmupCosineLR``
(PARAM_SCHEDULERS) and ``DeviceAmpOptimWrapper`` (OPTIM_WRAPPERS; what
``tools/train.py --amp`` uses) into MMSegmentation's registries.
"""
from .hooks import FinishedSeedsHook
from .loops import FMATwoPhaseTrainLoop, write_model_seeds
from .optim_wrappers import DeviceAmpOptimWrapper
from .schedulers import WarmupCosineLR

__all__ = [
    'DeviceAmpOptimWrapper', 'FMATwoPhaseTrainLoop', 'write_model_seeds',
    'WarmupCosineLR', 'FinishedSeedsHook'
]
