"""What keeps a work dir honest between runs of the one-command pipeline.

- :class:`WorkDirLock`: one run per work dir at a time. An advisory
  ``flock`` on ``<work_dir>/.lock``: the kernel releases it when the holder
  dies, however it dies (``SIGKILL``, the out-of-memory killer), so a killed
  run never leaves the work dir locked.
- :func:`check_inputs`: every run records what it was made from
  (``<work_dir>/run_inputs.json``: classes in their order, the data folder
  and its files, weights, mask generator, schedule); a rerun whose inputs
  differ refuses with one line that names the difference and the way
  forward, instead of reusing stages made from other inputs.
- :func:`die_with_parent`: a stage's child process ends when the runner
  ends, also when the runner is killed.
- :func:`check_writable`: an output folder that cannot be written is one
  line naming the path and the permission.
"""
import ctypes
import errno
import json
import os
import os.path as osp
import signal
import stat
import time
from typing import Any, Dict, List, Optional, Sequence

from mmwsss.io import dump_json_atomic

__all__ = [
    'RunGuardError', 'WorkDirLock', 'check_inputs', 'die_with_parent',
    'check_writable', 'INPUTS_FILE'
]

#: The record of a run's inputs, in its work dir.
INPUTS_FILE = 'run_inputs.json'

_PR_SET_PDEATHSIG = 1


class RunGuardError(RuntimeError):
    """A run that must not start: the message is one line."""


def check_writable(path: str) -> None:
    """Make ``path`` (a folder) or say in one line why it cannot be written.

    Args:
        path (str): The output folder.

    Raises:
        RunGuardError: Naming the first folder on the way that is not
            writable, its owner and mode.
    """
    try:
        os.makedirs(path, exist_ok=True)
        probe = osp.join(path, f'.write-test-{os.getpid()}')
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as e:
        where = path
        while where and not osp.exists(where):
            where = osp.dirname(where)
        where = where or path
        mode = ''
        if osp.exists(where):
            st = os.stat(where)
            mode = (f' ({stat.filemode(st.st_mode)}, owner uid '
                    f'{st.st_uid}, running as uid {os.getuid()})')
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise RunGuardError(f'cannot write to {path}: {reason} at '
                            f'{where}{mode}; choose another --work-dir or '
                            'fix the permissions') from None


class WorkDirLock:
    """Hold ``<work_dir>/.lock`` for the length of a run.

    Args:
        work_dir (str): The run's folder (created when missing).

    Raises:
        RunGuardError: On enter, when another live run holds the folder.
    """

    def __init__(self, work_dir: str) -> None:
        self.path = osp.join(work_dir, '.lock')
        self._fd: Optional[int] = None

    def __enter__(self) -> 'WorkDirLock':
        import fcntl
        check_writable(osp.dirname(self.path))
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 200).decode('utf-8', 'replace').strip()
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise RunGuardError(
                f'{osp.dirname(self.path)} is in use by another run '
                f'({holder or "pid unknown"}); wait for it to finish or use '
                'another --work-dir') from None
        os.ftruncate(fd, 0)
        os.write(fd, f'pid {os.getpid()}, started {time.ctime()}'.encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


def _differences(old: Dict[str, Any], new: Dict[str, Any]) -> List[str]:
    """Keys whose values differ, in ``new``'s order."""
    keys = list(new) + [k for k in old if k not in new]
    return [k for k in keys if old.get(k) != new.get(k)]


def _describe(key: str, old: Any, new: Any) -> str:
    if isinstance(old, list) and isinstance(new, list) and \
            sorted(map(str, old)) == sorted(map(str, new)):
        return f'{key} in another order ({old} before, {new} now)'
    if isinstance(old, list) and isinstance(new, list):
        gone = [x for x in old if x not in new]
        added = [x for x in new if x not in old]
        parts = []
        if added:
            parts.append(f'{len(added)} added (e.g. {added[0]})')
        if gone:
            parts.append(f'{len(gone)} gone (e.g. {gone[0]})')
        return f'{key} changed: ' + ', '.join(parts or ['reordered'])
    return f'{key} was {old!r}, now {new!r}'


def check_inputs(work_dir: str,
                 inputs: Dict[str, Any],
                 first_stage: Dict[str, str],
                 forced: Optional[str],
                 stages: Sequence[str]) -> None:
    """Refuse a rerun made from other inputs; record this run's inputs.

    Args:
        work_dir (str): The run's folder.
        inputs (dict): This run's inputs, JSON-able (e.g. ``classes``,
            ``images``, ``weights``, ``mask_generator``, ``schedule``).
        first_stage (dict[str, str]): For each input key, the first stage
            its change invalidates (later stages follow).
        forced (str, optional): The stage the user asked to redo
            (``--force``): it and every later stage are redone.
        stages (Sequence[str]): All stages, in order.

    Raises:
        RunGuardError: One line: what differs and the way forward
            (``--force STAGE`` or a new work dir).
    """
    path = osp.join(work_dir, INPUTS_FILE)
    if osp.isfile(path):
        try:
            with open(path, encoding='utf-8') as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict):
            changed = _differences(old, inputs)
            need = sorted({first_stage.get(k, stages[0])
                           for k in changed}, key=list(stages).index)
            covered = [s for s in need if not _forced(s, forced, stages)]
            if covered:
                key = next(k for k in changed
                           if first_stage.get(k, stages[0]) in covered)
                raise RunGuardError(
                    f'{work_dir} was made from other inputs: '
                    f'{_describe(key, old.get(key), inputs.get(key))}; '
                    f'redo from there with --force {covered[0]} (or give a '
                    'new --work-dir)')
    dump_json_atomic(inputs, path)


def _forced(stage: str, forced: Optional[str],
            stages: Sequence[str]) -> bool:
    """Whether ``stage`` is redone: ``--force`` names it or an earlier one.
    """
    return forced is not None and \
        list(stages).index(stage) >= list(stages).index(forced)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child process (``preexec_fn``): receive ``sig`` when the parent
    dies (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing happens)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass
