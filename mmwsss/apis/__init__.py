"""mmwsss.apis: every stage as a library function, and the one-command
pipeline (``mmwsss-pipeline``).

:mod:`.stages` runs one stage (SAM masks, prompt learning, seeds, seed
scoring, training, testing with or without SAMS TTA) from a config plus
overrides and returns its results as a dict (also written as JSON);
:mod:`.data_spec` reads a data folder (own classes or VOC layout),
:mod:`.stage_configs` writes the full config of every stage,
:mod:`.pipeline` runs the stages resumably and collects their results.
Importing it registers mmwsss (:mod:`mmwsss.registration`), as the APIs
need the registries.
"""
import mmwsss.registration  # noqa: F401,I001  (before the stack is imported)
from .data_spec import DataError, DataSpec, FolderSpec, VOCSpec, data_spec
from .pipeline import STAGES, TABLE_ROWS, PipelineRunner, weights_banner
from .stage_configs import BaseConfigs, Weights
from .stages import (STAGE_FUNCTIONS, load_config, prompt_learning,
                     sam_masks, score_seeds, seeds, test, train,
                     write_results)

__all__ = [
    'DataError', 'DataSpec', 'FolderSpec', 'VOCSpec', 'data_spec', 'STAGES',
    'TABLE_ROWS', 'PipelineRunner', 'weights_banner', 'BaseConfigs',
    'Weights', 'STAGE_FUNCTIONS', 'load_config', 'prompt_learning',
    'sam_masks', 'score_seeds', 'seeds', 'test', 'train', 'write_results'
]
