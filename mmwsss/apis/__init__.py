"""mmwsss.apis: the one-command pipeline (``tools/run_pipeline.py``).

:mod:`.data_spec` reads a data folder (own classes or VOC layout),
:mod:`.stage_configs` writes the full config of every stage,
:mod:`.pipeline` runs the stages resumably and collects their results.
"""
from .data_spec import DataError, DataSpec, FolderSpec, VOCSpec, data_spec
from .pipeline import STAGES, TABLE_ROWS, PipelineRunner, weights_banner
from .stage_configs import BaseConfigs, Weights

__all__ = [
    'DataError', 'DataSpec', 'FolderSpec', 'VOCSpec', 'data_spec', 'STAGES',
    'TABLE_ROWS', 'PipelineRunner', 'weights_banner', 'BaseConfigs', 'Weights'
]
