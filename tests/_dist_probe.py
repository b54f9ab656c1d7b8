"""What the processes of the two-process tests (tests/tools/test_dist_runs.py)
report about themselves, imported through their config's
``custom_imports``.

One JSON line per event, appended to ``$MMWSSS_DIST_PROBE/<rank>.jsonl``
(one file per process, so lines never interleave), each with the rank, the
process id and the wall-clock time:

- ``replace``: every ``os.replace``, the last step of every atomic writer of
  mmwsss (``mmwsss.io.atomic``), with the destination path: one event per
  file written;
- ``start``: the Runner starts (``before_run``);
- ``iter``: a training iteration starts, with the coarse-seed PNGs present
  at the start of the first phase-2 iteration.
"""
import json
import os
import os.path as osp
import time

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

PROBE_ENV = 'MMWSSS_DIST_PROBE'


def log_event(kind: str, **fields) -> None:
    """Append one event of this process."""
    folder = os.environ[PROBE_ENV]
    rank = int(os.environ.get('RANK', '0'))
    fields.update(kind=kind, rank=rank, pid=os.getpid(), t=time.time())
    with open(osp.join(folder, f'{rank}.jsonl'), 'a') as f:
        f.write(json.dumps(fields) + '\n')


_os_replace = os.replace


def _replace_and_log(src, dst, *args, **kwargs):
    _os_replace(src, dst, *args, **kwargs)
    log_event('replace', path=osp.abspath(dst))


if PROBE_ENV in os.environ and os.replace is _os_replace:
    os.replace = _replace_and_log


@HOOKS.register_module(force=True)
class DistProbeHook(Hook):
    """Logs the run's start and each training iteration's."""

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        log_event('start')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        loop = runner.train_loop
        fields = dict(iter=runner.iter)
        if runner.iter == getattr(loop, 'cls_iters', None):
            folder = loop.coarse_dir
            fields['coarse_seeds'] = sorted(
                f for f in os.listdir(folder) if f.endswith('.png'))
        log_event('iter', **fields)
