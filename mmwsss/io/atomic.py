"""Atomic writes: what makes every per-image output of mmwsss resumable.

A writer puts its bytes in a hidden temporary file in the destination folder
and then :func:`os.replace` s it over the destination, so a killed run never
leaves a truncated file; an existing non-empty file is therefore finished
(:func:`is_done`), and reruns skip it unless told to overwrite.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Any

__all__ = ['is_done', 'atomic_write_bytes', 'dump_json_atomic']


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def is_done(path: str) -> bool:
    """Whether an output file is finished (used to resume runs).

    Writers in this module are atomic, so an existing non-empty file is
    complete.

    Args:
        path (str): The output file.

    Returns:
        bool: True if ``path`` is a non-empty file.
    """
    return osp.isfile(path) and osp.getsize(path) > 0


def atomic_write_bytes(path: str,
                       data: bytes,
                       overwrite: bool = True) -> bool:
    """Write bytes atomically: hidden temp file in the same folder, then
    :func:`os.replace`.

    Args:
        path (str): Destination; its folder is created.
        data (bytes): The content.
        overwrite (bool): Replace an existing file. If False and ``path``
            :func:`is_done`, nothing is written. Defaults to True.

    Returns:
        bool: True if the file was written, False if it was skipped.
    """
    if not overwrite and is_done(path):
        return False
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        # mkstemp creates 0600 files; give the result the usual permissions.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return True


def dump_json_atomic(obj: Any, path: str, indent: int = 2) -> None:
    """Write a JSON file atomically (NaN is not allowed: use None).

    Args:
        obj: JSON-serialisable object.
        path (str): Destination ``.json`` path.
        indent (int): Indentation. Defaults to 2.
    """
    text = json.dumps(obj, indent=indent, allow_nan=False)
    atomic_write_bytes(path, (text + '\n').encode('utf-8'))
