"""mmwsss.compat: what importing mmwsss adds to the stack (and that it
changes nothing else), and safe, checked checkpoint loading."""
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmwsss import compat

TINY_CAM = 'configs/cam/cam_r18-tiny_1xb2-20iter_voc-mini-128x128.py'
HAS_SAFE_GLOBALS = hasattr(torch.serialization,
                           'get_unsafe_globals_in_checkpoint')
needs_safe_globals = pytest.mark.skipif(
    not HAS_SAFE_GLOBALS, reason='torch < 2.6: no weights_only default')


def test_mmcv_ext_fallback_raises_only_when_called():
    import mmseg.models  # noqa: F401  (imports mmcv._ext through mmcv.ops)
    if not compat.mmcv_ext_is_fallback():
        pytest.skip('full mmcv with compiled ops is installed')
    from mmcv.ops import nms
    with pytest.raises(compat.MMCVOpUnavailableError, match='nms'):
        nms(torch.rand(3, 4), torch.rand(3), 0.5)
    # mmengine asks pkgutil for a loader; the stand-in must answer "none".
    from mmengine.utils.dl_utils import mmcv_full_available
    assert mmcv_full_available() is False


def test_pure_pytorch_segmentor_builds_and_runs():
    from mmseg.registry import MODELS
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c', depth=18, base_channels=8, stem_channels=8),
            decode_head=dict(
                type='FCNHead',
                in_channels=64,
                in_index=3,
                channels=8,
                num_classes=3)))
    model.eval()
    out = model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert out.shape == (1, 3, 1, 1)  # ResNetV1c: stride 32


# ------------------------------------------------- import has no side effects
_SNAPSHOT = r'''
import importlib.util, json, sys, types, warnings
warnings.simplefilter('ignore')
spec = importlib.util.spec_from_file_location('_probe_ext', sys.argv[1])
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)
probe.install_mmcv_ext_fallback()  # the documented addition, if mmcv-lite

import torch, mmengine, mmcv, mmseg, mmdet  # noqa
import mmengine.runner, mmcv.ops, mmcv.cnn, mmcv.transforms  # noqa
import mmseg.models, mmseg.datasets, mmseg.evaluation, mmseg.engine  # noqa
import mmdet.models, mmdet.datasets, mmdet.evaluation, mmdet.engine  # noqa
from mmengine.registry import Registry
from mmengine.runner.checkpoint import CheckpointLoader

PKGS = {'torch', 'mmengine', 'mmcv', 'mmseg', 'mmdet'}
SKIP = {'mmcv._ext'}  # the stand-in itself (creates its ops lazily)


def snapshot():
    snap, regs = {}, {}
    for name, mod in list(sys.modules.items()):
        if (mod is None or name in SKIP or name.split('.')[0] not in PKGS):
            continue
        for attr, val in list(vars(mod).items()):
            if isinstance(val, Registry):
                regs[id(val)] = val
            if not (callable(val) or isinstance(val, types.ModuleType)):
                continue
            snap[(name, attr)] = val
            if isinstance(val, type) and val.__module__ == name:
                for k, v in list(vars(val).items()):
                    if callable(v) or isinstance(
                            v, (staticmethod, classmethod, property)):
                        snap[(name, attr, k)] = v
    for reg in regs.values():
        for k, v in reg._module_dict.items():
            snap[('registry', reg.scope, reg.name, k)] = v
    for prefix, fn in CheckpointLoader._schemes.items():
        snap[('checkpoint-scheme', prefix)] = fn
    return snap


before = snapshot()
import mmwsss.registration  # noqa
after = snapshot()
changed = [repr(k) for k, v in before.items()
           if k not in after or after[k] is not v]
added = []
for k, v in after.items():
    if k in before or isinstance(v, types.ModuleType):
        continue  # a submodule imported later is no change
    owner = getattr(v, '__module__', None) or ''
    if not owner.startswith('mmwsss'):
        added.append(repr(k))

# control: the same comparison sees a replaced loader, function, registry
# entry and method
import mmcv.ops.multi_scale_deform_attn as msda
from mmengine.logging import HistoryBuffer
from mmseg.registry import MODELS
CheckpointLoader._schemes[''] = print
msda.MultiScaleDeformableAttnFunction = object
MODELS._module_dict['EncoderDecoder'] = object
HistoryBuffer.mean = print
patched = snapshot()
control = [repr(k) for k, v in before.items() if patched.get(k) is not v]
print(json.dumps(dict(n=len(before), changed=changed, added=added,
                      control=control)))
'''


def test_import_changes_no_function_or_registry_entry(repo_root, tmp_path):
    """Identities of every function, class, method and registry entry of
    torch/mmengine/mmcv/mmseg/mmdet before and after ``import mmwsss``;
    mmwsss may only add entries that are its own."""
    import json
    script = tmp_path / 'snapshot.py'
    script.write_text(_SNAPSHOT)
    env = dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable,
        str(script),
        osp.join(repo_root, 'mmwsss', 'compat', 'mmcv_ext.py')
    ],
                          cwd=str(tmp_path),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out['n'] > 10000  # the stack was really imported
    assert out['changed'] == []
    # e.g. ('registry', 'mmseg', 'model', 'FMAPromptModel') is fine; the
    # checkpoint scheme 'none$' is mmwsss's own function
    assert out['added'] == []
    assert set(out['control']) >= set([
        "('checkpoint-scheme', '')",
        "('mmcv.ops.multi_scale_deform_attn', "
        "'MultiScaleDeformableAttnFunction')",
        "('registry', 'mmseg', 'model', 'EncoderDecoder')",
        "('mmengine.logging.history_buffer', 'HistoryBuffer', 'mean')",
    ])  # (+ the methods of the replaced class)


# ------------------------------------------------------ real checkpoints
def _tiny_cam_cfg(repo_root: str, work_dir: str, iters: int) -> Config:
    cfg = Config.fromfile(osp.join(repo_root, TINY_CAM))
    cfg.merge_from_dict({
        'train_cfg.max_iters': iters,
        'param_scheduler.0.end': iters,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'randomness': dict(seed=0),
    })
    for ds in (cfg.train_dataloader.dataset, cfg.test_dataloader.dataset):
        ds.data_root = osp.join(repo_root, 'data', 'voc_mini')
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.visualizer.name = f'test_compat_{osp.basename(work_dir)}'
    return cfg


@needs_safe_globals
def test_runner_checkpoint_loads_weights_only_and_resumes(
        repo_root, tmp_path, monkeypatch):
    """A checkpoint of mmengine's Runner (the tiny CAM config, as
    tools/train.py writes it) loads with torch.load(weights_only=True) after
    import mmwsss -- not before -- also when moved out of its work dir, and
    --resume from it works with weights_only forced on."""
    work = str(tmp_path / 'work')
    Runner.from_cfg(_tiny_cam_cfg(repo_root, work, 2)).train()
    moved = str(tmp_path / 'elsewhere' / 'cam.pth')
    os.makedirs(osp.dirname(moved))
    shutil.move(osp.join(work, 'iter_2.pth'), moved)
    os.remove(osp.join(work, 'last_checkpoint'))

    assert torch.serialization.get_unsafe_globals_in_checkpoint(moved) == []
    ckpt = torch.load(moved, weights_only=True)
    assert {
        'meta', 'state_dict', 'optimizer', 'message_hub', 'param_schedulers'
    } <= set(ckpt)
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert type(loss).__name__ == 'HistoryBuffer'
    assert len(loss.data[0]) == 2 and loss.mean() > 0

    # without mmwsss's safe globals torch refuses the same file
    proc = subprocess.run([
        sys.executable, '-c', 'import sys, torch; '
        'torch.load(sys.argv[1], weights_only=True)', moved
    ],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode != 0 and 'UnpicklingError' in proc.stderr

    monkeypatch.setenv('TORCH_FORCE_WEIGHTS_ONLY_LOAD', '1')
    cfg = _tiny_cam_cfg(repo_root, str(tmp_path / 'resumed'), 3)
    cfg.resume, cfg.load_from = True, moved
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 3
    hub = runner.message_hub.get_scalar('train/loss')
    assert len(hub.data[0]) == 3  # two resumed values + one new


@needs_safe_globals
def test_getattr_only_for_history_buffer_methods(tmp_path):
    from mmengine.logging import HistoryBuffer
    path = str(tmp_path / 'init.pth')
    torch.save({'f': HistoryBuffer.__init__}, path)
    with pytest.raises(pickle.UnpicklingError, match="'__init__'"):
        torch.load(path, weights_only=True)
    with pytest.raises(compat.UnsafeCheckpointError) as err:
        compat.load_checkpoint_file(path)
    assert "'__init__'" in _one_line(err.value, path)
    path = str(tmp_path / 'mean.pth')
    torch.save({'f': HistoryBuffer.mean}, path)
    assert torch.load(path, weights_only=True)['f'] is HistoryBuffer.mean


# ------------------------------------------------------- clear one-liners
def _ckpt(tmp_path, name='model.pth') -> str:
    path = str(tmp_path / name)
    torch.save({'state_dict': {'w': torch.ones(2)}}, path)
    return path


def _one_line(err: BaseException, path: str) -> str:
    msg = str(err)
    assert '\n' not in msg and path in msg, msg
    return msg


def test_plain_weights_load_anywhere(tmp_path):
    out = compat.load_checkpoint_file(_ckpt(tmp_path))
    assert torch.equal(out['state_dict']['w'], torch.ones(2))


def test_truncated_checkpoint(tmp_path):
    path = _ckpt(tmp_path)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(compat.CheckpointFileError) as err:
        compat.load_checkpoint_file(path)
    assert 'truncated' in _one_line(err.value, path)


def test_text_file_as_checkpoint(tmp_path):
    path = str(tmp_path / 'notes.pth')
    with open(path, 'w') as f:
        f.write('https://example.com/model.pth\nsecond line\n')
    with pytest.raises(compat.CheckpointFileError) as err:
        compat.load_checkpoint_file(path)
    msg = _one_line(err.value, path)
    assert 'text file' in msg and 'https://example.com/model.pth' in msg
    assert 'Python objects' not in msg


def test_empty_and_binary_files(tmp_path):
    empty = str(tmp_path / 'empty.pth')
    open(empty, 'wb').close()
    with pytest.raises(compat.CheckpointFileError, match='empty'):
        compat.load_checkpoint_file(empty)
    junk = str(tmp_path / 'junk.pth')
    with open(junk, 'wb') as f:
        f.write(bytes(range(256)))
    with pytest.raises(compat.CheckpointFileError, match='unknown format'):
        compat.load_checkpoint_file(junk)


def test_missing_checkpoint_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        compat.load_checkpoint_file(osp.join(tmp_path, 'nope.pth'))


@needs_safe_globals
def test_untrusted_types_refused_with_how_to_allow(tmp_path, monkeypatch):
    path = str(tmp_path / 'foreign.pth')
    torch.save({'fn': os.getcwd}, path)
    with pytest.raises(compat.UnsafeCheckpointError) as err:
        compat.load_checkpoint_file(path)
    msg = _one_line(err.value, path)
    assert 'getcwd' in msg and 'add_safe_globals' in msg
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1' in msg
    assert isinstance(err.value, pickle.UnpicklingError)
    # the legacy (non-zip) format is refused the same way
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'fn': os.getcwd}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(compat.UnsafeCheckpointError, match='getcwd'):
        compat.load_checkpoint_file(legacy)
    # a type the user trusts, allowed on purpose either way the message says
    import argparse
    path = str(tmp_path / 'namespace.pth')
    torch.save({'args': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(compat.UnsafeCheckpointError, match='Namespace'):
        compat.load_checkpoint_file(path)
    with torch.serialization.safe_globals([argparse.Namespace]):
        assert compat.load_checkpoint_file(path)['args'].lr == 0.1
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    assert compat.load_checkpoint_file(path)['args'].lr == 0.1


def test_checked_loading_is_scoped_to_the_block(tmp_path):
    path = str(tmp_path / 'notes.pth')
    with open(path, 'w') as f:
        f.write('not a checkpoint\n')
    original = CheckpointLoader._schemes['']
    with compat.checked_checkpoint_loading():
        with pytest.raises(compat.CheckpointFileError, match='text file'):
            _load_checkpoint(path)
        good = _load_checkpoint(_ckpt(tmp_path))
        assert torch.equal(good['state_dict']['w'], torch.ones(2))
    assert CheckpointLoader._schemes[''] is original
    with pytest.raises(Exception) as err:  # mmengine's own error again
        _load_checkpoint(path)
    assert not isinstance(err.value, compat.CheckpointFileError)


def test_tool_reports_bad_checkpoint_in_one_line(repo_root, tmp_path):
    """tools/test.py with a truncated .pth: exit 1, last line names it."""
    path = _ckpt(tmp_path, 'iter_2.pth')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:100])
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'),
        osp.join(repo_root, TINY_CAM), path, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        'test_dataloader.dataset.indices=1'
    ],
                          cwd=repo_root,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('CheckpointFileError: ') and path in last, last
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]


def test_none_is_an_empty_checkpoint_only_by_its_bare_name(tmp_path):
    assert _load_checkpoint(compat.NO_CHECKPOINT) == {
        'state_dict': {},
        'meta': {}
    }
    with pytest.raises(FileNotFoundError):
        _load_checkpoint(str(tmp_path / 'none.pth'))
