# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/compare_seeds.py --dataset voc --seeds NAME=DIR ...``: a
thin wrapper over ``mmwsss-compare-seeds`` (:mod:`mmwsss.cli.compare_seeds`;
the work is done by :func:`mmwsss.apis.seed_scoring.compare_seed_folders`).
"""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.cli.compare_seeds import console, main, parse_args  # noqa: F401,E402,E501

if __name__ == '__main__':
    console()
