"""WSSSInferencer and mmwsss-infer on tiny random models (issue 21)."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from PIL import Image

from mmwsss.apis.inferencer import InferenceError, WSSSInferencer

SEEDS_DEMO = 'configs/fma/voc_mini_seeds_demo.py'
PROMPTS_DEMO = 'configs/fma/voc_mini_prompts_demo.py'
IMG = '2007_000032'


@pytest.fixture(scope='module')
def fma_checkpoint(repo_root, tmp_path_factory):
    """Prompts of a tiny training run: 2 iterations of phase 1."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    work = str(tmp_path_factory.mktemp('fma_prompts'))
    cfg = Config.fromfile(osp.join(repo_root, PROMPTS_DEMO))
    cfg.work_dir = work
    cfg.launcher = 'none'
    cfg.train_cfg.cls_iters = 2
    cfg.train_cfg.seg_iters = 0
    cfg.param_scheduler = cfg.param_scheduler[:1]
    cfg.param_scheduler[0].update(end=2, warmup_iters=1)
    cfg.default_hooks.checkpoint.update(interval=2)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.data_root = osp.join(repo_root, 'data',
                                                      'voc_mini')
    Runner.from_cfg(cfg).train()
    ckpt = osp.join(work, 'iter_2.pth')
    assert osp.isfile(ckpt)
    return ckpt


def _seed_cfg_options(repo_root, mask_dir, split, seed_dir):
    return {
        'model.seeder.seg.mask_dir': mask_dir,
        'model.seeder.cls.mask_dir': mask_dir,
        'test_dataloader.dataset.data_root': osp.join(repo_root, 'data',
                                                      'voc_mini'),
        'test_dataloader.dataset.ann_file': split,
        'test_evaluator.seed_dir': seed_dir,
        'test_evaluator.out_dir': osp.dirname(seed_dir),
        'model.reuse_seeds_from': seed_dir,
    }


@pytest.fixture(scope='module')
def clip_es():
    return WSSSInferencer(classes=['dog', 'cat'], show_progress=False)


def test_clip_es_path_array_list_folder(clip_es, voc_mini_root, tmp_path):
    path = osp.join(voc_mini_root, 'JPEGImages', IMG + '.jpg')
    (r, ) = clip_es(path)
    h, w = np.array(Image.open(path)).shape[:2]
    assert r['cams'].shape == (3, h, w) and r['caa_cams'].shape == (3, h, w)
    assert r['seed'].shape == (h, w) and r['seed'].dtype == np.uint8
    assert set(np.unique(r['seed'])) <= {0, 1, 2}
    assert r['classes'] == ['background', 'dog', 'cat']
    assert r['vis'].shape[0] >= h and r['vis'].shape[2] == 3
    assert clip_es.random_weights
    arr = np.array(Image.open(path).convert('RGB'))
    (ra, ) = clip_es(arr)
    np.testing.assert_array_equal(ra['seed'], r['seed'])
    folder = tmp_path / 'imgs'
    folder.mkdir()
    shutil.copy(path, folder / 'a.jpg')
    Image.fromarray(arr[:40, :90]).save(folder / 'b.png')
    (folder / 'notes.txt').write_text('not an image')
    out = clip_es(str(folder))
    assert [o['name'] for o in out] == ['a', 'b']
    np.testing.assert_array_equal(out[0]['seed'], r['seed'])
    both = clip_es([path, arr[:40, :90]])
    assert both[1]['seed'].shape == (40, 90)


def test_clip_es_class_order_and_odd_images(clip_es, tmp_path):
    rng = np.random.default_rng(0)
    # greyscale, RGBA, palette, 16-bit, tiny, elongated
    imgs = {
        'grey.png': Image.fromarray(rng.integers(0, 255, (30, 50), np.uint8)),
        'rgba.png': Image.fromarray(
            rng.integers(0, 255, (33, 20, 4), np.uint8), 'RGBA'),
        'pal.png': Image.fromarray(
            rng.integers(0, 255, (25, 25, 3), np.uint8)).convert('P'),
        'deep.png': Image.fromarray(
            rng.integers(0, 65535, (20, 31), np.uint16)),
        'tiny.png': Image.fromarray(rng.integers(0, 255, (3, 5, 3),
                                                 np.uint8)),
        'long.png': Image.fromarray(
            rng.integers(0, 255, (8, 400, 3), np.uint8)),
    }
    for name, im in imgs.items():
        im.save(tmp_path / name)
    for name, im in imgs.items():
        (r, ) = clip_es(str(tmp_path / name), classes=['cat', 'dog', 'bird'])
        assert r['seed'].shape == (im.height, im.width), name
        assert r['cams'].shape == (4, im.height, im.width), name
    with pytest.raises(InferenceError, match='at least'):
        clip_es(np.zeros((1, 30, 3), np.uint8))


def test_bad_inputs(clip_es, tmp_path):
    with pytest.raises(InferenceError, match='image not found'):
        clip_es(str(tmp_path / 'missing.jpg'))
    (tmp_path / 'x.jpg').write_text('not an image')
    with pytest.raises(InferenceError, match='not an image'):
        clip_es(str(tmp_path / 'x.jpg'))
    with pytest.raises(InferenceError, match='repeat'):
        clip_es(np.zeros((20, 20, 3), np.uint8), classes=['a', 'a'])
    with pytest.raises(InferenceError, match='array'):
        clip_es(np.zeros((4, 4, 4, 4)))


def test_fma_checkpoint_matches_seed_stage(repo_root, fma_checkpoint,
                                           gt_mask_cache, tmp_path):
    from mmwsss.apis import stages
    from mmwsss.io import read_seed_png
    split = tmp_path / 'one.txt'
    split.write_text(IMG + '\n')
    seed_dir = str(tmp_path / 'stage' / 'seeds')
    opts = _seed_cfg_options(repo_root, gt_mask_cache, str(split), seed_dir)
    stages.seeds(
        osp.join(repo_root, SEEDS_DEMO), fma_checkpoint,
        work_dir=str(tmp_path / 'stage'), cfg_options=opts)
    want = read_seed_png(osp.join(seed_dir, IMG + '.png'))

    inf = WSSSInferencer(
        osp.join(repo_root, SEEDS_DEMO), fma_checkpoint,
        cfg_options={
            'model.seeder.seg.mask_dir': gt_mask_cache,
            'model.seeder.cls.mask_dir': gt_mask_cache
        },
        show_progress=False)
    trained = inf.trained_classes
    assert len(trained) == 20
    from mmwsss.class_names import get_dataset_info  # noqa: F401
    gt = np.array(
        Image.open(
            osp.join(repo_root, 'data', 'voc_mini', 'SegmentationClass',
                     IMG + '.png')))
    present = [trained[c - 1] for c in np.unique(gt) if 0 < c < 255]
    path = osp.join(repo_root, 'data', 'voc_mini', 'JPEGImages', IMG + '.jpg')
    (r, ) = inf(path, labels=present)
    np.testing.assert_array_equal(r['seed'], want)
    assert r['sams_seed'] is r['seed']
    # a subset of the classes, in another order: indices follow the order
    order = list(reversed(present)) + ['cat']
    (r2, ) = inf(path, classes=order, labels=present)
    remap = np.zeros(256, np.uint8)
    for i, c in enumerate(order):
        if c in present:
            remap[trained.index(c) + 1] = i + 1
    np.testing.assert_array_equal(r2['seed'], remap[want])
    # no labels: the cls prompts' prediction
    (r3, ) = inf(path, threshold=0.0)
    assert len(r3['labels']) >= 1
    with pytest.raises(InferenceError, match='trained classes: aeroplane'):
        inf(path, classes=['dog', 'unicorn'])
    with pytest.raises(InferenceError, match='checkpoint'):
        WSSSInferencer(osp.join(repo_root, SEEDS_DEMO))


def test_fma_masks_missing_then_generated(repo_root, fma_checkpoint,
                                          tmp_path):
    empty = str(tmp_path / 'empty_cache')
    opts = {'model.seeder.seg.mask_dir': empty}
    path = osp.join(repo_root, 'data', 'voc_mini', 'JPEGImages', IMG + '.jpg')
    inf = WSSSInferencer(
        osp.join(repo_root, SEEDS_DEMO), fma_checkpoint, cfg_options=opts,
        show_progress=False)
    with pytest.raises(InferenceError, match='--sam-generator'):
        inf(path, labels=['aeroplane'])
    cache = str(tmp_path / 'filled')
    inf = WSSSInferencer(
        osp.join(repo_root, SEEDS_DEMO), fma_checkpoint, cfg_options=opts,
        sam_generator='mmwsss::sams/felzenszwalb.py', mask_dir=cache,
        show_progress=False)
    (r, ) = inf(path, classes=['person', 'aeroplane'],
                labels=['aeroplane', 'person'])
    assert r['sams_seed'] is r['seed'] and r['seed'].shape == (281, 500)
    assert set(np.unique(r['seed'])) <= {0, 1, 2}
    assert os.listdir(cache) == [IMG + '.npz']


def test_sams_on_the_fly_fills_the_cache(voc_mini_root, tmp_path):
    cache = str(tmp_path / 'cache')
    inf = WSSSInferencer(
        classes=['person'],
        sam_generator='mmwsss::sams/felzenszwalb.py',
        mask_dir=cache,
        show_progress=False)
    path = osp.join(voc_mini_root, 'JPEGImages', IMG + '.jpg')
    (r, ) = inf(path)
    assert r['sams_seed'].shape == r['seed'].shape
    assert os.listdir(cache)


def test_cli_writes_resumes_and_scores(voc_mini_root, tmp_path, capsys):
    from mmwsss.cli.infer import main
    folder = tmp_path / 'imgs'
    gt_dir = tmp_path / 'gt'
    folder.mkdir()
    gt_dir.mkdir()
    for stem in (IMG, '2007_000033'):
        shutil.copy(
            osp.join(voc_mini_root, 'JPEGImages', stem + '.jpg'), folder)
        gt = np.array(
            Image.open(
                osp.join(voc_mini_root, 'SegmentationClass', stem + '.png')))
        # VOC aeroplane (1) -> our class 1
        Image.fromarray(np.where(gt == 255, 255,
                                 (gt == 1).astype(np.uint8))).save(
                                     gt_dir / (stem + '.png'))
    out = tmp_path / 'out'
    res = main([str(folder), '--classes', 'aeroplane', '--out', str(out),
                '--gt', str(gt_dir)])
    text = capsys.readouterr().out
    assert 'RANDOM' in text and 'mIoU' in text
    assert res['done'] == 2 and res['skipped'] == 0
    assert 0 <= res['mIoU'] <= 100
    assert sorted(os.listdir(out)) == ['2007_000032.png', '2007_000033.png',
                                       'overlays']
    seed = np.array(Image.open(out / (IMG + '.png')))
    assert seed.shape == (281, 500) and seed.max() <= 1
    res = main([str(folder), '--classes', 'aeroplane', '--out', str(out)])
    assert res['done'] == 0 and res['skipped'] == 2


def test_cli_one_line_errors(tmp_path, capsys):
    from mmwsss.cli.infer import console
    with pytest.raises(SystemExit) as exc:
        console([str(tmp_path / 'nope.jpg'), '--classes', 'cat'])
    msg = str(exc.value.code)
    assert msg.startswith('error:') and 'nope.jpg' in msg
    assert '\n' not in msg
    with pytest.raises(SystemExit) as exc:
        console([str(tmp_path), '--classes', 'cat'])
    assert 'no image files' in str(exc.value.code)


def test_sam3_concept_route(voc_mini_root, tmp_path, capsys):
    inf = WSSSInferencer(route='sam3', classes=['dog', 'person'],
                         show_progress=False)
    assert inf.random_weights
    path = osp.join(voc_mini_root, 'JPEGImages', IMG + '.jpg')
    (r, ) = inf(path)
    assert r['cams'] is None and r['seed'].shape == (281, 500)
    assert set(np.unique(r['seed'])) <= {0, 1, 2}
    (r, ) = inf(np.zeros((9, 300), np.uint8), classes=['cat'])
    assert r['seed'].shape == (9, 300) and r['classes'][1] == 'cat'
    from mmwsss.cli.infer import main
    res = main([path, '--route', 'sam3', '--classes', 'cat',
                '--out', str(tmp_path)])
    assert res['done'] == 1 and 'SAM 3 route: RANDOM' in \
        capsys.readouterr().out


def test_grounding_dino_sam_route(voc_mini_root):
    inf = WSSSInferencer(route='sam_text', classes=['dog', 'red car'],
                         show_progress=False)
    assert inf.random_weights
    path = osp.join(voc_mini_root, 'JPEGImages', IMG + '.jpg')
    (r, ) = inf(path)
    assert r['cams'] is None and r['seed'].shape == (281, 500)
    assert set(np.unique(r['seed'])) <= {0, 1, 2}
    (r, ) = inf(np.zeros((40, 30, 3), np.uint8), classes=['cat'])
    assert r['seed'].shape == (40, 30) and r['classes'] == ['background',
                                                             'cat']


def test_exif_rotated_photo_is_used_as_displayed(clip_es, tmp_path):
    img = Image.fromarray(
        np.random.default_rng(1).integers(0, 255, (30, 50, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: displayed 50 x 30
    img.save(tmp_path / 'rot.jpg', exif=exif.tobytes())
    (r, ) = clip_es(str(tmp_path / 'rot.jpg'))
    assert r['seed'].shape == (50, 30) and r['cams'].shape == (3, 50, 30)
