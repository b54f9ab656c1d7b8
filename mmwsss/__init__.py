"""mmwsss: FMA-WSSS and WSSS baselines as an MMSegmentation plugin.

Importing this package (e.g. through ``custom_imports`` in an mm config)
registers every mmwsss component into MMSegmentation's registries (MODELS,
DATASETS, TRANSFORMS, METRICS, HOOKS, LOOPS) and makes the few additions to
the stack listed in :mod:`mmwsss.compat`; it changes no existing function or
registry entry of torch, mmengine, mmcv, mmseg or mmdet.
"""
from . import compat

compat.apply_all()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat']
