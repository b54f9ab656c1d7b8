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
from mmwsss.io import load_masks, mask_cache_path, SAMMaskRecord, save_masks

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


TINY_SAM = "sam_generator = dict(points_per_side=4, crop_n_layers=0, device='cpu')\n"


def write_config(tmp_path,
                 repo_root,
                 voc_mini_root,
                 ids,
                 base='voc_mini_tiny.py',
                 generator=TINY_SAM,
                 name='gen_cfg.py'):
    """A gen_sam_masks config on the bundled images ``ids``.

    Args:
        tmp_path (Path): Folder of the split, config and masks.
        repo_root (str): The repository.
        voc_mini_root (str): ``data/voc_mini``.
        ids (list[str]): The image ids of the split.
        base (str): The parent in configs/sams/.
        generator (str): Config lines that change the generator.
        name (str): File name of the config.

    Returns:
        str: The config path.
    """
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(ids) + '\n')
    base = osp.join(repo_root, 'configs', 'sams', base)
    cfg = tmp_path / name
    cfg.write_text(f"""
_base_ = [{base!r}]
{generator}dataset = dict(
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

    # a corrupt file is regenerated
    with open(paths[0], 'wb') as f:
        f.write(b'not a zip')
    untouched = file_ids(paths[1:])
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert '1 generated, 2 skipped' in out
    assert f'Regenerating {paths[0]}' in out and 'unreadable' in out
    load_masks(paths[0], fingerprint)
    assert file_ids(paths[1:]) == untouched
    # Changed by issue 12 (it used to regenerate them silently): masks of
    # another SAM config in mask_dir are refused unless --overwrite.
    foreign = SAMMaskRecord.from_dense(
        np.ones((1, ) + sizes[1], bool), [2], fingerprint='other-config')
    save_masks(paths[1], foreign)
    before = file_ids(paths)
    assert tool.main(argv) == 2
    out = capsys.readouterr().out
    assert (f'mask_dir {cfg.mask_dir} holds SAM masks of another config: '
            "fingerprint 'other-config' (1 files") in out, out
    assert f"this config's fingerprint is {fingerprint!r}" in out
    assert '--overwrite' in out and 'generated' not in out
    assert file_ids(paths) == before
    assert tool.main(argv + ['--overwrite']) == 0
    out = capsys.readouterr().out
    assert 'replacing 1 masks of another SAM config' in out
    assert '3 generated' in out and '\r' not in out
    for p in paths:
        load_masks(p, fingerprint)


def test_empty_split_is_one_clear_line(tool, tmp_path, repo_root,
                                       voc_mini_root, capsys):
    """Issue 12: an empty split of PascalVOCDataset died with numpy's
    'need at least one array to concatenate'."""
    cfg_path = write_config(tmp_path, repo_root, voc_mini_root, [])
    for text in ('', '\n'):  # no line / a blank line (an image named '')
        (tmp_path / 'split.txt').write_text(text)
        assert tool.main([cfg_path, '--work-dir', str(tmp_path / 'wd')]) == 2
        out = capsys.readouterr().out
        assert (f'{cfg_path}: no images to process (empty split file '
                f'dataset.ann_file = {tmp_path / "split.txt"}).') in out, out
        assert 'concatenate' not in out
    # a ConcatDataset names the empty part
    base = Config.fromfile(cfg_path)
    part = dict(base.dataset)
    other = tmp_path / 'other.txt'
    other.write_text(IDS[0] + '\n')
    cfg2 = tmp_path / 'concat.py'
    cfg2.write_text(f"""
_base_ = [{cfg_path!r}]
dataset = dict(_delete_=True, type='ConcatDataset', datasets=[
    {dict(part, ann_file=str(other))!r}, {part!r}])
""")
    assert tool.main([str(cfg2), '--work-dir', str(tmp_path / 'wd')]) == 2
    out = capsys.readouterr().out
    assert 'dataset.datasets[1].ann_file = ' in out, out


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
    # issue 14 adds the weight-free generator's configs (*felzenszwalb*.py;
    # felzenszwalb.py is generator-only, like sam_*.py)
    for path in glob.glob(osp.join(folder, '*.py')):
        cfg = Config.fromfile(path)
        # SAM, or the SAM-HQ / SAM 2 members of the family (issue 16), or
        # the weight-free generator (issue 14)
        name = osp.basename(path)
        assert cfg.sam_generator.type == (
            'FelzenszwalbQuasiSuperpixelGenerator' if 'felzenszwalb' in name
            else cfg.sam_generator.type) and cfg.sam_generator.type in (
                'SAMQuasiSuperpixelGenerator', 'SAMHQQuasiSuperpixelGenerator',
                'SAM2QuasiSuperpixelGenerator',
                'FelzenszwalbQuasiSuperpixelGenerator'), name
        if not (name.startswith('sam_') or name == 'felzenszwalb.py'):
            assert cfg.dataset.type and cfg.mask_dir, path


def test_felzenszwalb_generator_through_the_tool(tool, tmp_path, repo_root,
                                                 voc_mini_root, capsys):
    """The weight-free generator in place of SAM, on 2 bundled images."""
    ids = IDS[:2]
    cfg_path = write_config(
        tmp_path,
        repo_root,
        voc_mini_root,
        ids,
        base='voc_mini_felzenszwalb.py',
        generator='',
        name='fz_cfg.py')
    argv = [str(cfg_path), '--work-dir', str(tmp_path / 'wd')]
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    assert 'FelzenszwalbQuasiSuperpixelGenerator' in out
    assert '2 generated, 0 skipped' in out
    fingerprint = MODELS.build(
        Config.fromfile(str(cfg_path)).sam_generator).fingerprint
    assert fingerprint.startswith('felzenszwalb-')
    for i in ids:
        img = f'{voc_mini_root}/JPEGImages/{i}.jpg'
        record = load_masks(
            mask_cache_path(str(tmp_path / 'masks'), img), fingerprint,
            mmcv.imread(img).shape[:2])
        levels = np.bincount(record.levels, minlength=3)
        assert levels[2] >= 3 and levels.sum() >= 10, (i, levels)
    assert tool.main(argv) == 0
    assert '0 generated, 2 skipped' in capsys.readouterr().out
