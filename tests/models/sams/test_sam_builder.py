"""The shared steps of the SAM-family builders (sam_builder, mask_cache)."""
import hashlib
import json

import pytest
import torch
from torch import nn

from mmwsss.models.sams.levelled_amg import make_point_grids
from mmwsss.io.mask_cache import config_fingerprint
from mmwsss.models.sams.sam_builder import (build_seeded_model,
                                           check_model_type)
from mmwsss.testing import build_tiny_sam


def test_build_seeded_model_seeds_construction_only():
    torch.manual_seed(123)
    want_next = torch.rand(3)
    torch.manual_seed(123)
    a = build_seeded_model('T', 'lin', lambda: nn.Linear(4, 2), None, 7,
                           'cpu')
    # the caller's random stream is untouched
    assert torch.equal(torch.rand(3), want_next)
    b = build_seeded_model('T', 'lin', lambda: nn.Linear(4, 2), None, 7,
                           'cpu')
    assert not a.training and torch.equal(a.weight, b.weight)
    c = build_seeded_model('T', 'lin', lambda: nn.Linear(4, 2), None, 8,
                           'cpu')
    assert not torch.equal(a.weight, c.weight)


def test_build_seeded_model_loads_strictly(tmp_path):
    state = {'weight': torch.ones(2, 4), 'bias': torch.zeros(2)}
    m = build_seeded_model('T', 'lin', lambda: nn.Linear(4, 2), 'ckpt', 0,
                           'cpu', read_state=lambda path: state)
    assert torch.equal(m.weight, state['weight'])
    with pytest.raises(RuntimeError, match="T checkpoint ckpt does not fit "
                       "model_type 'lin'"):
        build_seeded_model('T', 'lin', lambda: nn.Linear(3, 2), 'ckpt', 0,
                           'cpu', read_state=lambda path: state)


def test_check_model_type_names_the_family():
    check_model_type('SAM', 'tiny', ('vit_h', 'tiny'))
    with pytest.raises(KeyError, match="Unknown SAM 2 model_type 'x'; "
                       r"expected one of \('a', 'b'\)"):
        check_model_type('SAM 2', 'x', ['a', 'b'])


def test_tiny_sam_is_seeded_and_smoothed():
    torch.manual_seed(0)
    a = build_tiny_sam()
    torch.manual_seed(0)
    b = build_tiny_sam()
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    for layer in a.mask_decoder.modules():
        if isinstance(layer, nn.ConvTranspose2d):
            w = layer.weight
            assert torch.equal(w, w[..., :1, :1].expand_as(w))


def test_config_fingerprint():
    fields = dict(b=[1.0, 2.0], a='x')
    blob = json.dumps(fields, sort_keys=True)
    want = 'pre-' + hashlib.sha256(blob.encode()).hexdigest()[:20]
    assert config_fingerprint('pre', fields) == want
    assert config_fingerprint('pre', dict(a='x', b=[1.0, 2.0])) == want


def test_make_point_grids():
    grids = make_point_grids(None, 4, 1, 2)
    assert [len(g) for g in grids] == [16, 4]
    explicit = make_point_grids([[[0.5, 0.5]]], None, 0, 2)
    assert explicit[0].dtype.name == 'float64'
    with pytest.raises(ValueError, match='points_per_side or point_grids'):
        make_point_grids(None, None, 0, 2)
    with pytest.raises(ValueError, match='needs 2'):
        make_point_grids([[[0.5, 0.5]]], None, 1, 2)
