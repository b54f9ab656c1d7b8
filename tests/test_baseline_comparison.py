"""Baselines in one table on the bundled images (issue 7's comparison):
CLIP-ES with its three seeders (dense CRF, threshold, SAMS), run through
configs/clip_es/clip-es_vit-b16_voc12aug.py exactly as
`tools/test.py CONFIG none` does,
then scored side by side with tools/compare_seeds.py."""
import json
import os.path as osp
import subprocess
import sys

from mmengine.config import Config
from mmengine.runner import Runner

from mmwsss.io import read_seed_png


def _clip_es_cfg(repo_root, voc_mini_root, work, seeder):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/clip_es/clip-es_vit-b16_voc12aug.py'))
    seed_dir = str(work / 'seeds')
    cfg.merge_from_dict({
        'model.clip.model_name': 'mmwsss-tiny-ViT-16',
        'model.clip.pretrained': None,
        'model.reuse_seeds_from': seed_dir,
        'test_dataloader.dataset.data_root': voc_mini_root,
        'test_dataloader.dataset.ann_file': 'ImageSets/Segmentation/train.txt',
        'test_dataloader.dataset.seg_map_fallback': [],
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_evaluator.seed_dir': seed_dir,
        'test_evaluator.out_dir': str(work),
    })
    cfg.model.seeder.cls = seeder
    cfg.work_dir = str(work)
    cfg.launcher = 'none'
    cfg.load_from = 'none'  # training-free: `tools/test.py CONFIG none`
    return cfg, seed_dir


def test_clip_es_seeders_and_comparison_table(repo_root, voc_mini_root,
                                              tmp_path, gt_mask_cache):
    seeders = {
        'CLIP-ES+CRF': dict(type='CRFSeeder'),
        'CLIP-ES': dict(type='ThresholdSeeder', bg_threshold=0.5),
        'CLIP-ES+SAMS':
        dict(type='SAMSSeeder', alpha=0.6, mask_dir=gt_mask_cache),
    }
    dirs = {}
    for name, seeder in seeders.items():
        cfg, seed_dir = _clip_es_cfg(repo_root, voc_mini_root, tmp_path / name,
                                     seeder)
        metrics = Runner.from_cfg(cfg).test()
        assert 0 <= metrics['mIoU'] <= 100
        dirs[name] = seed_dir
        seed = read_seed_png(osp.join(seed_dir, '2007_000032.png'))
        assert seed.shape == (281, 500)
        assert set(seed.ravel().tolist()) <= {0, 1, 15}  # its labels
    out = tmp_path / 'cmp'
    subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools/compare_seeds.py'), '--seeds',
        *[f'{k}={v}' for k, v in dirs.items()], '--dataset', 'voc',
        '--data-root', voc_mini_root, '--split', 'train', '--out-dir',
        str(out), '--nproc', '1'
    ],
                   check=True,
                   cwd=repo_root)
    table = (out / 'seed_comparison.md').read_text()
    for name in seeders:
        assert name in table
    report = json.loads((out / 'seed_comparison.json').read_text())
    assert len(json.dumps(report)) > 100
