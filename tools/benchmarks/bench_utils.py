# Copyright (c) mmwsss contributors. All rights reserved.
"""What every benchmark of ``tools/benchmarks`` shares.

- :func:`add_device_argument` / :func:`resolve_device`: the ``--device``
  option (``cpu``, ``cuda``, ``cuda:N``; ``auto`` = CUDA when available);
- :class:`Clock`: wall and process CPU time, CUDA synchronised first;
- :class:`PeakMemory`: peak memory of a block of code, on CUDA
  ``torch.cuda.max_memory_allocated`` and on the CPU the peak resident set
  size (:class:`mmwsss.utils.profiling.RSSPeak`), both above the level on
  entry;
- :func:`spawn_worker` / :func:`emit_result`: the fresh-process worker
  pattern: the parent runs ``script --worker NAME ...`` in a new Python
  process (so peaks of one measurement are not hidden by what another left
  allocated), the worker prints its result as one JSON line last, and its
  progress lines go to stderr.

The benchmarks import this file by path (``tools`` is not a package):
``sys.path.insert(0, osp.dirname(osp.abspath(__file__)))``.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

__all__ = [
    'add_device_argument', 'add_train_step_arguments', 'resolve_device',
    'is_cuda', 'Clock', 'PeakMemory', 'spawn_worker', 'emit_result'
]


def add_device_argument(parser: argparse.ArgumentParser,
                        default: str = 'cpu') -> None:
    """Add ``--device`` (``cpu``, ``cuda``, ``cuda:N`` or ``auto``)."""
    parser.add_argument(
        '--device',
        default=default,
        help="'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when available); "
        f'default {default}')


def add_train_step_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of the train-step benchmarks: ``--steps`` (timed
    steps, default 3), ``--warmup`` (untimed first steps, default 1),
    ``--device``, ``--amp`` and ``--threads`` (torch intra-op threads,
    default 1)."""
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    add_device_argument(parser)
    parser.add_argument(
        '--amp',
        action='store_true',
        help='autocast as tools/train.py --amp (float16 + loss scaling on '
        'CUDA, bfloat16 on the CPU)')
    parser.add_argument('--threads', type=int, default=1)


def resolve_device(name: Optional[str]) -> str:
    """``name`` with ``None`` / ``'auto'`` resolved to ``cuda`` or ``cpu``.

    Raises:
        RuntimeError: A CUDA device is asked for but none is available.
    """
    import torch
    if name in (None, 'auto'):
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if torch.device(name).type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(f'--device {name}: this machine (torch '
                           f'{torch.__version__}) has no usable CUDA device')
    return name


def is_cuda(device) -> bool:
    """Whether ``device`` (str or torch.device) is a CUDA device."""
    import torch
    return torch.device(device).type == 'cuda'


class Clock:
    """``clock()`` -> ``(wall_s, process_cpu_s)``; on CUDA after a
    ``torch.cuda.synchronize`` so that queued kernels are counted.

    On CUDA the benchmarks report wall time; on the CPU the process's CPU
    time (all threads), which other jobs on a shared machine do not inflate
    the way they inflate wall time.

    Args:
        device (str | torch.device): The device the timed code runs on.
    """

    def __init__(self, device) -> None:
        self.device = device
        self.cuda = is_cuda(device)

    def __call__(self) -> Tuple[float, float]:
        if self.cuda:
            import torch
            torch.cuda.synchronize(self.device)
        return time.perf_counter(), time.process_time()


class PeakMemory:
    """Peak memory of the ``with`` block above the level on entry.

    On CUDA: ``torch.cuda.max_memory_allocated`` (the peak statistics are
    reset on entry) minus ``memory_allocated`` on entry; on the CPU: the
    peak resident set size minus the size on entry, sampled in a thread.
    The RSS is sampled on CUDA too (host memory).

    Attributes after the block: ``mib`` (the device's figure), ``kind``
    (``'CUDA'`` or ``'RSS'``), ``rss_mib`` (host RSS above entry) and, on
    CUDA, ``total_mib`` (``max_memory_allocated`` including what was
    allocated before the block, e.g. the model).

    Args:
        device (str | torch.device): The device of the measured code.
        interval (float): RSS sampling period in seconds. Defaults to 0.005.
    """

    def __init__(self, device, interval: float = 0.005) -> None:
        from mmwsss.utils.profiling import RSSPeak
        self.device = device
        self.cuda = is_cuda(device)
        self.kind = 'CUDA' if self.cuda else 'RSS'
        self._rss = RSSPeak(interval)
        self.mib = self.rss_mib = 0.
        self.total_mib: Optional[float] = None
        self._base = 0

    def __enter__(self) -> 'PeakMemory':
        if self.cuda:
            import torch
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        self._rss.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._rss.__exit__(*exc)
        self.rss_mib = self._rss.above_base_mib
        if self.cuda:
            import torch
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            self.mib = (peak - self._base) / 2**20
            self.total_mib = peak / 2**20
        else:
            self.mib = self.rss_mib

    @property
    def rss(self):
        """The underlying :class:`RSSPeak` (``base``, ``peak`` bytes)."""
        return self._rss


def time_train_steps(model,
                     optim_wrapper,
                     batches: Sequence,
                     warmup: int,
                     device,
                     label: str,
                     note: Optional[Callable[[object], str]] = None
                     ) -> Tuple[List[float], List[float], List[float],
                                'PeakMemory']:
    """Run ``model.train_step`` on each batch, timing the steps after the
    first ``warmup`` ones, with one progress line per step on stderr.

    Args:
        model: An mmengine model.
        optim_wrapper: Its optimizer wrapper.
        batches (Sequence): The batches, warm-up ones first.
        warmup (int): Untimed first steps.
        device: Device of the model (clock and peak memory).
        label (str): Name in the progress lines.
        note (callable, optional): Extra text of a batch's progress line.

    Returns:
        tuple: Wall and CPU seconds of the timed steps, the loss of every
        step and the :class:`PeakMemory` of the whole loop.
    """
    clock = Clock(device)
    walls, cpus, losses = [], [], []
    with PeakMemory(device) as mem:
        for i, batch in enumerate(batches):
            extra = note(batch) if note is not None else ''
            w0, c0 = clock()
            log_vars = model.train_step(batch, optim_wrapper)
            w1, c1 = clock()
            timed = i >= warmup
            if timed:
                walls.append(w1 - w0)
                cpus.append(c1 - c0)
            losses.append(float(log_vars['loss'].detach()))
            print(
                f'{label} step {i + 1}/{len(batches)}'
                f'{"" if timed else " (warm-up)"}: {w1 - w0:.2f} s wall, '
                f'{c1 - c0:.2f} s CPU, loss {losses[-1]:.3g}{extra}',
                file=sys.stderr,
                flush=True)
    return walls, cpus, losses, mem


def spawn_worker(script: str,
                 argv: Sequence[str],
                 name: str,
                 threads: Optional[int] = None,
                 quiet: bool = False) -> Dict:
    """Run ``python script *argv`` in a fresh process; return the last JSON
    line it printed to stdout.

    Args:
        script (str): The benchmark script (its own ``__file__``).
        argv (Sequence[str]): Its arguments (``--worker NAME`` included).
        name (str): The worker's name, for error messages.
        threads (int, optional): ``OMP_NUM_THREADS`` of the worker.
        quiet (bool): Capture the worker's stderr and show it only when it
            fails (default: it goes straight to this process's stderr).

    Returns:
        dict: The worker's result.

    Raises:
        RuntimeError: The worker failed or printed no JSON line.
    """
    env = dict(os.environ)
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    proc = subprocess.run([sys.executable, script, *map(str, argv)],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE if quiet else None,
                          text=True,
                          env=env)
    if proc.returncode != 0:
        if quiet:
            sys.stderr.write(proc.stdout + proc.stderr)
        raise RuntimeError(f'{name} worker of {os.path.basename(script)} '
                           f'failed (exit {proc.returncode}), see its output '
                           'above')
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    raise RuntimeError(f'{name} worker of {os.path.basename(script)} printed '
                       f'no result:\n{proc.stdout}')


def emit_result(result: Dict) -> None:
    """Print a worker's result as the JSON line :func:`spawn_worker`
    reads."""
    print(json.dumps(result), flush=True)
