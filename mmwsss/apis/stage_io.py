"""What every stage function shares: reading a config by any name, and
writing its results as JSON beside its outputs (:mod:`.stages`,
:mod:`.sam_masks`)."""
import copy
import math
import os
import os.path as osp
from typing import Any, Optional, Union

__all__ = ['ConfigLike', 'load_config', 'write_results', 'results_path']

#: A config: a Config, a dict, a file or an ``mmwsss::`` / ``mmseg::`` name.
ConfigLike = Union[str, dict, 'Config']  # noqa: F821


def _plain(value: Any) -> Any:
    """JSON-safe data: numbers as floats (nan -> None), containers walked.
    """
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, 'tolist') and callable(value.tolist):  # numpy, torch
        return _plain(value.tolist())
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_results(results: dict, path: Optional[str]) -> dict:
    """Write a stage's results as JSON (atomically) and return them as
    plain data.

    Args:
        results (dict): The results.
        path (str, optional): The JSON file; None writes nothing.

    Returns:
        dict: ``results`` as JSON-safe data (nan -> None).
    """
    from mmwsss.io import dump_json_atomic
    data = _plain(results)
    if path:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        dump_json_atomic(data, path)
    return data


def load_config(config: ConfigLike,
                cfg_options: Optional[dict] = None) -> 'Config':  # noqa: F821
    """A config from a Config (copied), dict, file or ``mmwsss::`` name.

    Args:
        config (Config | dict | str): The config.
        cfg_options (dict, optional): Overrides (``'a.b': value``), merged
            as mmengine's ``--cfg-options``.

    Returns:
        Config: A new config.
    """
    import mmwsss.registration  # noqa: F401  (mmwsss:: scope, registries)
    from mmengine.config import Config

    from mmwsss.utils.package_files import resolve_config
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif isinstance(config, dict):
        cfg = Config(copy.deepcopy(config))
    else:
        cfg = Config.fromfile(resolve_config(str(config)))
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


def results_path(results_file: Optional[str], work_dir: str,
                 default: str) -> Optional[str]:
    """Where a stage writes its results JSON.

    Args:
        results_file (str, optional): The caller's choice: ``''`` writes
            none, None the default, a relative path is taken in
            ``work_dir``.
        work_dir (str): The stage's work dir.
        default (str): The default file name.

    Returns:
        str | None: The path, or None to write nothing.
    """
    if results_file == '':
        return None
    if results_file is None:
        return osp.join(work_dir, default)
    return results_file if osp.isabs(results_file) else osp.join(
        work_dir, results_file)
