"""mmwsss: FMA-WSSS and WSSS baselines as an MMSegmentation plugin.

``import mmwsss`` loads nothing of the stack and registers nothing:
``mmwsss.functional`` (the paper's equations) and ``mmwsss.io`` (the file
formats) work alone. The mm components are registered explicitly, as
MMSegmentation does it:

- in a config: ``custom_imports = dict(imports=['mmwsss.registration'])``;
- in Python: :func:`mmwsss.registration.register_all_modules`.
"""
from .version import __version__

__all__ = ['__version__']
