"""Runtime fixes the pinned OpenMMLab stack needs, kept in one place.

mmwsss pins mmengine 0.10.7, mmcv 2.1.0 and mmsegmentation 1.2.2. Two things
in that stack break on the machines our users have today; both are fixed
here, on import of :mod:`mmwsss`, and nowhere else.

1. **mmcv-lite has no compiled ``mmcv._ext``.** ``mmseg.models`` (through
   ``mmcv.ops``) imports it at module level, so without a stand-in not even
   a pure-PyTorch segmentor can be built. :func:`install_mmcv_ext_fallback`
   registers a stand-in module *only when the real one is missing*. Every
   attribute of the stand-in is a function that raises
   :class:`MMCVOpUnavailableError` naming the op when it is *called*, so
   models that never touch compiled ops work, and a model that does gets a
   clear message instead of an ``ImportError`` at start-up. The stand-in
   carries a ``__spec__`` with no loader: ``mmengine``'s
   ``mmcv_full_available()`` (``pkgutil.find_loader``) then correctly
   reports that full mmcv is absent. With full mmcv installed (the usual
   GPU set-up) nothing is patched.

2. **torch >= 2.6 loads checkpoints with ``weights_only=True`` by default**,
   but mmengine 0.10.7 calls ``torch.load`` without the argument. Its own
   checkpoints carry the message hub (``HistoryBuffer`` objects, numpy
   arrays), so ``--resume`` and ``tools/test.py CKPT`` fail with an
   ``UnpicklingError``. :func:`install_checkpoint_loader` replaces
   mmengine's loader for local files with one that

   - loads with ``weights_only=True`` and an allow-list of the exact types
     mmengine writes into checkpoints (:data:`MMENGINE_SAFE_GLOBALS`), so
     the user's own checkpoints and third-party weights both load safely;
   - falls back to full unpickling only for a checkpoint that sits in an
     mmengine work directory (a folder holding a ``last_checkpoint`` file,
     i.e. written by the user's own run) and says so in the log;
   - otherwise re-raises with a message that explains the choice.

   On torch < 2.4 (no ``add_safe_globals``) ``torch.load`` keeps its old
   default and nothing is changed.

3. **mmseg's ``tools/test.py`` requires a checkpoint**, but training-free
   baselines (SAM with text input, zero-shot tags, CLIP-ES) have none: their
   frozen networks load their own weights. The checkpoint name ``none``
   (exactly) is registered as an empty checkpoint
   (:func:`install_no_checkpoint_scheme`), so ``tools/test.py CONFIG none``
   runs them; such models leave their frozen parts out of the state dict
   (:func:`mmwsss.models.baselines.frozen_parts.exclude_from_checkpoint`),
   so loading it reports nothing missing.

4. **mmcv-lite on a GPU: multi-scale deformable attention** (Grounding
   DINO, Deformable DETR, Mask2Former's pixel decoder) calls the compiled
   CUDA op for CUDA tensors and mmcv's pure-PyTorch
   ``multi_scale_deformable_attn_pytorch`` otherwise (so CPU runs work as
   they are). With the ``mmcv._ext`` stand-in,
   :func:`install_msda_pytorch_fallback` routes the CUDA case to the same
   pure-PyTorch function (slower and more memory than the op, but it runs);
   with full mmcv nothing is patched.
"""
import importlib.machinery
import importlib.util
import logging
import os.path as osp
import pickle
import sys
import types
from typing import Any, Callable, List

import torch

__all__ = [
    'MMCVOpUnavailableError', 'install_mmcv_ext_fallback',
    'install_checkpoint_loader', 'load_local_checkpoint', 'apply_all',
    'mmcv_ext_is_fallback', 'NO_CHECKPOINT', 'install_no_checkpoint_scheme',
    'install_msda_pytorch_fallback'
]

_FALLBACK_DOC = ('mmwsss stand-in for mmcv._ext (mmcv-lite is installed): '
                 'every op raises MMCVOpUnavailableError when called.')


class MMCVOpUnavailableError(RuntimeError):
    """Raised when a compiled mmcv op is called but only mmcv-lite exists."""


def _make_unavailable_op(name: str) -> Callable[..., Any]:

    def _op(*args, **kwargs):
        raise MMCVOpUnavailableError(
            f'mmcv op "{name}" needs the compiled mmcv (full mmcv 2.1.0 with '
            'CUDA/C++ ops), but only mmcv-lite is installed. Install the '
            'prebuilt wheel for your torch/CUDA, e.g. `pip install '
            'mmcv==2.1.0 -f https://download.openmmlab.com/mmcv/dist/'
            '<cuda>/<torch>/index.html`, or pick a model that does not use '
            'this op.')

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
    """Whether ``mmcv._ext`` is the mmwsss stand-in (mmcv-lite in use)."""
    return isinstance(sys.modules.get('mmcv._ext'), _UnavailableExtModule)


def install_mmcv_ext_fallback() -> bool:
    """Register a stand-in ``mmcv._ext`` when the compiled one is missing.

    Returns:
        bool: True if the stand-in was installed (now or earlier), False if
        the real compiled extension is available and was left alone.
    """
    if mmcv_ext_is_fallback():
        return True
    if 'mmcv._ext' in sys.modules:
        return False
    import mmcv
    if importlib.util.find_spec('mmcv._ext') is not None:
        return False
    module = _UnavailableExtModule('mmcv._ext', _FALLBACK_DOC)
    # mmengine's Runner calls pkgutil.find_loader('mmcv._ext'), which needs
    # a __spec__; a spec without a loader reads as "full mmcv absent".
    module.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = module
    mmcv._ext = module
    return True


def _safe_globals() -> List[Any]:
    """Types mmengine 0.10.7 writes into its checkpoints (message hub)."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    kinds: List[Any] = [HistoryBuffer, np.ndarray, np.dtype]
    try:  # numpy >= 1.25 moved the reconstructor to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy < 1.25
        from numpy.core.multiarray import _reconstruct, scalar
    kinds += [_reconstruct, scalar]
    # numpy >= 1.25 pickles dtypes by class (np.dtypes.Float64DType ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        kinds += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    return kinds


MMENGINE_SAFE_GLOBALS: List[Any] = []


def _is_own_run(filename: str) -> bool:
    """A checkpoint written by an mmengine run of the user: its folder holds
    the ``last_checkpoint`` marker mmengine writes next to checkpoints."""
    return osp.isfile(osp.join(osp.dirname(osp.abspath(filename)),
                               'last_checkpoint'))


def load_local_checkpoint(filename: str, map_location=None) -> Any:
    """Load a local checkpoint safely under torch's ``weights_only`` default.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: Same as :func:`torch.load`.

    Returns:
        Any: The loaded checkpoint (usually a dict).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return torch.load(filename, map_location=map_location)
    if not MMENGINE_SAFE_GLOBALS:
        MMENGINE_SAFE_GLOBALS.extend(_safe_globals())
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if not _is_own_run(filename):
            raise pickle.UnpicklingError(
                f'{filename} holds Python objects that are not allowed '
                'with torch.load(weights_only=True), and it is not in an '
                'mmengine work dir (no "last_checkpoint" beside it), so '
                'mmwsss will not fully unpickle it. If you trust the file, '
                'load it yourself with torch.load(..., weights_only=False) '
                f'and save its state_dict. Original error: {err}') from err
        from mmengine.logging import print_log
        print_log(
            f'Fully unpickling {filename} (a checkpoint of your own run).',
            logger='current',
            level=logging.WARNING)
        return torch.load(
            filename, map_location=map_location, weights_only=False)


def install_checkpoint_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_local_checkpoint`.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if CheckpointLoader._schemes.get('') is load_local_checkpoint:
        return
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


#: Checkpoint name that stands for "no checkpoint" (training-free models).
NO_CHECKPOINT = 'none'


def load_from_none(filename: str, map_location=None) -> dict:
    """The empty checkpoint behind the name :data:`NO_CHECKPOINT`."""
    return {'state_dict': {}, 'meta': {}}


def install_no_checkpoint_scheme() -> None:
    """Make mmengine load the checkpoint name ``none`` as an empty one.

    mmengine picks checkpoint loaders by ``re.match(prefix, filename)``;
    the prefix ``'none$'`` matches only the bare name, never a file such as
    ``none.pth`` or ``nonexistent.pth``.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    prefix = NO_CHECKPOINT + '$'
    if CheckpointLoader._schemes.get(prefix) is load_from_none:
        return
    CheckpointLoader.register_scheme(
        prefixes=prefix, loader=load_from_none, force=True)


class _PyTorchMSDAFunction:
    """Stands in for mmcv's ``MultiScaleDeformableAttnFunction`` (the
    compiled op) under mmcv-lite: the same ``apply`` signature, computed by
    ``multi_scale_deformable_attn_pytorch`` (differentiable by autograd)."""

    @staticmethod
    def apply(value, spatial_shapes, level_start_index, sampling_locations,
              attention_weights, im2col_step):
        from mmcv.ops.multi_scale_deform_attn import \
            multi_scale_deformable_attn_pytorch
        return multi_scale_deformable_attn_pytorch(value, spatial_shapes,
                                                   sampling_locations,
                                                   attention_weights)


def install_msda_pytorch_fallback() -> bool:
    """Under mmcv-lite, compute CUDA deformable attention in PyTorch.

    Returns:
        bool: True if mmcv's op was replaced (the ``mmcv._ext`` stand-in is
        in use), False with full mmcv.
    """
    if not mmcv_ext_is_fallback():
        return False
    from mmcv.ops import multi_scale_deform_attn as msda
    msda.MultiScaleDeformableAttnFunction = _PyTorchMSDAFunction
    return True


def apply_all() -> None:
    """Apply every fix; called once when :mod:`mmwsss` is imported."""
    install_mmcv_ext_fallback()
    install_checkpoint_loader()
    install_no_checkpoint_scheme()
    install_msda_pytorch_fallback()
