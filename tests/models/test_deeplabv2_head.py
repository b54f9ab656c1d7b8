"""DeepLabV2Head: summed atrous branches, no image pooling, rates, losses."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def _build(**kwargs):
    cfg = dict(type='DeepLabV2Head', in_channels=8, num_classes=5)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_branches_rates_and_no_pooling():
    head = _build()
    convs = list(head.aspp_convs)
    assert [c.dilation for c in convs] == [(r, r) for r in (6, 12, 18, 24)]
    assert [c.padding for c in convs] == [(r, r) for r in (6, 12, 18, 24)]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert all(c.in_channels == 8 and c.out_channels == 5 for c in convs)
    # classic head: only the four convs, no image pooling / BN / 1x1 conv
    kinds = {type(m) for m in head.modules() if m is not head}
    assert not any(issubclass(k, (nn.AdaptiveAvgPool2d, nn.AvgPool2d,
                                  nn.modules.batchnorm._BatchNorm))
                   for k in kinds)
    assert not hasattr(head, 'conv_seg')
    n_conv = sum(isinstance(m, nn.Conv2d) for m in head.modules())
    assert n_conv == 4
    # N(0, 0.01) weights, zero bias
    w = torch.cat([c.weight.flatten() for c in convs])
    assert 0.007 < float(w.std()) < 0.013
    assert all(float(c.bias.abs().max()) == 0 for c in convs)


def test_output_is_sum_of_dilated_convs():
    torch.manual_seed(0)
    head = _build(dilations=(2, 3))
    for c in head.aspp_convs:
        nn.init.normal_(c.bias)
    x = torch.randn(2, 8, 7, 9)
    feats = [torch.randn(2, 4, 14, 18), x]  # in_index -1 -> last
    out = head(feats)
    assert out.shape == (2, 5, 7, 9)
    ref = sum(
        F.conv2d(x, c.weight, c.bias, padding=r, dilation=r)
        for c, r in zip(head.aspp_convs, (2, 3)))
    torch.testing.assert_close(out, ref)
    # a single rate-r 3x3 atrous conv only sees taps at offsets {-r, 0, r}:
    # an impulse at the centre reaches exactly those 9 positions (+ bias)
    head1 = _build(in_channels=1, num_classes=1, dilations=(2, ))
    nn.init.ones_(head1.aspp_convs[0].weight)
    nn.init.zeros_(head1.aspp_convs[0].bias)
    imp = torch.zeros(1, 1, 7, 7)
    imp[0, 0, 3, 3] = 1
    hit = head1([imp])[0, 0] != 0
    expect = torch.zeros(7, 7, dtype=torch.bool)
    expect[1::2, 1::2] = True
    assert torch.equal(hit, expect)


def test_loss_and_predict_shapes():
    torch.manual_seed(0)
    head = _build()
    feats = [torch.randn(2, 8, 8, 8)]
    samples = []
    for _ in range(2):
        s = SegDataSample(
            metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64)))
        gt = torch.randint(0, 5, (1, 64, 64))
        gt[:, :4] = 255
        s.gt_sem_seg = PixelData(data=gt)
        samples.append(s)
    losses = head.loss(feats, samples, train_cfg=dict())
    assert set(losses) == {'loss_ce', 'acc_seg'}
    losses['loss_ce'].backward()
    assert all(c.weight.grad is not None for c in head.aspp_convs)
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))] * 2
    logits = head.predict(feats, metas, test_cfg=dict())
    assert logits.shape == (2, 5, 64, 64)


def test_bad_config_errors():
    with pytest.raises(ValueError, match='decode_head.channels'):
        _build(channels=512)
    with pytest.raises(ValueError, match='input_transform'):
        _build(in_channels=[8, 8], in_index=[0, 1],
               input_transform='resize_concat')
    with pytest.raises(ValueError, match='dilations'):
        _build(dilations=())
    with pytest.raises(NotImplementedError):
        _build().cls_seg(torch.zeros(1, 5, 2, 2))
