"""Shared fixtures: the bundled VOC images, mmseg default scope, threads."""
import os.path as osp

import pytest
import torch

import mmwsss  # noqa: F401  (stack fixes + registries)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
VOC_MINI = osp.join(REPO_ROOT, 'data', 'voc_mini')

torch.set_num_threads(2)


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
