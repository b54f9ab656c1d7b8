"""Peak-memory measurement shared by the benchmark scripts."""
import os
import threading
import time

__all__ = ['rss_bytes', 'RSSPeak']


def rss_bytes() -> int:
    """Resident set size of this process in bytes (Linux ``/proc``)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class RSSPeak:
    """Peak resident set size of this process, sampled in a thread.

    Use as a context manager; afterwards ``base`` is the size on entry,
    ``peak`` the largest size seen, ``above_base`` / ``above_base_mib``
    their difference.

    Args:
        interval (float): Sampling period in seconds. Defaults to 0.005.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> 'RSSPeak':
        self.base = self.peak = rss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def above_base(self) -> int:
        """Peak minus the size on entry, in bytes."""
        return self.peak - self.base

    @property
    def above_base_mib(self) -> float:
        """Peak minus the size on entry, in MiB."""
        return self.above_base / 2**20
