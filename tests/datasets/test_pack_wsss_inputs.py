"""PackWSSSInputs: image labels and id in the metainfo, GT as PackSegInputs."""
import numpy as np
import torch
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS


def _results(with_gt=True, with_labels=True):
    rng = np.random.default_rng(0)
    res = dict(
        img=rng.integers(0, 255, (6, 8, 3), dtype=np.uint8),
        img_path='x/2007_000032.jpg',
        seg_map_path='x/2007_000032.png',
        ori_shape=(6, 8),
        img_shape=(6, 8),
        reduce_zero_label=False)
    if with_gt:
        res['gt_seg_map'] = rng.integers(0, 21, (6, 8)).astype(np.uint8)
    if with_labels:
        res['img_labels'] = np.array([1, 15])
        res['img_id'] = '2007_000032'
    return res


def test_packs_labels_and_id():
    pack = TRANSFORMS.build(dict(type='PackWSSSInputs'))
    res = _results()
    out = pack(dict(res))
    ds = out['data_samples']
    assert ds.img_labels == [1, 15]
    assert all(type(i) is int for i in ds.img_labels)
    assert ds.img_id == '2007_000032'
    assert ds.img_path == 'x/2007_000032.jpg'
    # same tensors as mmseg's PackSegInputs
    ref = PackSegInputs()(dict(_results()))
    assert torch.equal(out['inputs'], ref['inputs'])
    assert torch.equal(ds.gt_sem_seg.data, ref['data_samples'].gt_sem_seg.data)
    assert ds.gt_sem_seg.data.shape == (1, 6, 8)
    assert ds.gt_sem_seg.data.dtype == torch.int64
    assert 'img_labels' not in ref['data_samples'].metainfo


def test_without_gt_or_labels():
    pack = TRANSFORMS.build(dict(type='PackWSSSInputs'))
    ds = pack(_results(with_gt=False))['data_samples']
    assert 'gt_sem_seg' not in ds
    assert ds.img_labels == [1, 15]
    ds = pack(_results(with_labels=False))['data_samples']
    assert 'img_labels' not in ds.metainfo and 'gt_sem_seg' in ds
    # custom meta keys
    pack = TRANSFORMS.build(
        dict(type='PackWSSSInputs', meta_keys=('img_path', 'img_labels')))
    ds = pack(_results())['data_samples']
    assert set(ds.metainfo) == {'img_path', 'img_labels'}
