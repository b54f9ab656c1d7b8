"""tools/run_pipeline.py (mmwsss-pipeline) end to end on a 3-class folder
made from the bundled images (classes renamed and ordered unlike VOC's),
tiny random models, the shortest schedules, with every log line that names
a metric reworded (the numbers travel as data; tests/conftest.py); and its
one-line errors on bad input."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
import run_pipeline  # noqa: E402

from _helpers import PIPELINE_CLASSES as CLASSES  # noqa: E402
from _helpers import PIPELINE_TRAIN as TRAIN  # noqa: E402
from _helpers import PIPELINE_VAL as VAL  # noqa: E402
from _helpers import make_label_folder as make_folder  # noqa: E402


def test_one_command_on_a_custom_folder(tiny_pipeline, capsys):
    # the session's one pipeline run (tests/conftest.py), which carries a
    # stage metric plugged in without touching the stages (seed_files)
    train, val = tiny_pipeline['train'], tiny_pipeline['val']
    work, argv = tiny_pipeline['work'], tiny_pipeline['argv']
    results, out = tiny_pipeline['results'], tiny_pipeline['out']
    assert results['seeds']['seed_files'] == len(TRAIN)
    assert 'RANDOM WEIGHTS' in out and 'test + SAMS TTA' in out
    assert set(results) == {
        'sam_masks', 'prompts', 'seeds', 'stage2', 'test', 'test_sams'
    }
    assert results['sam_masks']['images'] == len(TRAIN) + len(VAL)
    # 3 of 5 training images have masks: seeds scored; val has all
    for value in (results['prompts']['coarse_seed_mIoU'],
                  results['seeds']['seed_mIoU'], results['test']['val_mIoU'],
                  results['test_sams']['val_mIoU']):
        assert value is not None and 0 <= value <= 100
    # the demo figures (issue 14) are recorded for every run
    for stage, key in (('prompts', 'coarse_seed_fg_fraction'),
                       ('seeds', 'seed_fg_fraction'),
                       ('test_sams', 'tta_changed_fraction')):
        assert 0 <= results[stage][key] <= 1, (stage, key)
    assert results['prompts']['phase2_cal_loss_last'] >= 0
    # the logs say it otherwise, the numbers are those of the stages' own
    # JSON reports beside their outputs
    logs = {
        name: open(osp.join(work, 'logs', name + '.log')).read()
        for name in ('prompts', 'seeds', 'test', 'test_sams')
    }
    assert 'mean-IoU' in logs['test'] and 'mIoU' not in logs['test']
    assert 'mean-IoU' in logs['seeds'] and 'mIoU' not in logs['seeds']
    assert 'cal-loss' in logs['prompts'] and 'loss_cal' not in logs['prompts']
    for stage in ('sam_masks', 'prompts', 'seeds', 'stage2', 'test',
                  'test_sams'):
        assert osp.isfile(results[stage]['results_file']), stage
    with open(osp.join(work, 'seed_scores.json')) as f:
        scores = json.load(f)  # SeedMetric's report
    assert results['seeds']['seed_mIoU'] == round(scores['mIoU'], 2)
    for stage in ('test', 'test_sams'):
        with open(results[stage]['results_file']) as f:
            assert results[stage]['val_mIoU'] == json.load(
                f)['metrics']['mIoU']
    with open(results['prompts']['results_file']) as f:
        prompts = json.load(f)
    assert results['prompts']['coarse_seed_mIoU'] == pytest.approx(
        100 * prompts['coarse_seeds']['kept']['scores']['mIoU'])
    assert prompts['iterations'] == 2
    for name in ('predictions', 'predictions_sams'):
        assert sorted(os.listdir(osp.join(work, name))) == sorted(
            i + '.png' for i in VAL)
    # seeds: the folder's class indices (0 bg, 1..3), one per image, with
    # an overlay each
    for i in TRAIN:
        seed = np.array(Image.open(osp.join(work, 'seeds', i + '.png')))
        assert set(np.unique(seed)) <= {0, 1, 2, 3}
        assert osp.isfile(osp.join(work, 'overlays', i + '.jpg')) or \
            osp.isfile(osp.join(work, 'overlays', i + '.png'))
        assert seed.shape == Image.open(osp.join(train, 'images',
                                                 i + '.jpg')).size[::-1]
    # every stage's full config is in the work dir and names the data once
    cfg = Config.fromfile(osp.join(work, 'configs', 'prompts.py'))
    assert cfg.model.classes == list(CLASSES)
    assert cfg.train_dataloader.dataset.data_root == train
    assert cfg.train_cfg.coarse_seeds.dataloader is None
    seeds_cfg = Config.fromfile(osp.join(work, 'configs', 'seeds.py'))
    assert seeds_cfg.test_dataloader.dataset.data_root == train
    stage2 = Config.fromfile(osp.join(work, 'configs', 'stage2.py'))
    assert stage2.model.decode_head.num_classes == len(CLASSES) + 1
    assert stage2.test_dataloader.dataset.data_root == val
    assert osp.isfile(osp.join(work, 'configs', 'sam_masks.py'))
    # a rerun resumes: every stage is done
    again = run_pipeline.build_runner(
        run_pipeline.parse_args(argv), in_process=True).run()
    assert again == results
    assert 'done before' in capsys.readouterr().out


def _error(argv):
    with pytest.raises(SystemExit) as e:
        run_pipeline.build_runner(run_pipeline.parse_args(argv))
    msg = str(e.value)
    assert msg.startswith('error: ') and '\n' not in msg
    return msg


def test_bad_input_one_line_each(voc_mini_root, tmp_path):
    good = str(tmp_path / 'good')
    make_folder(voc_mini_root, good, TRAIN[:2])
    # a label naming a class not in the list
    with open(osp.join(good, 'labels.json')) as f:
        labels = json.load(f)
    bad = dict(labels, **{TRAIN[0]: ['person', 'dog']})
    with open(osp.join(good, 'labels.json'), 'w') as f:
        json.dump(bad, f)
    assert "'dog'" in _error([good]) and TRAIN[0] in _error([good])
    # an image missing
    bad = dict(labels, ghost=['car'])
    with open(osp.join(good, 'labels.json'), 'w') as f:
        json.dump(bad, f)
    assert 'ghost' in _error([good])
    with open(osp.join(good, 'labels.json'), 'w') as f:
        json.dump(labels, f)
    # duplicated class names
    assert '"car"' in _error([good, '--classes', 'person,car,car'])
    # masks with other sizes
    mask = osp.join(good, 'masks', TRAIN[1] + '.png')
    Image.new('L', (7, 5)).save(mask)
    assert mask in _error([good]) and '7x5' in _error([good])
    # an empty folder, a missing one
    empty = tmp_path / 'empty'
    (empty / 'images').mkdir(parents=True)
    (empty / 'labels.json').write_text('{"a": ["car"]}')
    (empty / 'classes.txt').write_text('car\n')
    assert 'no images' in _error([str(empty)])
    assert 'not found' in _error([str(tmp_path / 'nothing')])


def test_example_config_names_the_data_once(voc_mini_root, tmp_path):
    from mmseg.registry import DATASETS, MODELS

    from mmwsss.engine.derived_data import (fill_coarse_dataloader,
                                            fill_seg_dataloader)
    folder = str(tmp_path / 'my_images')
    make_folder(voc_mini_root, folder, TRAIN[:2])
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'fma', 'custom_folder_example.py'))
    cfg.train_dataloader.dataset.data_root = folder
    cfg.train_dataloader.dataset.classes = list(CLASSES)
    train = cfg.train_dataloader.to_dict()
    coarse = fill_coarse_dataloader(cfg.train_cfg.coarse_seeds.dataloader,
                                    train)
    seg = fill_seg_dataloader(cfg.train_cfg.seg_dataloader.to_dict(), train)
    for ds_cfg in (train['dataset'], coarse['dataset'],
                   seg['dataset']['dataset']):
        ds = DATASETS.build(ds_cfg)
        assert ds.metainfo['classes'] == ('background', ) + tuple(CLASSES)
        assert len(ds) == 2
    cfg.model.classes = list(CLASSES)
    cfg.model.clip = dict(
        type='FrozenCLIP', model_name='mmwsss-tiny-ViT-16', pretrained=None)
    model = MODELS.build(cfg.model)
    assert model.class_names == [
        'person with clothes,people,human', 'car', 'plane'
    ]


def test_default_mask_generator_and_demo_check(capsys):
    """Without a SAM checkpoint the pipeline uses the weight-free generator;
    the demo names each figure that is 0 (an error unless --allow-zero)."""
    from mmwsss.apis.stage_configs import (SAM_GENERATOR,
                                           WEIGHT_FREE_GENERATOR, Weights,
                                           default_mask_generator)
    assert default_mask_generator(Weights()) == WEIGHT_FREE_GENERATOR
    assert default_mask_generator(Weights(
        sam_type='vit_h', sam_checkpoint='sam.pth')) == SAM_GENERATOR
    import demo
    good = dict(
        prompts=dict(coarse_seed_fg_fraction=0.4, phase2_cal_loss_last=1e-3),
        seeds=dict(seed_fg_fraction=0.1),
        test_sams=dict(tta_changed_fraction=0.02))
    assert demo.check_nonzero(good, strict=True)
    bad = dict(good, test_sams=dict(tta_changed_fraction=0.0))
    assert not demo.check_nonzero(bad, strict=False)
    assert 'test_sams.tta_changed_fraction = 0.0' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='seeds.seed_fg_fraction = None'):
        demo.check_nonzero(dict(bad, seeds={}))


def test_phase2_cal_loss_from_the_stage_else_scalars(tmp_path):
    """The last CAL loss is the prompt stage's own figure; a result
    without it (an older run) falls back to mmengine's scalars.json."""
    from types import SimpleNamespace

    from mmwsss.apis.pipeline import _prompt_stats
    from mmwsss.io import write_seed_png
    work = tmp_path / 'run'
    coarse = work / 'prompts' / 'coarse_seeds'
    coarse.mkdir(parents=True)
    write_seed_png(str(coarse / 'a.png'), np.array([[0, 1], [1, 1]],
                                                   np.uint8))
    runner = SimpleNamespace(work=str(work), weclip=False)
    stats = _prompt_stats(runner, dict(phase2_cal_loss_last=0.03))
    assert stats == dict(
        coarse_seed_fg_fraction=0.75, phase2_cal_loss_last=0.03)
    assert _prompt_stats(runner, {})['phase2_cal_loss_last'] is None
    vis = work / 'prompts' / '20261130_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        '{"loss_cal_fg": 0.00001, "loss_cal_bg": 0.00002, "step": 10}\n')
    assert _prompt_stats(runner, {})['phase2_cal_loss_last'] == \
        pytest.approx(3e-5)
