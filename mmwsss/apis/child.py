"""Run one stage function in a fresh process, its results as JSON:

``python -m mmwsss.apis.child STAGE KWARGS_JSON RESULTS_JSON``

STAGE is a name of :data:`~mmwsss.apis.stages.STAGE_FUNCTIONS`; the keyword
arguments are read from KWARGS_JSON and the returned dict is written to
RESULTS_JSON (atomically). The pipeline runs its stages this way where
isolation helps (memory given back, no state shared between stages); what
a stage reports travels as that file, never as log text. Exit code 0, or
the stage's ``exit_code`` when it reports one (SAM masks: 1 when an image
failed, 2 when the run was refused).
"""
import json
import sys
from typing import List, Optional

__all__ = ['main']


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 3:
        raise SystemExit('usage: python -m mmwsss.apis.child STAGE '
                         'KWARGS_JSON RESULTS_JSON')
    stage, kwargs_file, results_file = args
    from mmwsss.apis.stages import call_stage
    from mmwsss.io import dump_json_atomic
    with open(kwargs_file) as f:
        kwargs = json.load(f)
    results = call_stage(stage, kwargs)
    dump_json_atomic(results, results_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
