"""Run MMSegmentation's own command-line tools with mmwsss registered.

``tools/train.py`` and ``tools/test.py`` of this repository are thin
launchers: they import :mod:`mmwsss` (stack fixes + registries) and then run
the ``train.py`` / ``test.py`` that ship with the installed mmsegmentation,
so every argument (``--work-dir``, ``--resume``, ``--amp``,
``--cfg-options``, ``--launcher``, ``--tta``, ...) behaves exactly as in
mmseg. Checkpoint files are checked before mmengine loads them
(:func:`mmwsss.compat.checked_checkpoint_loading`): a truncated, text or
unsafe file ends the tool with one line that names it. One difference: ``train.py --amp`` selects
:class:`mmwsss.engine.DeviceAmpOptimWrapper` instead of mmengine's
``AmpOptimWrapper`` (same float16 + dynamic loss scaling on CUDA; bfloat16
autocast on a CPU, where mmengine's refuses to start), see
:func:`amp_arguments`. And with ``--launcher`` on a machine without CUDA
the run is distributed on the CPU with gloo
(:func:`cpu_distributed_arguments`, :mod:`mmwsss.compat.cpu_dist`).
"""
import errno
import os
import os.path as osp
import runpy
import sys
from typing import Any, List, Optional

__all__ = [
    'amp_arguments', 'config_argument', 'cpu_distributed_arguments',
    'finish_distributed', 'mmseg_tool_path', 'run_mmseg_tool'
]

AMP_WRAPPER = 'DeviceAmpOptimWrapper'
# errno values of an output that cannot be written
_UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR,
               errno.ENOSPC)
# optim wrapper types ``--amp`` may replace (mmseg's train.py: the first two)
AMP_REPLACES = ('OptimWrapper', 'AmpOptimWrapper', AMP_WRAPPER)


def finish_distributed() -> None:
    """Destroy the default process group, if any, before the interpreter
    exits.

    A gloo group left to interpreter finalisation can abort the process
    ("terminate called without an active exception", SIGABRT) after all
    work is done, which turns a finished run into a failed one; NCCL warns
    about the same omission. Every tool that may initialise one calls this
    on its way out.
    """
    import torch.distributed as torch_dist
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def mmseg_tool_path(name: str) -> str:
    """Path of a script in the installed mmsegmentation's ``tools`` folder.

    Args:
        name (str): Script name relative to ``tools``, e.g. ``'train.py'``.

    Returns:
        str: Absolute path of the script.
    """
    import mmseg
    root = osp.dirname(mmseg.__file__)
    for base in (osp.join(root, '.mim',
                          'tools'), osp.join(osp.dirname(root), 'tools')):
        path = osp.join(base, name)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmsegmentation {mmseg.__version__} at {root} ships no tools/{name}'
        ' (expected in mmseg/.mim/tools). Reinstall mmsegmentation==1.2.2 '
        'from PyPI or from source.')


def amp_arguments(args: List[str]) -> List[str]:
    """``train.py`` arguments with ``--amp`` turned into a config override.

    mmseg's ``train.py --amp`` sets ``optim_wrapper.type='AmpOptimWrapper'``,
    which asserts that CUDA is available and autocasts on CUDA whenever one
    is visible. Here ``--amp`` becomes ``--cfg-options
    optim_wrapper.type=DeviceAmpOptimWrapper`` (placed first among the
    user's ``--cfg-options``, so an explicit ``optim_wrapper.type`` of the
    user still wins); the config's other ``optim_wrapper`` keys
    (``optimizer``, ``loss_scale``, ``dtype``, ``clip_grad``) are kept.

    Args:
        args (list[str]): ``train.py`` arguments, the config first.

    Returns:
        list[str]: The arguments to pass on (unchanged without ``--amp``).

    Raises:
        ValueError: The config's ``optim_wrapper.type`` is not one ``--amp``
            can replace (the check mmseg's ``train.py`` makes).
    """
    if '--amp' not in args:
        return list(args)
    from mmengine.config import Config
    config = next((a for a in args if not a.startswith('-')), None)
    if config is not None and osp.isfile(config):
        wrapper = Config.fromfile(config).get('optim_wrapper', {})
        kind = wrapper.get('type', 'OptimWrapper')
        if kind not in AMP_REPLACES:
            raise ValueError(
                f'{config}: --amp needs optim_wrapper.type to be one of '
                f'{AMP_REPLACES}, got {kind!r}')
    out = [a for a in args if a != '--amp']
    override = f'optim_wrapper.type={AMP_WRAPPER}'
    if '--cfg-options' in out:
        out.insert(out.index('--cfg-options') + 1, override)
    else:
        out += ['--cfg-options', override]
    return out


def _launcher(args: List[str]) -> str:
    """The ``--launcher`` of a tool's arguments (``'none'`` if absent)."""
    for i, arg in enumerate(args):
        if arg == '--launcher' and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith('--launcher='):
            return arg.split('=', 1)[1]
    return 'none'


def cpu_distributed_arguments(args: List[str]) -> List[str]:
    """A tool's arguments with the overrides of a distributed run without
    CUDA (:func:`mmwsss.compat.cpu_dist.cpu_distributed_overrides`: gloo,
    ``CPUDistributedDataParallel``) placed first among ``--cfg-options``, so
    the user's own still win.

    Args:
        args (list[str]): ``train.py`` / ``test.py`` arguments, the config
            first.

    Returns:
        list[str]: The arguments (unchanged with CUDA or without a
        launcher).
    """
    from mmwsss.compat.cpu_dist import (cpu_distributed,
                                        cpu_distributed_overrides)
    launcher = _launcher(args)
    if not cpu_distributed(launcher):
        return list(args)
    cfg = _tool_config(args)
    overrides = cpu_distributed_overrides(cfg if cfg is not None else {},
                                          launcher)
    if not overrides:
        return list(args)
    if os.environ.get('RANK', '0') == '0':
        print('mmwsss: no CUDA device, distributed on the CPU: ' +
              ', '.join(f'{k}={v}' for k, v in overrides.items()))
    options = [f'{k}={v}' for k, v in overrides.items()]
    out = list(args)
    if '--cfg-options' in out:
        at = out.index('--cfg-options') + 1
        out[at:at] = options
    else:
        out += ['--cfg-options'] + options
    return out


def config_argument(args: List[str]) -> List[str]:
    """The arguments with a ``scope::`` config name (the first positional
    argument, e.g. ``mmwsss::fma/voc_prompts.py``) turned into its file,
    which mmseg's tools load with ``Config.fromfile``.

    Args:
        args (list[str]): A tool's arguments.

    Returns:
        list[str]: The arguments, the config resolved.
    """
    from mmwsss.utils.package_files import resolve_config
    out = list(args)
    for i, arg in enumerate(out):
        if not arg.startswith('-'):
            if '::' in arg:
                out[i] = resolve_config(arg)
            break
    return out


def _tool_config(args: List[str]) -> Any:
    """The config a tool runs (file + ``--cfg-options``), for messages;
    None when it cannot be read here (the tool will say why)."""
    import argparse

    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    try:
        known, _ = parser.parse_known_args(args)
        cfg = Config.fromfile(known.config)
        if known.cfg_options:
            cfg.merge_from_dict(known.cfg_options)
        return cfg
    except Exception:  # noqa: BLE001  (only used to name a key)
        return None


def run_mmseg_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Run ``mmseg/.mim/tools/<name>`` as ``__main__`` with mmwsss loaded.

    A config mistake that makes a component refuse its arguments (an
    unknown key, a value outside its choices, an unregistered type) ends the
    tool with one line naming the key and exit code 2
    (:func:`~mmwsss.apis.config_errors.explain_build_error`); ``--debug``
    or ``MMWSSS_DEBUG=1`` shows the traceback instead.

    Args:
        name (str): Script name, e.g. ``'train.py'``.
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.
    """
    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmwsss.compat import CheckpointFileError, checked_checkpoint_loading
    from mmwsss.compat.cpu_dist import cpu_process_group
    from .config_errors import DEBUG_ENV, explain_build_error
    path = mmseg_tool_path(name)
    args = config_argument(sys.argv[1:] if argv is None else list(argv))
    debug = '--debug' in args or os.environ.get(DEBUG_ENV, '') not in ('',
                                                                      '0')
    args = [a for a in args if a != '--debug']
    if name == 'train.py':
        args = amp_arguments(args)
    args = cpu_distributed_arguments(args)
    argv_before, sys.argv = sys.argv, [path] + args
    try:
        with checked_checkpoint_loading(), cpu_process_group():
            runpy.run_path(path, run_name='__main__')
    except CheckpointFileError as err:
        raise SystemExit(f'{type(err).__name__}: {err}') from None
    except OSError as err:
        # an output folder that cannot be made or written (work_dir, logs)
        if debug or err.errno not in _UNWRITABLE or not err.filename:
            raise
        print(f'error: cannot write to {err.filename}: {err.strerror} '
              '(choose another --work-dir or fix the permissions)',
              file=sys.stderr)
        raise SystemExit(2) from None
    except (TypeError, ValueError, KeyError) as err:
        line = None if debug else explain_build_error(err,
                                                      _tool_config(args))
        if line is None:
            raise
        print(f'config error: {line} (--debug shows the traceback)',
              file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        sys.argv = argv_before
        finish_distributed()
