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
