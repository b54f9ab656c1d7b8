"""The mmcv ops mmwsss's configs need (mmwsss.compat.mmcv_ops), against
reference formulas, and Mask2Former with Swin-L head/decoder shapes training
on CPU with mmcv-lite."""
import os.path as osp

import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention, point_sample
from mmcv.ops.multi_scale_deform_attn import \
    multi_scale_deformable_attn_pytorch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmwsss.compat import mmcv_ext_is_fallback
from mmwsss.compat.mmcv_ops import (PortableMultiScaleDeformableAttention,
                                    use_portable_msda)

M2F_VOC = 'configs/mask2former/mask2former_swin-l-in22k-384x384-pre_2xb2-80k_voc12aug-pseudo-512x512.py'


def _bilinear_zero_pad(img: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Value of ``img`` (C, H, W) at pixel coordinates (x, y), pixel
    centres at integers, zero outside (grid_sample, align_corners=False)."""
    _, h, w = img.shape
    x0, y0 = int(torch.floor(torch.tensor(x))), int(
        torch.floor(torch.tensor(y)))
    out = torch.zeros(img.shape[0], dtype=img.dtype)
    for xi, yi in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
        wgt = (1 - abs(x - xi)) * (1 - abs(y - yi))
        if 0 <= xi < w and 0 <= yi < h:
            out += wgt * img[:, yi, xi]
    return out


def test_point_sample_matches_bilinear_formula():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64)
    # points in [0, 1] (x, y), some beyond the border half-pixel
    pts = torch.rand(2, 6, 2, generator=g, dtype=torch.float64) * 1.2 - 0.1
    out = point_sample(feat, pts, align_corners=False)
    assert out.shape == (2, 3, 6)
    for n in range(2):
        for k in range(6):
            x = pts[n, k, 0].item() * 7 - 0.5
            y = pts[n, k, 1].item() * 5 - 0.5
            torch.testing.assert_close(out[n, :, k],
                                       _bilinear_zero_pad(feat[n], x, y))


def _msda_reference(value, shapes, loc, weights):
    """Deformable attention, eq. 2 of Deformable DETR, by loops: for each
    query and head, sum over levels and points of weight x bilinear sample
    of the level's value map at the sampling location."""
    bs, _, heads, dim = value.shape
    _, nq, _, levels, points, _ = loc.shape
    out = torch.zeros(bs, nq, heads, dim, dtype=value.dtype)
    start = 0
    maps = []
    for h, w in shapes.tolist():
        maps.append(value[:, start:start + h * w].reshape(
            bs, h, w, heads, dim).permute(0, 3, 4, 1, 2))  # b, head, d, h, w
        start += h * w
    for b in range(bs):
        for q in range(nq):
            for m in range(heads):
                for lvl, (h, w) in enumerate(shapes.tolist()):
                    for p in range(points):
                        x = loc[b, q, m, lvl, p, 0].item() * w - 0.5
                        y = loc[b, q, m, lvl, p, 1].item() * h - 0.5
                        out[b, q, m] += weights[b, q, m, lvl, p] * \
                            _bilinear_zero_pad(maps[lvl][b, m], x, y)
    return out.reshape(bs, nq, heads * dim)


def test_msda_pytorch_matches_reference_formula():
    g = torch.Generator().manual_seed(0)
    shapes = torch.tensor([[4, 6], [2, 3]])
    value = torch.randn(2, 30, 2, 4, generator=g, dtype=torch.float64)
    loc = torch.rand(2, 5, 2, 2, 3, 2, generator=g, dtype=torch.float64)
    loc = loc * 1.2 - 0.1  # some samples fall outside the map
    weights = torch.rand(2, 5, 2, 2, 3, generator=g, dtype=torch.float64)
    out = multi_scale_deformable_attn_pytorch(value, shapes, loc, weights)
    torch.testing.assert_close(out, _msda_reference(value, shapes, loc,
                                                    weights))


def _inputs(batch_first: bool, box: bool, mask: bool):
    g = torch.Generator().manual_seed(1)
    shapes = torch.tensor([[4, 4], [2, 2]])
    start = torch.tensor([0, 16])
    query = torch.randn(2, 7, 16, generator=g)
    value = torch.randn(2, 20, 16, generator=g)
    ref = torch.rand(2, 7, 2, 4 if box else 2, generator=g)
    pad = torch.zeros(2, 20, dtype=torch.bool)
    pad[1, -3:] = True
    if not batch_first:
        query, value = query.transpose(0, 1), value.transpose(0, 1)
    return dict(
        query=query,
        value=value,
        query_pos=torch.randn(query.shape, generator=g),
        key_padding_mask=pad if mask else None,
        reference_points=ref,
        spatial_shapes=shapes,
        level_start_index=start)


@pytest.mark.parametrize('batch_first,box,mask', [(True, False, False),
                                                  (False, True, True)])
def test_portable_msda_equals_mmcv_module(batch_first, box, mask):
    """Same parameters, same output as mmcv's module (whose CPU path is the
    PyTorch function); the portable path is the one taken under mmcv-lite
    on every device."""
    torch.manual_seed(0)
    dims = dict(
        embed_dims=16,
        num_heads=2,
        num_levels=2,
        num_points=3,
        dropout=0.,
        batch_first=batch_first)
    ref = MultiScaleDeformableAttention(**dims)
    for p in ref.parameters():  # non-trivial offsets and weights
        torch.nn.init.normal_(p, std=0.3)
    port = PortableMultiScaleDeformableAttention(**dims)
    port.load_state_dict(ref.state_dict())
    inputs = _inputs(batch_first, box, mask)
    want = ref(**inputs)
    torch.testing.assert_close(port(**inputs), want)
    args = {k: v for k, v in inputs.items() if k != 'level_start_index'}
    got = port.forward_pytorch(identity=None, **args)
    torch.testing.assert_close(got, want)
    got.sum().backward()  # differentiable by autograd
    assert port.sampling_offsets.weight.grad.abs().sum() > 0


def test_portable_msda_on_an_accelerator():
    """Under mmcv-lite mmcv's module fails on an accelerator; the portable
    one gives the CPU result there."""
    if not (hasattr(torch, 'accelerator')
            and torch.accelerator.is_available()):
        pytest.skip('no accelerator')
    device = torch.accelerator.current_accelerator()
    torch.manual_seed(0)
    port = PortableMultiScaleDeformableAttention(
        embed_dims=16, num_heads=2, num_levels=2, num_points=3, dropout=0.)
    inputs = _inputs(False, False, True)
    want = port(**inputs)
    got = port.to(device)(**{k: v.to(device) for k, v in inputs.items()})
    torch.testing.assert_close(got.cpu(), want, rtol=1e-4, atol=1e-4)


def test_use_portable_msda_converts_only_the_given_model():
    torch.manual_seed(0)
    cfg = dict(embed_dims=16, num_heads=2, num_levels=2, num_points=2)
    mine = torch.nn.Sequential(
        MultiScaleDeformableAttention(**cfg), torch.nn.Linear(2, 2),
        torch.nn.ModuleList([MultiScaleDeformableAttention(**cfg)]))
    users = MultiScaleDeformableAttention(**cfg)
    keys = list(mine.state_dict())
    assert use_portable_msda(mine) == 2
    assert use_portable_msda(mine) == 0  # already converted
    assert type(mine[0]) is PortableMultiScaleDeformableAttention
    assert type(mine[2][0]) is PortableMultiScaleDeformableAttention
    assert list(mine.state_dict()) == keys
    assert type(users) is MultiScaleDeformableAttention


def _m2f_swin_l_head(repo_root: str) -> Config:
    """The real config (Swin-L head and decoder dims), with a one-block-per-
    stage Swin of Swin-L's widths, random weights and a 64x64 input."""
    cfg = Config.fromfile(osp.join(repo_root, M2F_VOC))
    cfg.model.backbone.update(depths=[1, 1, 1, 1], init_cfg=None)
    cfg.model.data_preprocessor.size = (64, 64)
    return cfg


def test_mask2former_swin_l_head_trains_two_iterations(repo_root):
    cfg = _m2f_swin_l_head(repo_root)
    head = cfg.model.decode_head
    # Swin-L's head/decoder (mmseg's mask2former_swin-l config)
    assert head.in_channels == [192, 384, 768, 1536]
    assert (head.feat_channels, head.out_channels, head.num_queries) == \
        (256, 256, 100)
    assert head.pixel_decoder.encoder.num_layers == 6
    assert head.transformer_decoder.num_layers == 9
    assert head.pixel_decoder.type == 'PortableMSDeformAttnPixelDecoder'
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    attn = [
        m for m in model.modules()
        if isinstance(m, MultiScaleDeformableAttention)
    ]
    assert len(attn) == 6 and all(
        type(m) is PortableMultiScaleDeformableAttention for m in attn)
    model.init_weights()
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)

    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(1):  # batch 1
        seg = torch.zeros(1, 64, 64, dtype=torch.long)
        seg[:, 16:48, 8:40] = int(torch.randint(1, 21, (1, ), generator=g))
        seg[:, :8] = 255
        s = SegDataSample(
            metainfo=dict(
                img_shape=(64, 64), pad_shape=(64, 64), ori_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=seg)
        samples.append(s)
    data = dict(
        inputs=[
            torch.randint(0, 256, (3, 64, 64), generator=g, dtype=torch.uint8)
            for _ in samples
        ],
        data_samples=samples)
    w0 = attn[0].sampling_offsets.weight.detach().clone()
    for _ in range(2):
        losses = model.train_step(data, optim)
        total = sum(v for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total) and total > 0
    assert not torch.equal(attn[0].sampling_offsets.weight, w0)
    if mmcv_ext_is_fallback():  # the path a GPU takes under mmcv-lite too
        assert type(attn[0]).forward is \
            PortableMultiScaleDeformableAttention.forward
