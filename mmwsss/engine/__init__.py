"""mmwsss.engine: the FMA-WSSS two-phase train loop and its LR schedule.

Importing registers ``FMATwoPhaseTrainLoop`` (LOOPS) and ``WarmupCosineLR``
(PARAM_SCHEDULERS) into MMSegmentation's registries.
"""
from .hooks import FinishedSeedsHook
from .loops import FMATwoPhaseTrainLoop, write_model_seeds
from .schedulers import WarmupCosineLR

__all__ = [
    'FMATwoPhaseTrainLoop', 'write_model_seeds', 'WarmupCosineLR',
    'FinishedSeedsHook'
]
