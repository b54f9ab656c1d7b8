"""Run MMSegmentation's own command-line tools with mmwsss registered.

``tools/train.py`` and ``tools/test.py`` of this repository are thin
launchers: they import :mod:`mmwsss` (stack fixes + registries) and then run
the ``train.py`` / ``test.py`` that ship with the installed mmsegmentation,
so every argument (``--work-dir``, ``--resume``, ``--amp``,
``--cfg-options``, ``--launcher``, ``--tta``, ...) behaves exactly as in
mmseg. Checkpoint files are checked before mmengine loads them
(:func:`mmwsss.compat.checked_checkpoint_loading`): a truncated, text or
unsafe file ends the tool with one line that names it.
"""
import os.path as osp
import runpy
import sys
from typing import List, Optional

__all__ = ['mmseg_tool_path', 'run_mmseg_tool']


def mmseg_tool_path(name: str) -> str:
    """Path of a script in the installed mmsegmentation's ``tools`` folder.

    Args:
        name (str): Script name relative to ``tools``, e.g. ``'train.py'``.

    Returns:
        str: Absolute path of the script.
    """
    import mmseg
    root = osp.dirname(mmseg.__file__)
    for base in (osp.join(root, '.mim', 'tools'),
                 osp.join(osp.dirname(root), 'tools')):
        path = osp.join(base, name)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmsegmentation {mmseg.__version__} at {root} ships no tools/{name}'
        ' (expected in mmseg/.mim/tools). Reinstall mmsegmentation==1.2.2 '
        'from PyPI or from source.')


def run_mmseg_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Run ``mmseg/.mim/tools/<name>`` as ``__main__`` with mmwsss loaded.

    Args:
        name (str): Script name, e.g. ``'train.py'``.
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.
    """
    import mmwsss  # noqa: F401  (registration)
    from mmwsss.compat import CheckpointFileError, checked_checkpoint_loading
    path = mmseg_tool_path(name)
    args = sys.argv[1:] if argv is None else list(argv)
    sys.argv = [path] + args
    try:
        with checked_checkpoint_loading():
            runpy.run_path(path, run_name='__main__')
    except CheckpointFileError as err:
        raise SystemExit(f'{type(err).__name__}: {err}') from None
