"""configs/_base_/datasets: they load, and their datasets build."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import DATASETS

CFG_DIR = osp.join('configs', '_base_', 'datasets')


def test_voc_mini_config_builds_and_loads(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)  # data_root 'data/voc_mini' is relative
    cfg = Config.fromfile(osp.join(CFG_DIR, 'voc_mini_wsss.py'))
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert len(loader.dataset) == 10
    batch = next(iter(loader))
    assert len(batch['inputs']) == 2
    for ds in batch['data_samples']:
        assert ds.img_labels and 'gt_sem_seg' not in ds  # no GT in training
        assert max(ds.img_shape) <= 224
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == 5
    sample = val[0]['data_samples']
    assert sample.img_labels == [1] and sample.img_id == '2007_000033'
    assert sample.gt_sem_seg.data.shape[1:] == (366, 500)
    seeds = DATASETS.build(cfg.train_eval_dataloader.dataset)
    assert len(seeds) == 10 and seeds.test_mode
    assert cfg.val_evaluator['type'] == 'IoUMetric'


@pytest.mark.parametrize('name,dtype,n',
                         [('voc_wsss.py', 'VOCImageLabelDataset', 21),
                          ('coco_wsss.py', 'COCOImageLabelDataset', 81)])
def test_full_dataset_configs_construct(repo_root, name, dtype, n):
    cfg = Config.fromfile(osp.join(repo_root, CFG_DIR, name))
    for key in ('train_dataloader', 'train_eval_dataloader', 'val_dataloader',
                'test_dataloader'):
        ds_cfg = cfg[key]['dataset']
        assert ds_cfg['type'] == dtype
        # the data is not here: construct without loading the annotations
        ds = DATASETS.build(dict(ds_cfg, lazy_init=True))
        assert len(ds.metainfo['classes']) == n
    assert cfg.train_dataloader.dataset.pipeline[-1]['type'] == \
        'PackWSSSInputs'
    assert not any(t['type'] == 'LoadAnnotations'
                   for t in cfg.train_dataloader.dataset.pipeline)
    assert cfg.val_dataloader.dataset.pipeline[1]['type'] == 'LoadAnnotations'
