"""Everything mmwsss does to the stack it runs on, listed in one place.

:func:`apply_all` (made by :mod:`mmwsss.registration`, which
``custom_imports`` names in every mm config, and by each mm-facing package of
mmwsss before it imports mmseg; idempotent) changes no existing function,
class or registry entry of torch, mmengine, mmcv, mmseg or mmdet; ``tests/test_compat.py`` checks this by comparing them
before and after the import. What the plugin needs from the pinned stack
(``requirements/pinned.txt``: torch 2.14, mmengine 0.10.7, mmcv-lite 2.1.0,
mmsegmentation 1.2.2) is either *added* on import or *scoped* to mmwsss's own
components and tools:

Added on import (:func:`apply_all`)

1. **A stand-in for ``mmcv._ext``, only when it is missing** (mmcv-lite has
   no compiled ops, and ``mmseg.models`` imports them through ``mmcv.ops``):
   its ops raise a clear error when called (:mod:`.mmcv_ext`). With full
   mmcv nothing is added.
2. **The checkpoint name ``none``** (a new mmengine ``CheckpointLoader``
   scheme matching only that bare name): ``tools/test.py CONFIG none`` runs
   training-free baselines (SAM with text, zero-shot tags, CLIP-ES), whose
   frozen networks load their own weights and stay out of the state dict
   (:func:`mmwsss.models.baselines.frozen_parts.exclude_from_checkpoint`).
3. **torch safe globals for mmengine checkpoints**: the exact types the
   checkpoints of mmengine's Runner hold (message hub: ``HistoryBuffer``,
   numpy arrays and scalars), so ``torch.load(path)`` with torch's
   ``weights_only=True`` default loads every checkpoint ``tools/train.py``
   writes, ``--resume`` included, wherever the file lies
   (:mod:`.checkpoint`).
4. **Registry entries for mmcv ops on any device**: mmcv-lite has no
   compiled deformable attention, which mmcv's module calls for CUDA
   tensors. ``PortableMultiScaleDeformableAttention`` and
   ``PortableMSDeformAttnPixelDecoder`` (mmseg MODELS) compute it in PyTorch
   when the compiled op is missing (:mod:`.mmcv_ops`, which lists every mmcv
   op mmwsss's configs reach).

5. **The config scope ``mmwsss::``**: the entry ``'mmwsss': 'mmwsss'`` in
   mmengine's package table (``MODULE2PACKAGE``), so ``Config.fromfile``
   and ``_base_`` resolve ``mmwsss::folder/file.py`` to the configs an
   installed mmwsss carries in ``mmwsss/.mim/configs``, as ``mmseg::``
   (:mod:`.config_scope`). No other entry is touched.
6. **The model wrapper ``CPUDistributedDataParallel``** (mmengine's
   MODEL_WRAPPERS, where the Runner looks wrappers up): mmengine's DDP wrapper for a model on the CPU
   (``device_ids=None``, SyncBN as BN), used only by item 9
   (:mod:`.cpu_dist`).

Scoped to mmwsss

7. **Portable ops in mmwsss's models only**: the Mask2Former configs ask for
   ``PortableMSDeformAttnPixelDecoder``; ``GroundingDINOBoxes`` converts its
   detector with :func:`~.mmcv_ops.use_portable_msda`. mmcv's own
   ``MultiScaleDeformableAttention`` is left as it is for every other model.
8. **Checked checkpoint loading**: mmwsss components load files with
   :func:`load_checkpoint_file`, and ``tools/train.py`` / ``tools/test.py``
   run mmseg's tool inside :func:`checked_checkpoint_loading`; a file that is
   truncated, empty, text, or holds other types is refused in one line that
   names it (never fully unpickled).
9. **Distributed runs without CUDA**: ``tools/train.py`` /
   ``tools/test.py`` with a launcher, only while
   ``torch.cuda.is_available()`` is False, start with the gloo backend and
   item 6's wrapper (config overrides placed before the user's
   ``--cfg-options``) inside :func:`~.cpu_dist.cpu_process_group`, where
   mmengine's ``_init_dist_pytorch`` runs with ``torch.cuda.set_device`` as
   a no-op (:mod:`.cpu_dist`). A GPU run is unchanged.
"""
from .checkpoint import (SAFE_GLOBALS, CheckpointFileError,
                         UnsafeCheckpointError, add_safe_globals,
                         check_checkpoint_file, checked_checkpoint_loading,
                         load_checkpoint_file)
from .config_scope import CONFIG_SCOPE, add_config_scope
from .mmcv_ext import (MMCVOpUnavailableError, install_mmcv_ext_fallback,
                       mmcv_ext_is_fallback)

__all__ = [
    'MMCVOpUnavailableError', 'CheckpointFileError', 'UnsafeCheckpointError',
    'load_checkpoint_file', 'checked_checkpoint_loading', 'NO_CHECKPOINT',
    'apply_all'
]

#: Former name of :func:`load_checkpoint_file`.
load_local_checkpoint = load_checkpoint_file

#: Checkpoint name that stands for "no checkpoint" (training-free models).
NO_CHECKPOINT = 'none'


def load_from_none(filename: str, map_location=None) -> dict:
    """The empty checkpoint behind the name :data:`NO_CHECKPOINT`.

    Args:
        filename (str): Always ``'none'``.
        map_location: Unused.

    Returns:
        dict: ``{'state_dict': {}, 'meta': {}}``.
    """
    return {'state_dict': {}, 'meta': {}}


def install_no_checkpoint_scheme() -> None:
    """Add the checkpoint scheme ``none`` to mmengine's CheckpointLoader.

    mmengine picks a loader by ``re.match(prefix, filename)``; the prefix
    ``'none$'`` matches only the bare name, never a file such as
    ``none.pth`` or ``nonexistent.pth``. No existing scheme is replaced.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    prefix = NO_CHECKPOINT + '$'
    current = CheckpointLoader._schemes.get(prefix)
    if current is load_from_none:
        return
    if current is not None:
        raise RuntimeError(f'mmengine already has a checkpoint scheme '
                           f'{prefix!r} ({current}); mmwsss will not replace '
                           'it')
    CheckpointLoader.register_scheme(prefixes=prefix, loader=load_from_none)


def apply_all() -> None:
    """Make the additions 1-6 above (idempotent).

    Called by :mod:`mmwsss.registration` and by the packages of mmwsss that
    import mmseg (``datasets``, ``models``, ``evaluation``, ``engine``,
    ``apis``): mmseg's imports reach mmcv's compiled ops, which mmcv-lite
    lacks. ``import mmwsss`` itself makes none of them.
    """
    install_mmcv_ext_fallback()
    add_config_scope()
    install_no_checkpoint_scheme()
    add_safe_globals()
    # after the stand-in: mmcv.ops needs an mmcv._ext to import
    from . import mmcv_ops  # noqa: F401  (registers the portable types)
    from . import cpu_dist  # noqa: F401  (registers CPUDistributedDataParallel)
