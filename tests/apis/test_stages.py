"""The pieces of issue 20 that need no run: config names (``mmwsss::``,
``mmseg::``, files), the ``mmwsss`` config scope and registries, results as
JSON-safe data, and the stage table. The stages themselves run in
tests/apis/test_run_pipeline.py (in-process) and
tests/test_installed_package.py (from the installed wheel)."""
import json
import os.path as osp

import numpy as np
import pytest
import torch


def test_config_names(repo_root, tmp_path, monkeypatch):
    from mmwsss.utils.package_files import (is_source_tree, package_root,
                                            resolve_config)
    assert is_source_tree() and package_root() == repo_root
    assert resolve_config('mmwsss::fma/voc_prompts.py') == osp.join(
        repo_root, 'configs', 'fma', 'voc_prompts.py')
    mmseg_cfg = resolve_config('mmseg::_base_/default_runtime.py')
    assert osp.isfile(mmseg_cfg) and '.mim' in mmseg_cfg
    # a relative path: the current folder first, else the package's root
    monkeypatch.chdir(tmp_path)
    assert resolve_config('configs/sams/sam_tiny.py') == osp.join(
        repo_root, 'configs', 'sams', 'sam_tiny.py')
    (tmp_path / 'mine.py').write_text('a = 1\n')
    assert resolve_config('mine.py') == str(tmp_path / 'mine.py')


def test_tool_arguments_resolve_the_config_name(repo_root):
    from mmwsss.apis.mm_tools import config_argument
    args = config_argument(['mmwsss::fma/voc_seeds.py', 'ckpt.pth', '--tta'])
    assert args == [
        osp.join(repo_root, 'configs', 'fma', 'voc_seeds.py'), 'ckpt.pth',
        '--tta'
    ]
    assert config_argument(['my.py', '--amp']) == ['my.py', '--amp']


def test_config_scope_is_an_addition():
    from mmengine.config.utils import MODULE2PACKAGE

    from mmwsss.compat import add_config_scope
    add_config_scope()
    add_config_scope()  # idempotent
    assert MODULE2PACKAGE['mmwsss'] == 'mmwsss'
    assert MODULE2PACKAGE['mmseg'] == 'mmsegmentation'
    MODULE2PACKAGE['mmwsss'] = 'another'
    try:
        with pytest.raises(RuntimeError, match='another'):
            add_config_scope()
    finally:
        MODULE2PACKAGE['mmwsss'] = 'mmwsss'


def test_components_of_an_mmwsss_base_build_in_the_mmwsss_scope():
    """mmengine marks the dicts of an ``mmwsss::`` base ``_scope_='mmwsss'``
    and builds them from that scope's registries: mmseg's, via children."""
    from mmengine.registry import MODELS as ROOT
    from mmseg.registry import MODELS

    import mmwsss.registry as reg
    assert reg.MODELS.parent is MODELS and reg.MODELS.scope == 'mmwsss'
    model = ROOT.build(
        dict(
            type='SAMSTTAModel',
            _scope_='mmwsss',
            mask_dir='x',
            module=dict(type='EncoderDecoder', _scope_='mmseg',
                        backbone=dict(type='ResNetV1c', depth=18,
                                      stem_channels=8, base_channels=8,
                                      out_indices=(3, )),
                        decode_head=dict(type='FCNHead', in_channels=64,
                                         in_index=0, channels=8,
                                         num_convs=1, num_classes=3))))
    assert type(model).__name__ == 'SAMSTTAModel'


def test_results_are_json_safe(tmp_path):
    from mmwsss.apis.stages import write_results
    res = write_results(
        dict(
            a=float('nan'),
            b=np.float32(1.5),
            c=np.arange(3),
            d=torch.tensor([0.25]),
            e=(1, 'x', None),
            f={1: np.int64(2)}), str(tmp_path / 'r.json'))
    assert res == dict(a=None, b=1.5, c=[0, 1, 2], d=[0.25], e=[1, 'x', None],
                       f={'1': 2})
    with open(tmp_path / 'r.json') as f:
        assert json.load(f) == res


def test_stage_table():
    from mmwsss.apis.stages import STAGE_FUNCTIONS, call_stage
    assert set(STAGE_FUNCTIONS) == {
        'sam_masks', 'prompt_learning', 'seeds', 'score_seeds', 'train',
        'test'
    }
    with pytest.raises(KeyError, match='no stage'):
        call_stage('nothing', {})
