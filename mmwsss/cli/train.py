"""``mmwsss-train CONFIG [--work-dir DIR] [--resume] [--amp]
[--cfg-options k=v ...] [--launcher ...]``: MMSegmentation's own
``tools/train.py`` with mmwsss loaded (every mmseg argument; CONFIG may be
an ``mmwsss::`` name). The library form, returning the results as a dict,
is :func:`mmwsss.apis.stages.train`. Distributed::

    python -m torch.distributed.run --nproc_per_node GPUS \\
        -m mmwsss.cli.train CONFIG --launcher pytorch
"""
from typing import Optional, Sequence

from ._mm import mmseg_tool_main

__all__ = ['main']


def main(argv: Optional[Sequence[str]] = None) -> None:
    mmseg_tool_main('train.py', argv)


if __name__ == '__main__':
    main()
