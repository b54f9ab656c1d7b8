"""mmwsss.apis: the one-command pipeline (``tools/run_pipeline.py``).

:mod:`.data_spec` reads a data folder (own classes or VOC layout),
:mod:`.stage_configs` writes the full config of every stage,
:mod:`.pipeline` runs the stages resumably and collects their results.
"""
from mmwsss.compat import apply_all

apply_all()  # before mmseg: its imports reach mmcv's compiled ops (compat)

from .data_spec import DataError, DataSpec, FolderSpec, VOCSpec, data_spec  # noqa: E402
from .pipeline import STAGES, TABLE_ROWS, PipelineRunner, weights_banner  # noqa: E402
from .stage_configs import BaseConfigs, Weights  # noqa: E402

__all__ = [
    'DataError', 'DataSpec', 'FolderSpec', 'VOCSpec', 'data_spec', 'STAGES',
    'TABLE_ROWS', 'PipelineRunner', 'weights_banner', 'BaseConfigs', 'Weights'
]
