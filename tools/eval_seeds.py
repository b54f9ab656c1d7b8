# Copyright (c) mmwsss contributors. All rights reserved.
"""``python tools/eval_seeds.py SEED_DIR --dataset voc|coco|CONFIG ...``: a
thin wrapper over ``mmwsss-eval-seeds`` (:mod:`mmwsss.cli.eval_seeds`; the
work is done by :func:`mmwsss.apis.seed_scoring.score_seed_folder`)."""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.apis.seed_scoring import write_overlays  # noqa: F401,E402
from mmwsss.cli.eval_seeds import console, main, parse_args  # noqa: F401,E402

if __name__ == '__main__':
    console()
