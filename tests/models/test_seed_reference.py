"""End to end: the seed-ready maps of one real image (a 27x35 crop of a
bundled VOC photo, labels aeroplane + person) through FMAPromptModel.predict
equal the stored reference that tests/data/make_seed_reference.py computed
once from the authors' formulas (CAM input rounded up to the patch grid
with PIL bicubic, AlchemyCat's masked softmax, GradCAM, ReLU, bilinear,
min-max). A refactor of the CAM path must keep this test passing; regenerate
the reference only for a deliberate change of the tiny CLIP or the prompts.
"""
import importlib.util
import os.path as osp

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmseg.structures import SegDataSample

DATA = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')


def _maker():
    spec = importlib.util.spec_from_file_location(
        'make_seed_reference', osp.join(DATA, 'make_seed_reference.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _predict(mk, model, **model_attrs):
    rgb = mk.crop_rgb()
    h, w = rgb.shape[:2]
    bgr = torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1)
    ds = SegDataSample(
        metainfo=dict(
            img_path=f'{mk.IMAGE}.jpg',
            img_shape=(h, w),
            ori_shape=(h, w),
            img_labels=list(mk.LABELS)))
    for k, v in model_attrs.items():
        setattr(model.cam_extractor, k, v)
    model.output_cams = True
    data = model.data_preprocessor(
        pseudo_collate([dict(inputs=bgr, data_samples=ds)]), False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])[0]
    return out.seg_logits.data[list(mk.LABELS)].numpy()


def test_seed_ready_maps_equal_stored_reference():
    mk = _maker()
    ref = np.load(osp.join(DATA, 'seed_reference.npz'))
    assert tuple(ref['labels']) == mk.LABELS
    assert tuple(ref['crop']) == mk.CROP
    model = mk.build_model()
    got = _predict(mk, model)
    assert got.shape == ref['maps'].shape == (2, 27, 35)
    np.testing.assert_allclose(got, ref['maps'], rtol=0, atol=2e-5)
    # the reference is not trivial: both maps span [0, 1)
    assert (ref['maps'].max(axis=(1, 2)) > 0.99).all()
    # and the test can tell the old CAM input (no PIL resize) apart
    padded = _predict(mk, model, cam_input_size='pad')
    assert np.abs(padded - ref['maps']).max() > 0.05
