"""What the commands share: mmseg's tools with mmwsss loaded, and bad
input ending a command in one line."""
import sys
from typing import Callable, List, Optional, Sequence, Tuple, Type

__all__ = ['mmseg_tool_main', 'one_line_errors']


def mmseg_tool_main(name: str, argv: Optional[Sequence[str]]) -> None:
    """Run mmseg's ``tools/<name>`` with mmwsss loaded; an ``mmwsss::``
    config name becomes the file the installed mmwsss carries.

    Args:
        name (str): ``'train.py'`` or ``'test.py'``.
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``).
    """
    from mmwsss.apis.mm_tools import run_mmseg_tool
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    run_mmseg_tool(name, args)


def one_line_errors(main: Callable[[Optional[List[str]]], object],
                    argv: Optional[List[str]],
                    errors: Tuple[Type[BaseException], ...]) -> None:
    """Run a command's ``main``; one of ``errors`` (a bad input, whose
    message names it) ends the process with ``error: <message>``.

    Args:
        main (callable): The command's ``main(argv)``.
        argv (list[str], optional): Its arguments.
        errors (tuple[type, ...]): The bad-input errors.
    """
    try:
        main(argv)
    except errors as e:
        sys.exit(f'error: {e}')
