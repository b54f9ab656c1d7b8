"""mmwsss installed, not cloned (issue 20).

The wheel is built from a copy of this repository (``pip wheel --no-deps
--no-build-isolation``) and installed non-editable into a folder of its own
(``pip install --no-deps --target``); every check then runs in a fresh
interpreter with only that folder added to the path (the clone is off
``sys.path``: ``mmwsss.__file__`` must lie in it) and from an empty
temporary directory:

- every config of ``configs/`` loads as ``mmwsss::<folder>/<file>.py`` and
  as a ``_base_`` of a user's config (chains to ``mmseg::`` included);
- the one command, ``mmwsss-pipeline``, runs every stage on a tiny folder
  made here (its stages in child processes, as a user gets them);
- a user's config that inherits stock ``mmseg::`` bases and the
  ``mmwsss::sams_tta/sams_tta_base.py`` base runs ``mmwsss-test --tta``.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Not copied into the build folder (outputs, data sets, environments).
IGNORED = ('.git', '.venv', 'venv', 'work_dirs', 'build', 'dist', '.mim',
           '__pycache__', '*.egg-info', 'VOCdevkit', 'coco', '*.pyc',
           '.pytest_cache')


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(site folder, its bin folder): the wheel installed with --target."""
    base = tmp_path_factory.mktemp('installed')
    src, dist, site = base / 'src', base / 'dist', base / 'site'
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*IGNORED))
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    subprocess.run(
        pip + ['wheel', '-q', '--no-deps', '--no-build-isolation', '-w',
               str(dist), str(src)],
        check=True, capture_output=True, cwd=str(base))
    wheels = glob.glob(str(dist / 'mmwsss-*.whl'))
    assert len(wheels) == 1, wheels
    subprocess.run(
        pip + ['install', '-q', '--no-deps', '--target', str(site),
               wheels[0]],
        check=True, capture_output=True, cwd=str(base))
    return str(site), str(site / 'bin')


@pytest.fixture
def user_dir(tmp_path):
    """An empty folder of the user's own, the current one of every run."""
    folder = tmp_path / 'my_project'
    folder.mkdir()
    return str(folder)


def _env(site):
    env = dict(os.environ, PYTHONPATH=site, OMP_NUM_THREADS='1',
               PYTHONNOUSERSITE='1')
    for var in ('MMWSSS_CLIP', 'MMWSSS_CLIP_PRETRAINED', 'MMWSSS_SAM_TYPE',
                'MMWSSS_SAM_CHECKPOINT'):
        env.pop(var, None)
    return env


def _run(cmd, site, cwd, timeout=300):
    proc = subprocess.run(cmd, cwd=cwd, env=_env(site), capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return proc.stdout


def _python(code, site, cwd, timeout=300):
    return _run([sys.executable, '-c', code], site, cwd, timeout)


def test_the_wheel_carries_configs_tools_and_commands(installed, user_dir):
    site, bin_dir = installed
    mim = osp.join(site, 'mmwsss', '.mim')
    for path in ('configs/fma/voc_prompts.py', 'configs/sams_tta/'
                 'sams_tta_base.py', 'tools/train.py', 'tools/gpu_check.py',
                 'model-index.yml', 'data/voc_mini/ImageSets'):
        assert osp.exists(osp.join(mim, path)), path
    for name in ('pipeline', 'gen-masks', 'eval-seeds', 'compare-seeds',
                 'gpu-check', 'train', 'test', 'infer'):
        assert osp.isfile(osp.join(bin_dir, f'mmwsss-{name}')), name
    out = _python(
        'import sys, mmwsss, mmwsss.apis; print(mmwsss.__file__); '
        f'print(any(p.rstrip("/") == {REPO!r} for p in sys.path))', site,
        user_dir)
    where, clone_on_path = out.split()[-2:]
    assert where.startswith(site) and clone_on_path == 'False', out


def test_every_config_loads_by_its_mmwsss_name(installed, user_dir):
    site, _ = installed
    configs = sorted(
        osp.relpath(p, osp.join(REPO, 'configs'))
        for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                           recursive=True))
    assert len(configs) > 50
    # a user's config with mmwsss and mmseg bases, in the user's folder
    with open(osp.join(user_dir, 'mine.py'), 'w') as f:
        f.write("_base_ = ['mmwsss::fma/voc_prompts.py']\n"
                "model = dict(classes=['cat', 'dog'])\n")
    # every name as the commands load it; mmengine's own resolution of
    # the scope (get_config, _base_) on a few (each costs a pkg_resources
    # scan)
    code = f'''
import json
from mmwsss.apis import load_config
from mmengine.hub import get_config
from mmengine.config import Config
bad = {{}}
for name in {configs!r}:
    try:
        load_config('mmwsss::' + name)
    except Exception as e:
        bad[name] = f'{{type(e).__name__}}: {{e}}'
for name in ('fma/voc_prompts.py', 'sams_tta/sams_tta_base.py'):
    get_config('mmwsss::' + name)
mine = Config.fromfile('mine.py')
print(json.dumps(dict(bad=bad, classes=mine.model.classes,
                      model=mine.model.type)))
'''
    res = json.loads(_python(code, site, user_dir).strip().splitlines()[-1])
    assert res['bad'] == {}
    assert res['classes'] == ['cat', 'dog']
    assert res['model'] == 'FMAPromptModel'


def test_the_one_command_from_the_installed_package(installed, user_dir,
                                                    voc_mini_root):
    """mmwsss-pipeline on a tiny folder: every stage, every number (the
    stages in this process: no interpreter start each); then the last stage
    again in a child process, as a plain run has them: the same number."""
    from _helpers import PIPELINE_TRAIN, PIPELINE_VAL, make_label_folder
    site, bin_dir = installed
    train, val = osp.join(user_dir, 'train'), osp.join(user_dir, 'val')
    make_label_folder(voc_mini_root, train, PIPELINE_TRAIN[:3], max_side=64)
    make_label_folder(voc_mini_root, val, PIPELINE_VAL[:1], max_side=64)
    with open(osp.join(user_dir, 'masks_fast.py'), 'w') as f:
        f.write("_base_ = ['mmwsss::sams/felzenszwalb.py']\n")
    t0 = time.time()
    out = _run([
        osp.join(bin_dir, 'mmwsss-pipeline'), 'train', '--val-data', 'val',
        '--work-dir', 'work', '--prompt-iters', '1', '1', '--stage2-iters',
        '1', '--mask-generator', 'masks_fast.py', '--in-process'
    ], site, user_dir, timeout=600)
    took = time.time() - t0
    assert 'RANDOM WEIGHTS' in out and 'test + SAMS TTA' in out
    with open(osp.join(user_dir, 'work', 'pipeline_results.json')) as f:
        results = json.load(f)
    assert set(results) == {
        'sam_masks', 'prompts', 'seeds', 'stage2', 'test', 'test_sams'
    }
    for stage, key in (('prompts', 'coarse_seed_mIoU'),
                       ('seeds', 'seed_mIoU'), ('test', 'val_mIoU'),
                       ('test_sams', 'val_mIoU')):
        assert 0 <= results[stage][key] <= 100, (stage, key)
        assert osp.isfile(results[stage]['results_file'])
    # the same inputs (a rerun with others is refused: run_inputs.json)
    _run([
        osp.join(bin_dir, 'mmwsss-pipeline'), 'train', '--val-data', 'val',
        '--work-dir', 'work', '--prompt-iters', '1', '1', '--stage2-iters',
        '1', '--mask-generator', 'masks_fast.py', '--force', 'test_sams'
    ], site, user_dir, timeout=600)
    with open(osp.join(user_dir, 'work', 'pipeline_results.json')) as f:
        again = json.load(f)['test_sams']
    assert again['val_mIoU'] == results['test_sams']['val_mIoU']
    stages = ', '.join(f'{s} {r["seconds"]}' for s, r in results.items())
    print(f'\nmmwsss-pipeline from the installed package: {took:.1f} s '
          f'(stage seconds: {stages})')


#: A user's config: a stock mmseg model and runtime, the mmwsss SAMS-TTA
#: base; the model shrunk as configs/sams_tta/fcn_r18-tiny_voc-mini_sams-tta.py
USER_SAMS_CONFIG = '''
_base_ = ['mmseg::_base_/models/fcn_r50-d8.py',
          'mmseg::_base_/default_runtime.py',
          'mmwsss::sams_tta/sams_tta_base.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3, ), norm_cfg=norm_cfg),
    decode_head=dict(in_channels=64, in_index=0, channels=16, num_convs=1,
                     concat_input=False, num_classes=21, norm_cfg=norm_cfg),
    auxiliary_head=None)
tta_model = _base_.sams_tta_model  # SAMS instead of SegTTAModel
tta_model.update(mask_dir={mask_dir!r})
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True)
         for r in (0.5, 1.0)],
        [dict(type='RandomFlip', prob=p, direction='horizontal')
         for p in (0., 1.)],
        [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])
]
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalVOCDataset', data_root={data_root!r},
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')]))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
'''

MAKE_CHECKPOINT = '''
import torch, mmwsss.registration
from mmengine.config import Config
from mmseg.registry import MODELS
from mmengine.registry import init_default_scope
init_default_scope('mmseg')
cfg = Config.fromfile('my_sams.py')
assert cfg.tta_model.type == 'SAMSTTAModel', cfg.tta_model
torch.manual_seed(0)
model = MODELS.build(cfg.model)
with torch.no_grad():  # labels that vary inside the quasi-superpixels
    model.decode_head.conv_seg.weight.mul_(300)
torch.save({'state_dict': model.state_dict(), 'meta': {}}, 'tiny.pth')
'''


def test_sams_tta_for_a_users_own_model(installed, user_dir, voc_mini_root,
                                        gt_mask_cache):
    """A config of the user's own (stock mmseg model + the mmwsss:: SAMS
    base) runs ``mmwsss-test --tta`` from the installed package."""
    site, bin_dir = installed
    with open(osp.join(user_dir, 'my_sams.py'), 'w') as f:
        f.write(
            USER_SAMS_CONFIG.format(
                mask_dir=gt_mask_cache, data_root=voc_mini_root))
    _python(MAKE_CHECKPOINT, site, user_dir)
    _run([
        osp.join(bin_dir, 'mmwsss-test'), 'my_sams.py', 'tiny.pth', '--tta',
        '--work-dir', 'work', '--out', 'preds'
    ], site, user_dir)
    stems = open(osp.join(voc_mini_root, 'ImageSets', 'Segmentation',
                          'val.txt')).read().split()
    for stem in stems:
        pred = np.asarray(Image.open(osp.join(user_dir, 'preds',
                                              stem + '.png')))
        gt = np.asarray(Image.open(osp.join(voc_mini_root,
                                            'SegmentationClass',
                                            stem + '.png')))
        assert pred.shape == gt.shape
        # SAMS: each GT region (one quasi-superpixel) carries one label
        for c in set(np.unique(gt).tolist()) - {255}:
            assert len(np.unique(pred[gt == c])) == 1, (stem, c)
