"""Dense CRF comparator (CLIP-ES parameters) on small synthetic images."""
import builtins

import numpy as np
import pytest
import torch

from mmwsss.functional.crf import CLIP_ES_CRF, crf_seed, dense_crf


def two_region_image(h=40, w=60):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (20, 30, 40)
    img[10:30, 15:45] = (220, 60, 50)
    gt = np.zeros((h, w), np.uint8)
    gt[10:30, 15:45] = 1
    return img, gt


def test_crf_snaps_a_blurred_map_to_the_colour_edge():
    img, gt = two_region_image()
    rng = np.random.default_rng(0)
    cam = np.zeros((1, 40, 60), np.float32)
    cam[0, 7:33, 11:49] = 0.7  # too large a blob, plus noise
    cam = np.clip(cam + rng.normal(0, 0.15, cam.shape), 0, 1)
    res = crf_seed(img, cam.astype(np.float32), [4])
    assert res.seed.dtype == np.uint8 and res.seed.shape == (40, 60)
    assert set(np.unique(res.seed)) == {0, 5}
    raw = np.where(cam[0] > 1 - cam[0], 5, 0)  # argmax without the CRF
    raw_acc = ((raw > 0) == (gt > 0)).mean()
    crf_acc = ((res.seed > 0) == (gt > 0)).mean()
    assert raw_acc < 0.9 and crf_acc > 0.99
    np.testing.assert_allclose(res.prob.sum(0), 1, atol=1e-5)


def test_background_score_and_label_lookup():
    img, _ = two_region_image()
    # two classes; with no pairwise weight the CRF keeps the unary argmax
    cam = np.zeros((2, 40, 60), np.float32)
    cam[0, :, :20] = 0.9
    cam[1, :, 40:] = 0.8
    res = crf_seed(img, cam, [6, 2], pos_w=0, bi_w=0, n_iters=1)
    want = np.zeros((40, 60), np.uint8)
    want[:, :20] = 7
    want[:, 40:] = 3
    np.testing.assert_array_equal(res.seed, want)
    # alpha > 1 lowers bg = (1 - 0.3)**alpha below a 0.3 class map
    cam = np.full((1, 40, 60), 0.3, np.float32)
    assert crf_seed(img, cam, [0], alpha=1, pos_w=0, bi_w=0,
                    n_iters=1).seed.max() == 0
    assert crf_seed(img, cam, [0], alpha=4, pos_w=0, bi_w=0,
                    n_iters=1).seed.min() == 1


def test_bg_channel_resize_and_confidence_threshold():
    img, gt = two_region_image()
    prob = np.zeros((2, 10, 15), np.float32)  # low-res softmax, bg first
    prob[1, 2:8, 4:11] = 0.9
    prob[0] = 1 - prob[1]
    res = crf_seed(img, torch.as_tensor(prob), [11], with_bg_channel=True)
    assert res.prob.shape == (2, 40, 60)
    assert ((res.seed > 0) == (gt > 0)).mean() > 0.97
    ign = crf_seed(img, prob, [11], with_bg_channel=True, conf_thresh=1.1)
    assert np.all(ign.seed == 255)


def test_clip_es_defaults_and_errors():
    assert CLIP_ES_CRF == dict(n_iters=10, pos_xy_std=1., pos_w=3.,
                               bi_xy_std=67., bi_rgb_std=3., bi_w=4.)
    img, _ = two_region_image()
    with pytest.raises(ValueError, match='uint8'):
        dense_crf(img.astype(np.float32), np.ones((2, 40, 60)))
    with pytest.raises(ValueError, match='maps are'):
        dense_crf(img[:20], np.ones((2, 40, 60)))
    with pytest.raises(ValueError, match='cams must be'):
        crf_seed(img, np.ones((2, 40, 60)), [1])


def test_missing_pydensecrf_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith('pydensecrf'):
            raise ImportError('No module named pydensecrf')
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', fake_import)
    img, _ = two_region_image()
    with pytest.raises(ImportError, match='pip install pydensecrf2'):
        dense_crf(img, np.ones((2, 40, 60), np.float32))


def test_sams_vs_crf_benchmark_workers(repo_root):
    """tools/benchmarks/sams_vs_crf.py: deterministic inputs, both workers
    on one real VOC image (in process), summary fields."""
    import importlib.util
    import os.path as osp
    spec = importlib.util.spec_from_file_location(
        'sams_vs_crf',
        osp.join(repo_root, 'tools', 'benchmarks', 'sams_vs_crf.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = bench.parse_args(['--images', '1', '--repeats', '1'])
    a, b = bench.build_inputs(args), bench.build_inputs(args)
    assert len(a) == 1 and a[0]['stem'] == '2007_000032'
    np.testing.assert_array_equal(a[0]['maps'], b[0]['maps'])
    np.testing.assert_array_equal(a[0]['record'].counts,
                                  b[0]['record'].counts)
    levels = np.bincount(a[0]['levels'], minlength=3)
    assert len(a[0]['levels']) == args.max_masks and np.all(levels > 0)
    assert a[0]['maps'].shape == (len(a[0]['fg_cls']), 18, 32)  # 281x500
    out, threads = {}, torch.get_num_threads()
    for method in ('sams', 'crf'):
        args.worker = method
        try:
            out[method] = bench.run_worker(args)
        finally:
            torch.set_num_threads(threads)
        assert out[method]['images'][0]['ms'] > 0
        assert 0 <= out[method]['miou'] <= 100
    # masks built from the GT: SAMS beats the raw argmax on this image
    assert out['sams']['miou'] > out['sams']['raw_miou']
