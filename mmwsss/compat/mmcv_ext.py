"""A stand-in for ``mmcv._ext`` when mmcv-lite (no compiled ops) is installed.

``mmseg.models`` imports ``mmcv.ops``, which imports the compiled extension
``mmcv._ext`` at module level: without a stand-in not even a pure-PyTorch
segmentor can be built under mmcv-lite. The stand-in is registered *only when
the real extension is missing*, so it replaces nothing. Every attribute of it
is a function that raises :class:`MMCVOpUnavailableError` naming the op when
it is *called*: models that never reach a compiled op work, and one that does
gets a clear message instead of an ``ImportError`` at start-up.

The stand-in carries a ``__spec__`` without a loader: mmengine's
``mmcv_full_available()`` (``pkgutil.find_loader``) then correctly reports
that full mmcv is absent, and mmengine's Runner does not fail on a module
without a spec.
"""
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any, Callable

__all__ = [
    'MMCVOpUnavailableError', 'install_mmcv_ext_fallback',
    'mmcv_ext_is_fallback'
]

#: Attribute that marks the stand-in module (checked by name, not by class,
#: so a stand-in installed by another copy of this file is recognised).
_MARK = '__mmwsss_stand_in__'


class MMCVOpUnavailableError(RuntimeError):
    """Raised when a compiled mmcv op is called but only mmcv-lite exists."""


def _make_unavailable_op(name: str) -> Callable[..., Any]:

    def _op(*args, **kwargs):
        raise MMCVOpUnavailableError(
            f'mmcv op "{name}" needs the compiled mmcv ops, but mmcv-lite is '
            'installed (requirements/pinned.txt). mmwsss\'s own configs do '
            'not need it (they use the pure-PyTorch ops of '
            'mmwsss.compat.mmcv_ops); for a model of your own that does, '
            'see README "Installation" (optional full mmcv).')

    _op.__name__ = name
    _op.__qualname__ = name
    return _op


class _UnavailableExtModule(types.ModuleType):
    """Module whose attributes are ops that fail with a clear message."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        op = _make_unavailable_op(name)
        setattr(self, name, op)
        return op


def mmcv_ext_is_fallback() -> bool:
    """Whether ``mmcv._ext`` is the mmwsss stand-in (mmcv-lite in use).

    Returns:
        bool: True when the compiled mmcv ops are absent.
    """
    return bool(getattr(sys.modules.get('mmcv._ext'), _MARK, False))


def install_mmcv_ext_fallback() -> bool:
    """Register a stand-in ``mmcv._ext`` when the compiled one is missing.

    Returns:
        bool: True if the stand-in is in use (installed now or earlier),
        False if the real compiled extension is available (left alone).
    """
    if mmcv_ext_is_fallback():
        return True
    if 'mmcv._ext' in sys.modules:
        return False
    import mmcv
    if importlib.util.find_spec('mmcv._ext') is not None:
        return False
    module = _UnavailableExtModule(
        'mmcv._ext', 'mmwsss stand-in for mmcv._ext (mmcv-lite is '
        'installed): every op raises MMCVOpUnavailableError when called.')
    setattr(module, _MARK, True)
    module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = module
    mmcv._ext = module
    return True
