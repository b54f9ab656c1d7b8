"""What ``mmwsss-train`` and ``mmwsss-test`` share."""
import sys
from typing import List, Optional, Sequence

__all__ = ['mmseg_tool_main']


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
