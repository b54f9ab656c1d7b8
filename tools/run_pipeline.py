"""``python tools/run_pipeline.py DATA_DIR [--work-dir DIR] ...``: a thin
wrapper over ``mmwsss-pipeline`` (:mod:`mmwsss.cli.pipeline`, which says
what it does; the stages are :mod:`mmwsss.apis.stages` functions)."""
import os.path as osp
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO, 'mmwsss')):  # a clone: its own code
    sys.path.insert(0, _REPO)

from mmwsss.cli.pipeline import (STAGES, SAM_GENERATOR,  # noqa: F401,E402
                                 WEIGHT_FREE_GENERATOR, build_runner, main,
                                 parse_args, write_run_report)

if __name__ == '__main__':
    main()
