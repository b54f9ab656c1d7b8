"""tools/gen_sam_masks.py: files, resume, overwrite, bad caches, failures,
sharding, subprocess and 2-process (gloo) runs, on voc_mini with tiny SAM."""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

import mmcv
import numpy as np
import pytest
from mmengine.config import Config

from mmseg.registry import MODELS
from mmwsss.models.sams import (SAMMaskRecord, load_masks, mask_cache_path,
                                save_masks)

IDS = ['2007_000032', 'dlv3p_d1182fc_0008', 'dlv3p_3597d9a_0120']


def load_tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'gen_sam_masks_tool', osp.join(repo_root, 'tools', 'gen_sam_masks.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tool(repo_root):
    return load_tool(repo_root)


def write_config(tmp_path, repo_root, voc_mini_root, ids):
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(ids) + '\n')
    base = osp.join(repo_root, 'configs', 'sams', 'voc_mini_tiny.py')
    cfg = tmp_path / 'gen_cfg.py'
    cfg.write_text(f"""
_base_ = [{base!r}]
sam_generator = dict(points_per_side=4, crop_n_layers=0, device='cpu')
dataset = dict(
    _delete_=True,
    type='PascalVOCDataset',
    data_root={voc_mini_root!r},
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file={str(split)!r},
    pipeline=[])
mask_dir = {str(tmp_path / 'masks')!r}
""")
    return str(cfg)


def file_ids(paths):
    return [(os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in paths]


def test_shard_indices(tool):
    shards = [tool.shard_indices(11, r, 3) for r in range(3)]
    assert shards[1] == [1, 4, 7, 10]
    assert sorted(sum(shards, [])) == list(range(11))
    with pytest.raises(ValueError):
        tool.shard_indices(5, 3, 3)


def test_cache_paths_reject_shared_stems(tool, tmp_path):
    paths = tool.cache_paths(['a/x.jpg', 'b/y.jpg'], str(tmp_path))
    assert paths == [str(tmp_path / 'x.npz'), str(tmp_path / 'y.npz')]
    with pytest.raises(ValueError, match='a/x.jpg and b/x.png'):
        tool.cache_paths(['a/x.jpg', 'b/x.png'], str(tmp_path))


def test_main_resume_overwrite_and_bad_caches(tool, tmp_path, repo_root,
                                              voc_mini_root, capsys):
    cfg_path = write_config(tmp_path, repo_root, voc_mini_root, IDS)
    argv = [cfg_path, '--work-dir', str(tmp_path / 'wd')]
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert '3 generated, 0 skipped' in out and 'Masks per image' in out
    cfg = Config.fromfile(cfg_path)
    fingerprint = MODELS.build(cfg.sam_generator).fingerprint
    paths = [
        mask_cache_path(cfg.mask_dir, f'{voc_mini_root}/JPEGImages/{i}.jpg')
        for i in IDS
    ]
    records = [load_masks(p, fingerprint) for p in paths]
    sizes = [
        mmcv.imread(f'{voc_mini_root}/JPEGImages/{i}.jpg').shape[:2]
        for i in IDS
    ]
    assert [r.image_size for r in records] == sizes
    assert any(f.endswith('.log') for f in os.listdir(tmp_path / 'wd'))

    # rerun: everything valid, nothing rewritten
    before = file_ids(paths)
    assert tool.main(argv) == 0
    assert '0 generated, 3 skipped' in capsys.readouterr().out
    assert file_ids(paths) == before

    # --overwrite: every file rewritten with the same content
    assert tool.main(argv + ['--overwrite']) == 0
    assert '3 generated, 0 skipped' in capsys.readouterr().out
    after = file_ids(paths)
    assert all(a != b for a, b in zip(after, before))
    for p, r in zip(paths, records):
        np.testing.assert_array_equal(load_masks(p).counts, r.counts)

    # a corrupt file and a foreign fingerprint are regenerated
    with open(paths[0], 'wb') as f:
        f.write(b'not a zip')
    foreign = SAMMaskRecord.from_dense(
        np.ones((1, ) + sizes[1], bool), [2], fingerprint='other-config')
    save_masks(paths[1], foreign)
    untouched = file_ids(paths[2:])
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert '2 generated, 1 skipped' in out
    assert 'unreadable' in out and 'another SAM config' in out
    for p in paths[:2]:
        load_masks(p, fingerprint)
    assert file_ids(paths[2:]) == untouched


def test_failing_image_reported_run_goes_on(tmp_path, repo_root,
                                            voc_mini_root):
    ids = [IDS[0], 'no_such_image', IDS[1]]
    cfg_path = write_config(tmp_path, repo_root, voc_mini_root, ids)
    proc = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'gen_sam_masks.py'), cfg_path,
        '--work-dir',
        str(tmp_path / 'wd')
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert 'no_such_image.jpg' in out and 'Failed on' in out
    assert '2 generated, 0 skipped (valid cache), 1 failed' in out
    masks = tmp_path / 'masks'
    assert sorted(os.listdir(masks)) == [f'{IDS[0]}.npz', f'{IDS[1]}.npz']


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_run_gloo(tmp_path, repo_root, voc_mini_root):
    """tools/dist_gen_sam_masks.sh with 2 CPU processes (gloo)."""
    cfg_path = write_config(tmp_path, repo_root, voc_mini_root, IDS)
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PORT=str(_free_port()),
        PYTHON=sys.executable)
    proc = subprocess.run([
        'bash',
        osp.join(repo_root, 'tools', 'dist_gen_sam_masks.sh'), cfg_path, '2',
        '--work-dir',
        str(tmp_path / 'wd')
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert '2 process(es); rank 0 takes 2' in out  # images 0 and 2
    # the summary gathers both ranks' images
    assert '3 generated, 0 skipped' in out
    assert sorted(os.listdir(tmp_path / 'masks')) == sorted(f'{i}.npz'
                                                            for i in IDS)


def test_sams_configs(repo_root):
    """Every config parses; the base config is the generator's defaults."""
    import glob
    import inspect

    from mmwsss.models.sams import SAMQuasiSuperpixelGenerator
    params = inspect.signature(SAMQuasiSuperpixelGenerator).parameters
    folder = osp.join(repo_root, 'configs', 'sams')
    base = Config.fromfile(osp.join(folder, 'sam_vit_h.py')).sam_generator
    for key, value in base.items():
        if key not in ('type', 'checkpoint'):
            default = params[key].default
            if isinstance(default, tuple):
                value, default = list(value), list(default)
            assert value == default, key
    for path in glob.glob(osp.join(folder, '*.py')):
        cfg = Config.fromfile(path)
        # SAM, or (issue 16) the SAM-HQ / SAM 2 members of the family
        assert cfg.sam_generator.type in (
            'SAMQuasiSuperpixelGenerator', 'SAMHQQuasiSuperpixelGenerator',
            'SAM2QuasiSuperpixelGenerator'), path
        if not osp.basename(path).startswith('sam_'):
            assert cfg.dataset.type and cfg.mask_dir, path
