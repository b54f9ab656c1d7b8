# Copyright (c) mmwsss contributors. All rights reserved.
"""Write an HTML report of seeds, CAMs and training.

Examples::

    # a pipeline work dir (tools/run_pipeline.py, make demo)
    python tools/report.py work_dirs/demo
    # ... with a baseline seed set beside the coarse and fine seeds
    python tools/report.py work_dirs/demo --seeds clip-es=work_dirs/clip_es
    # seed folders plus a ground-truth dataset (as tools/compare_seeds.py)
    python tools/report.py --seeds ours=DIR1 cam=DIR2 --dataset voc \\
        --out work_dirs/seed_report

Writes ``report.html`` (figures in ``report_files/`` beside it; ``--embed``
puts them in the page) and ``report.json`` (its numbers) to ``--out``
(default ``<WORK_DIR>/report``): seed quality of each seed set (the
numbers of tools/eval_seeds.py), confusion heat maps, the worst and best
images (image | CAM | seed | ground truth), training curves from mmengine's
``scalars.json``, stage times and the run's settings. CAMs are recomputed
from the work dir's seed config and phase-2 checkpoint (``--no-cams``
skips that; with seed folders, give ``--cam-config`` and
``--cam-checkpoint``).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmwsss.cli.report import (  # noqa: E402,F401
    build_inputs, main, parse_args, run)

if __name__ == '__main__':
    run()
