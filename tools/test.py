# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/test.py CONFIG ...``: MMSegmentation's own test.py, with
mmwsss registered. Same arguments as mmseg (see ``--help``)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmwsss.apis.mm_tools import run_mmseg_tool  # noqa: E402

if __name__ == '__main__':
    run_mmseg_tool('test.py')
