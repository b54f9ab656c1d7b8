# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/infer.py IMG_OR_DIR --classes dog,cat ...``: a thin wrapper
over ``mmwsss-infer`` (:mod:`mmwsss.cli.infer`; the work is done by
:class:`mmwsss.apis.inferencer.WSSSInferencer`)."""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.cli.infer import console, main, parse_args  # noqa: F401,E402

if __name__ == '__main__':
    console()
