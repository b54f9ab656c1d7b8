# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/gen_sam_masks.py CONFIG [--overwrite] [--work-dir DIR]
[--cfg-options k=v ...] [--launcher ...]``: a thin wrapper over
``mmwsss-gen-masks`` (:mod:`mmwsss.cli.gen_sam_masks`; the work is done by
:func:`mmwsss.apis.sam_masks.generate_sam_masks`)."""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.apis.sam_masks import *  # noqa: F401,F403,E402
from mmwsss.cli.gen_sam_masks import console, main, parse_args  # noqa: F401,E402,E501

if __name__ == '__main__':
    console()
