"""Logging through mmengine's current logger, with once-per-run messages.

All mmwsss modules log through :func:`mmengine.logging.print_log` with
``logger='current'`` (the runner's MMLogger, or the root one outside a
run), so every line carries mmengine's format. Messages that the same
condition would repeat -- per image, per forward pass, per model built --
go through :func:`print_log_once`.
"""
import logging
from typing import Hashable, Set

from mmengine.logging import print_log

__all__ = ['print_log_once']

_SAID: Set[Hashable] = set()


def print_log_once(msg: str,
                   key: Hashable = None,
                   level: int = logging.WARNING) -> bool:
    """Log ``msg`` with mmengine's current logger the first time ``key``
    is seen in this process; later calls with the same key are silent.

    Args:
        msg (str): The message.
        key (Hashable, optional): What makes two messages "the same".
            Defaults to ``msg`` itself.
        level (int): Logging level. Defaults to ``logging.WARNING``.

    Returns:
        bool: Whether the message was logged now.
    """
    key = msg if key is None else key
    if key in _SAID:
        return False
    _SAID.add(key)
    print_log(msg, logger='current', level=level)
    return True
