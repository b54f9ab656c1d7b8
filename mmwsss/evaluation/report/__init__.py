"""An HTML report of seeds, CAMs and training (``tools/report.py``).

From a pipeline work dir (``tools/run_pipeline.py`` / ``make demo``) or from
seed folders plus a ground-truth dataset, :func:`write_report` writes a
self-contained ``report.html`` (figures in ``report_files/`` beside it, or
embedded; no network needed): seed quality of each seed set (scores from
:func:`~mmwsss.evaluation.score_seed_dirs`, the seed-scoring tool's
function), confusion heat maps, the worst / best images as strips (image |
CAM | seed | ground truth), training curves from mmengine's scalar logs,
stage times and the run's settings.
"""
from .data import (pixel_shares, rank_images, read_scalars, report_data,
                   score_seed_sets, training_curves)
from .inputs import RESULTS_NAMES, ReportInputs, inputs_from_work_dir
from .writer import FILES_DIR, REPORT_NAME, write_report

__all__ = [
    'write_report', 'ReportInputs', 'inputs_from_work_dir', 'report_data',
    'score_seed_sets', 'pixel_shares', 'rank_images', 'read_scalars',
    'training_curves', 'REPORT_NAME', 'FILES_DIR', 'RESULTS_NAMES'
]
