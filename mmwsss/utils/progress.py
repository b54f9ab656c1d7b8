"""Progress of long loops that stays line-based in logs.

mmengine's :class:`~mmengine.utils.ProgressBar` redraws one line with
``\\r``; in a captured log (a batch job, ``| tee``, CI) that becomes one huge
line. :class:`Progress` draws that bar only on a terminal and otherwise
reports as mmengine's runner does: a log line every few percent,
``title [done/total] it/s, elapsed, ETA``, through
:func:`mmengine.logging.print_log`.
"""
import sys
import time
from typing import IO, Optional, Union

from mmengine.logging import MMLogger, print_log
from mmengine.utils import ProgressBar

__all__ = ['Progress']


class Progress:
    """A progress bar on a terminal, log lines elsewhere.

    Args:
        total (int): Number of items.
        title (str): What is counted, starts each log line.
        file (IO, optional): Stream of the terminal bar; defaults to
            ``sys.stdout``. The bar is drawn only if it is a TTY.
        num_lines (int): Log lines over the whole loop when not on a
            terminal (plus the last item). Defaults to 20 (every 5%).
        logger (str | MMLogger): Logger of the log lines (``print_log``).
            Defaults to ``'current'``.

    Example:
        >>> with Progress(len(items), 'images') as progress:
        ...     for item in items:
        ...         work(item)
        ...         progress.update()
    """

    def __init__(self,
                 total: int,
                 title: str = 'progress',
                 file: Optional[IO] = None,
                 num_lines: int = 20,
                 logger: Union[str, MMLogger] = 'current') -> None:
        self.total = int(total)
        self.title = title
        self.file = sys.stdout if file is None else file
        self.logger = logger
        self.done = 0
        self.step = max(1, -(-self.total // max(1, int(num_lines))))
        self.start = time.perf_counter()
        isatty = getattr(self.file, 'isatty', None)
        self.bar = (
            ProgressBar(self.total, file=self.file)
            if self.total > 0 and callable(isatty) and isatty() else None)

    def update(self, num: int = 1) -> None:
        """Count ``num`` more finished items."""
        if num <= 0:
            return
        before, self.done = self.done, self.done + num
        if self.bar is not None:
            self.bar.update(num)
        elif self.done // self.step > before // self.step or \
                self.done == self.total:
            print_log(self._line(), logger=self.logger)

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else float('inf')
        eta = (self.total - self.done) / rate if rate > 0 else 0.
        return (f'{self.title} [{self.done}/{self.total}] {rate:.2f} it/s, '
                f'elapsed {_hms(elapsed)}, eta {_hms(eta)}')

    def close(self) -> None:
        """End the terminal bar's line."""
        if self.bar is not None:
            self.file.write('\n')
            self.file.flush()
            self.bar = None

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'
