"""Safe checkpoint loading under torch's ``weights_only`` default.

torch >= 2.6 loads with ``weights_only=True`` unless told otherwise, and
mmengine 0.10.7 calls ``torch.load`` without the argument. Checkpoints that
mmengine's Runner writes hold, besides tensors, the message hub: measured on
the checkpoints ``tools/train.py`` writes for the prompt, DeepLabV3+,
DeepLab-v2, Mask2Former and classic-CAM configs (``torch.serialization.
get_unsafe_globals_in_checkpoint``), every one holds exactly these globals
outside torch's own allow-list:

* ``mmengine.logging.history_buffer.HistoryBuffer`` (a logged scalar),
* ``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype`` (its history, numpy arrays),
* ``numpy._core.multiarray.scalar`` (numpy scalars in the runtime info),
* ``numpy.dtypes.Float64DType``, ``numpy.dtypes.Int64DType``: the classes
  of the dtypes built while loading (numpy >= 1.25; torch checks them when
  it sets a dtype's state, so the static scan above does not list them);
  their 32-bit siblings are allowed too, since the dtype of a history
  follows the values logged into it,
* ``builtins.getattr``: a HistoryBuffer pickles its statistics methods
  (``HistoryBuffer.min`` ...) as ``getattr(HistoryBuffer, 'min')``.

:data:`SAFE_GLOBALS` allows exactly these (plus the ``numpy.core`` names
numpy 1.x writes for the same two functions). ``getattr`` itself is never
allowed: the name ``builtins.getattr`` maps to :func:`history_buffer_method`,
which returns only a public method of ``HistoryBuffer`` and refuses any other
lookup. :func:`add_safe_globals` registers the list with
``torch.serialization.add_safe_globals`` (additive: it widens nothing else).

A file holding any other global is refused, never fully unpickled:
:func:`check_checkpoint_file` names the file, its unsafe globals and the two
ways to allow it on purpose (``torch.serialization.add_safe_globals`` in a
module of ``custom_imports``, or ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, the
switch torch itself honours). It also turns a truncated or empty file and a
text file given as a checkpoint into one line that names the file.

The check is applied where mmwsss loads: :func:`load_checkpoint_file` (mmwsss
components, e.g. SAM weights) and :func:`checked_checkpoint_loading`, which
``tools/train.py`` and ``tools/test.py`` wrap around the mmseg tool they run
(mmengine's own local loader, preceded by the check, restored afterwards).
"""
import contextlib
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import torch

__all__ = [
    'CheckpointFileError', 'UnsafeCheckpointError', 'SAFE_GLOBALS',
    'history_buffer_method', 'add_safe_globals', 'check_checkpoint_file',
    'load_checkpoint_file', 'checked_checkpoint_loading'
]

_TRUE = ('1', 'y', 'yes', 'true')
_FORCE_FULL = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


class CheckpointFileError(RuntimeError):
    """A checkpoint file that cannot be read (the message names it)."""


class UnsafeCheckpointError(CheckpointFileError, pickle.UnpicklingError):
    """A checkpoint holding Python objects outside the safe allow-list."""


def history_buffer_method(owner: Any, name: str) -> Callable:
    """``getattr`` as mmengine's checkpoints use it, and nothing more.

    Args:
        owner: Must be :class:`mmengine.logging.HistoryBuffer`.
        name (str): A public method of it (``'min'``, ``'mean'`` ...).

    Returns:
        Callable: ``HistoryBuffer.<name>``.
    """
    from mmengine.logging import HistoryBuffer
    if (owner is HistoryBuffer and isinstance(name, str)
            and not name.startswith('_')
            and callable(vars(HistoryBuffer).get(name))):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not allowed by weights_only '
        'loading (mmwsss allows getattr only for HistoryBuffer methods)')


def _safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    import numpy as np
    from mmengine.logging import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25
    dtype_classes = [] if dtypes is None else [
        dtypes.Float64DType, dtypes.Int64DType, dtypes.Float32DType,
        dtypes.Int32DType
    ]
    return dtype_classes + [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (_reconstruct, 'numpy._core.multiarray._reconstruct'),
        (scalar, 'numpy._core.multiarray.scalar'),
        (_reconstruct, 'numpy.core.multiarray._reconstruct'),
        (scalar, 'numpy.core.multiarray.scalar'),
        (history_buffer_method, 'builtins.getattr'),
    ]


#: What :func:`add_safe_globals` allows (filled on first use).
SAFE_GLOBALS: List[Union[Callable, Tuple[Callable, str]]] = []


def add_safe_globals() -> bool:
    """Allow the globals of mmengine checkpoints for ``weights_only`` loads.

    Returns:
        bool: False on torch < 2.4 (no allow-list; ``torch.load`` keeps its
        old ``weights_only=False`` default there), else True.
    """
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return False
    if not SAFE_GLOBALS:
        SAFE_GLOBALS.extend(_safe_globals())
        torch.serialization.add_safe_globals(SAFE_GLOBALS)
    return True


def _full_unpickling_forced() -> bool:
    return os.getenv(_FORCE_FULL, '0').lower() in _TRUE


def _how_to_allow(filename: str, unsafe: List[str]) -> str:
    return (f'{filename} holds Python objects that weights_only loading '
            f'does not allow ({", ".join(sorted(unsafe))}); mmwsss does not '
            'fully unpickle files, as that can run code. If you trust it: '
            'allow these types with torch.serialization.add_safe_globals '
            '(in a module listed in custom_imports), or set '
            f'{_FORCE_FULL}=1 for this run')


def _text_line(head: bytes) -> Optional[str]:
    """The first non-empty line of ``head`` if it reads as text, else None."""
    lines = [line for line in head.split(b'\n') if line.strip()]
    if not lines or b'\x00' in head:
        return None
    text = lines[0].decode('utf-8', 'ignore').strip()
    # allow a multi-byte character cut at the end of ``head``
    if (not text.isprintable()
            or len(text.encode()) < len(lines[0].strip()) - 3):
        return None
    return text[:60]


def check_checkpoint_file(filename: str) -> None:
    """Refuse a file that is not a loadable, safe PyTorch checkpoint.

    Args:
        filename (str): Local path.

    Raises:
        FileNotFoundError: No such file.
        CheckpointFileError: Empty, truncated, text or unknown format.
        UnsafeCheckpointError: Globals outside the allow-list (unless
            ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set).
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    size = osp.getsize(filename)
    with open(filename, 'rb') as f:
        head = f.read(256)
    if size == 0:
        raise CheckpointFileError(
            f'{filename} is empty (0 bytes), not a checkpoint: copy or '
            'download it again')
    if head.startswith(b'PK\x03\x04'):  # torch.save's zip format
        if not zipfile.is_zipfile(filename):
            raise CheckpointFileError(
                f'{filename} is truncated or damaged ({size} bytes, the end '
                'of its zip archive is missing): copy or download it again')
    elif head[:1] == b'\x80':  # legacy torch.save format (a raw pickle)
        return
    else:
        text = _text_line(head)
        if text is not None:
            raise CheckpointFileError(
                f'{filename} is a text file, not a PyTorch checkpoint (it '
                f'starts with {text!r})')
        raise CheckpointFileError(
            f'{filename} is not a PyTorch checkpoint (unknown format, it '
            f'starts with {head[:8]!r})')
    if _full_unpickling_forced() or not hasattr(
            torch.serialization, 'get_unsafe_globals_in_checkpoint'):
        return
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except ValueError:  # a TorchScript archive: torch.load says so itself
        return
    if unsafe:
        raise UnsafeCheckpointError(_how_to_allow(filename, unsafe))


def _load_checked(filename: str, load: Callable[[], Any]) -> Any:
    check_checkpoint_file(filename)
    try:
        return load()
    except pickle.UnpicklingError as err:  # e.g. a legacy-format file
        if isinstance(err, CheckpointFileError):
            raise
        raise UnsafeCheckpointError(
            _how_to_allow(filename, [_refused_item(str(err))])) from err


def _refused_item(message: str) -> str:
    """What torch's weights_only unpickler refused, from its message."""
    found = re.findall(r'GLOBAL ([\w.]+)', message)
    if found:
        return found[0]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for before, line in zip(lines, lines[1:]):
        if before.endswith('WeightsUnpickler error:'):
            return line
    return lines[0] if lines else 'unknown'


def load_checkpoint_file(filename: str, map_location=None) -> Any:
    """Load a local checkpoint with ``weights_only`` loading, checked first.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: Same as :func:`torch.load`.

    Returns:
        Any: The loaded object (usually a dict).
    """
    filename = osp.expanduser(filename)
    add_safe_globals()
    if _full_unpickling_forced():  # torch's own switch, set on purpose
        return _load_checked(
            filename, lambda: torch.load(filename, map_location=map_location))
    return _load_checked(
        filename, lambda: torch.load(
            filename, map_location=map_location, weights_only=True))


@contextlib.contextmanager
def checked_checkpoint_loading() -> Iterator[None]:
    """Check local files before mmengine loads them, inside this block.

    Used by ``tools/train.py`` and ``tools/test.py`` around the mmseg tool
    they run: mmengine's local-file loader is called unchanged after
    :func:`check_checkpoint_file`, and is put back on exit.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    original = CheckpointLoader._schemes['']

    # named like mmengine's loader: its log line reads "local backend"
    def load_from_local(filename: str, map_location=None) -> Any:
        path = osp.expanduser(filename)
        return _load_checked(path, lambda: original(filename, map_location))

    CheckpointLoader._schemes[''] = load_from_local
    try:
        yield
    finally:
        if CheckpointLoader._schemes.get('') is load_from_local:
            CheckpointLoader._schemes[''] = original
