"""``mmwsss-test CONFIG CHECKPOINT [--work-dir DIR] [--out DIR] [--tta]
[--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]``:
MMSegmentation's own ``tools/test.py`` with mmwsss loaded (every mmseg
argument; CONFIG may be an ``mmwsss::`` name; CHECKPOINT ``none`` for the
training-free baselines). The library form, returning the metrics as a
dict, is :func:`mmwsss.apis.stages.test`. Distributed::

    python -m torch.distributed.run --nproc_per_node GPUS \\
        -m mmwsss.cli.test CONFIG CHECKPOINT --launcher pytorch
"""
from typing import Optional, Sequence

from ._mm import mmseg_tool_main

__all__ = ['main']


def main(argv: Optional[Sequence[str]] = None) -> None:
    mmseg_tool_main('test.py', argv)


if __name__ == '__main__':
    main()
