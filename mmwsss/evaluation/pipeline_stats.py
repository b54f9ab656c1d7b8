"""Figures that show a pipeline run did something: share of foreground in
seed folders, the last logged loss of a training run, and the share of
pixels two prediction folders disagree on.

Used by the demo runner to fail loudly when a stage is inert (e.g. seeds
that are all background, a phase-2 CAL loss that is exactly 0, or a SAMS
TTA that changes nothing). Pure file reading: numpy, PIL (through
:func:`~.seed_io.read_seed_png`) and json; no mm imports.
"""
import glob
import json
import math
import os
import os.path as osp
from typing import Dict, List, Sequence, Union

import numpy as np

from mmwsss.io import SEED_SUFFIX, read_seed_png

__all__ = [
    'CAL_LOSS_KEYS', 'seed_fg_fraction', 'last_logged_loss',
    'changed_fraction', 'scalars_files', 'read_scalars'
]

#: The phase-2 CAL loss as mmengine logs it (``FMAPromptModel`` /
#: ``CALLoss`` items); their sum is the CAL loss of eq. 13.
CAL_LOSS_KEYS = ('loss_cal_fg', 'loss_cal_bg')


def _png_files(folder: str, what: str) -> Dict[str, str]:
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{what}: no folder {folder}')
    files = {
        osp.splitext(name)[0]: osp.join(folder, name)
        for name in sorted(os.listdir(folder))
        if name.endswith(SEED_SUFFIX) and not name.startswith('.')
    }
    if not files:
        raise FileNotFoundError(f'{what}: no {SEED_SUFFIX} file in {folder}')
    return files


def seed_fg_fraction(seed_dir: str, ignore_index: int = 255) -> float:
    """Share of foreground pixels over all seeds of a folder.

    Args:
        seed_dir (str): Folder of seed PNGs (class indices, 0 background;
            see :mod:`~.seed_io`).
        ignore_index (int): Label of abstaining pixels, counted neither as
            foreground nor in the total. Defaults to 255.

    Returns:
        float: ``#(0 < label != ignore) / #(label != ignore)`` summed over
        every ``*.png`` of the folder (0.0 when every pixel is ignored).

    Raises:
        FileNotFoundError: The folder is missing or holds no PNG.
    """
    fg = total = 0
    for path in _png_files(seed_dir, 'seed_fg_fraction').values():
        seed = read_seed_png(path)
        valid = seed != ignore_index
        total += int(valid.sum())
        fg += int((valid & (seed != 0)).sum())
    return fg / total if total else 0.0


def scalars_files(path: str) -> List[str]:
    """mmengine ``scalars.json`` files of a run, oldest first.

    Args:
        path (str): A ``scalars.json`` file, or a work dir whose
            ``<timestamp>/vis_data/scalars.json`` files (one per start of
            a resumed run) are taken in timestamp order.

    Returns:
        list[str]: The files.

    Raises:
        FileNotFoundError: Nothing found at ``path``.
    """
    if osp.isfile(path):
        return [path]
    files = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no mmengine scalars.json at {path} (expected the file or '
            '<work_dir>/<timestamp>/vis_data/scalars.json)')
    return files


def read_scalars(run: str) -> List[dict]:
    """Every record of a run's mmengine ``scalars.json`` files, in order.

    Args:
        run (str): A run's work dir or one ``scalars.json``
            (:func:`scalars_files`).

    Returns:
        list[dict]: One dict per logged line.

    Raises:
        ValueError: A line is not JSON (names the file and line).
    """
    records = []
    for path in scalars_files(run):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{n} is not JSON: {err}') from err
    return records


def last_logged_loss(log_path: str,
                     key: Union[str, Sequence[str]] = CAL_LOSS_KEYS) -> float:
    """Last logged value of a loss in an mmengine run.

    Args:
        log_path (str): A ``vis_data/scalars.json`` file (one JSON record a
            line, as mmengine's LocalVisBackend writes) or the run's work
            dir (see :func:`scalars_files`).
        key (str | Sequence[str]): A logged key such as ``'loss_mcl'``, or
            several keys whose values are summed (default: the two CAL
            terms, :data:`CAL_LOSS_KEYS`).

    Returns:
        float: The value (sum) of the last record holding every key.

    Raises:
        FileNotFoundError: No scalars file.
        KeyError: No record holds the key(s); names the keys seen.
        ValueError: A line is not JSON (names the file and line).
    """
    keys = [key] if isinstance(key, str) else list(key)
    last = None
    seen = set()
    for rec in read_scalars(log_path):
        seen.update(rec)
        if all(k in rec for k in keys):
            last = rec
    if last is None:
        raise KeyError(f'no record of {log_path} logs {keys}; logged keys: '
                       f'{sorted(seen)}')
    value = float(sum(float(last[k]) for k in keys))
    return value if math.isfinite(value) else float('nan')


def changed_fraction(pred_dir_a: str, pred_dir_b: str) -> float:
    """Share of pixels whose label differs between two prediction folders.

    Args:
        pred_dir_a (str): Label PNGs, ``<stem>.png`` per image (e.g. what
            ``tools/test.py --out DIR`` writes through mmseg's IoUMetric,
            or a seed folder).
        pred_dir_b (str): The same images, predicted another way.

    Returns:
        float: ``#(a != b) / #pixels`` over all images.

    Raises:
        FileNotFoundError: A folder is missing or empty.
        ValueError: The folders hold different images, or an image has two
            sizes (names the file).
    """
    a = _png_files(pred_dir_a, 'changed_fraction')
    b = _png_files(pred_dir_b, 'changed_fraction')
    if set(a) != set(b):
        only_a = sorted(set(a) - set(b))[:5]
        only_b = sorted(set(b) - set(a))[:5]
        raise ValueError(f'{pred_dir_a} and {pred_dir_b} hold different '
                         f'images (only in the first: {only_a}, only in the '
                         f'second: {only_b})')
    changed = total = 0
    for stem, path_a in a.items():
        la, lb = read_seed_png(path_a), read_seed_png(b[stem])
        if la.shape != lb.shape:
            raise ValueError(f'{path_a} is {la.shape} but {b[stem]} is '
                             f'{lb.shape}')
        changed += int((la != lb).sum())
        total += la.size
    return changed / total if total else 0.0
