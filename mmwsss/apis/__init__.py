"""mmwsss.apis: every stage as a library function, and the one-command
pipeline (``mmwsss-pipeline``).

:mod:`.stages` runs one stage (SAM masks, prompt learning, seeds, seed
scoring, training, testing with or without SAMS TTA) from a config plus
overrides and returns its results as a dict (also written as JSON);
:mod:`.data_spec` reads a data folder (own classes or VOC layout),
:mod:`.stage_configs` writes the full config of every stage,
:mod:`.pipeline` runs the stages resumably and collects their results,
:mod:`.inferencer` (``WSSSInferencer``) turns a photo and class names into
CAMs, seeds and an overlay.
The stage functions register mmwsss (:mod:`mmwsss.registration`) when
called.
"""
from mmwsss.compat import apply_all

apply_all()  # before mmseg: its imports reach mmcv's compiled ops (compat)

from .inferencer import InferenceError, WSSSInferencer  # noqa: E402
from .data_spec import DataError, DataSpec, FolderSpec, VOCSpec, data_spec  # noqa: E402
from .pipeline import STAGES, TABLE_ROWS, PipelineRunner, weights_banner  # noqa: E402
from .stage_configs import BaseConfigs, Weights  # noqa: E402
from .stages import (STAGE_FUNCTIONS, load_config,  # noqa: E402
                     prompt_learning, sam_masks, score_seeds, seeds, test,
                     train, write_results)

__all__ = [
    'DataError', 'DataSpec', 'FolderSpec', 'VOCSpec', 'data_spec', 'STAGES',
    'PipelineRunner', 'BaseConfigs', 'Weights', 'load_config',
    'prompt_learning', 'sam_masks', 'score_seeds', 'seeds', 'test', 'train',
    'WSSSInferencer', 'InferenceError'
]
