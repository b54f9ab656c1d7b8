"""Shared fixtures: the bundled VOC images, mmseg default scope, threads."""
import glob
import os.path as osp
import sys

import numpy as np

import pytest
import torch

import mmwsss.registration  # noqa: F401  (stack additions + registries)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
VOC_MINI = osp.join(REPO_ROOT, 'data', 'voc_mini')

# The shared builders of tests/_helpers.py, imported as `_helpers` (appended:
# never shadows an installed module).
if osp.dirname(osp.abspath(__file__)) not in sys.path:
    sys.path.append(osp.dirname(osp.abspath(__file__)))

# One intra-op thread: the tiny test models run ~3x faster than with two
# spinning OpenMP threads on the shared 2-core CI machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _mmseg_scope():
    """Build from mmseg's registries, as configs with default_scope do."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    yield


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def voc_mini_root() -> str:
    """Root of the bundled real VOC 2012 images (VOC folder layout)."""
    return VOC_MINI


@pytest.fixture(scope='session')
def gt_mask_cache(tmp_path_factory) -> str:
    """A SAM mask cache of the 15 bundled images made from their GT: one
    'whole' mask per GT class region (void pixels uncovered), so SAMS has
    realistic quasi-superpixels without SAM weights."""
    from PIL import Image

    from mmwsss.io import mask_cache_path, SAMMaskRecord, save_masks
    out = str(tmp_path_factory.mktemp('gt_sam_masks'))
    for gt_file in sorted(
            glob.glob(osp.join(VOC_MINI, 'SegmentationClass', '*.png'))):
        gt = np.array(Image.open(gt_file))
        ids = [c for c in np.unique(gt) if c != 255]
        masks = np.stack([gt == c for c in ids])
        record = SAMMaskRecord.from_dense(
            masks, [2] * len(ids), fingerprint='gt-regions')
        save_masks(mask_cache_path(out, gt_file), record)
    return out


def _reword_metric_log_lines(monkeypatch) -> None:
    """Every log record reads ``mean-IoU`` for ``mIoU`` (and ``cal-loss``
    for ``loss_cal``): a reworded log line may not lose a number."""
    import logging
    plain = logging.LogRecord.getMessage

    def reworded(record):
        return plain(record).replace('mIoU', 'mean-IoU').replace(
            'loss_cal', 'cal-loss')

    monkeypatch.setattr(logging.LogRecord, 'getMessage', reworded)


@pytest.fixture(scope='session')
def tiny_pipeline(voc_mini_root, tmp_path_factory) -> dict:
    """tools/run_pipeline.py once per session, in process: every stage on a
    3-class folder of 5 shrunk training images (3 with masks) and 2 test
    images, tiny random models, the shortest schedules (1 + 1 prompt
    iterations, 1 stage-2 iteration), a 4x4-point tiny SAM.

    The run carries a stage metric plugged in without touching the stages
    (``seeds.seed_files``: tests/apis/test_run_pipeline.py checks it), and
    its log lines read ``mean-IoU`` for ``mIoU`` and ``cal-loss`` for
    ``loss_cal`` (:func:`_reword_metric_log_lines`): the pipeline reports
    the same numbers, which travel as data.
    Tests read the work dir; they must not change what is in it.

    Returns:
        dict: ``work`` (work dir), ``train``, ``val`` (data folders),
        ``argv`` (tools/run_pipeline.py arguments), ``results`` (the
        runner's results), ``out`` (what the run printed).
    """
    import contextlib
    import io
    import os

    from _helpers import (PIPELINE_TRAIN, PIPELINE_VAL, fast_mask_generator,
                          make_label_folder)
    from mmwsss.apis.pipeline import STAGE_METRICS
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
    import run_pipeline
    root = str(tmp_path_factory.mktemp('tiny_pipeline'))
    train, val = osp.join(root, 'train'), osp.join(root, 'val')
    make_label_folder(
        VOC_MINI, train, PIPELINE_TRAIN, with_masks=PIPELINE_TRAIN[:3])
    make_label_folder(VOC_MINI, val, PIPELINE_VAL)
    argv = [
        train, '--val-data', val, '--work-dir',
        osp.join(root, 'work'), '--prompt-iters', '1', '1',
        '--stage2-iters', '1', '--mask-generator',
        fast_mask_generator(root)
    ]

    def count_seeds(runner, result):
        return dict(seed_files=len(os.listdir(runner.seeds)))

    STAGE_METRICS['seeds'].append(count_seeds)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), \
                pytest.MonkeyPatch.context() as patch:
            _reword_metric_log_lines(patch)
            runner = run_pipeline.build_runner(
                run_pipeline.parse_args(argv), in_process=True)
            results = runner.run()
    finally:
        STAGE_METRICS['seeds'].remove(count_seeds)
    return dict(
        work=runner.work,
        train=train,
        val=val,
        argv=argv,
        results=results,
        out=out.getvalue())
