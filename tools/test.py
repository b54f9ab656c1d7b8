# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/test.py CONFIG ...``: MMSegmentation's own test.py, with
mmwsss registered (the same as ``mmwsss-test``, :mod:`mmwsss.cli.test`).
Same arguments as mmseg (see ``--help``); CONFIG may be an
``mmwsss::`` name."""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.cli.test import main  # noqa: E402

if __name__ == '__main__':
    main()
