"""DINOv2: the official key layout loads strictly (tiny and the real
ViT-S/14 architecture, random weights written by the test), the forward
equals timm's independent DINOv2 ViT, the hub's position interpolation
checked by hand, the resize of WeCLIP+, freezing, and the loading errors."""
import math

import pytest
import torch
import torch.nn.functional as F
from timm.layers import SwiGLUPacked
from timm.models.vision_transformer import (VisionTransformer,
                                            checkpoint_filter_fn)
from torch import nn

from mmseg.registry import MODELS
from mmwsss.models.backbones import (DINOV2_ARCHITECTURES,
                                     DINOV2_CHECKPOINT_URLS, DINOv2,
                                     DINOv2Arch, interpolate_dinov2_pos_embed)
from mmwsss.models.backbones.dinov2_layers import swiglu_hidden_features
from mmwsss.testing import TINY_DINOV2_ARCH

SWIGLU_ARCH = DINOv2Arch(embed_dim=32, depth=1, num_heads=2, ffn='swiglu')
DINOV2_ARCHITECTURES.register('test_swiglu', SWIGLU_ARCH, force=True)


def official_state_dict(c,
                        depth,
                        heads_unused=None,
                        grid=37,
                        ffn='mlp',
                        seed=0):
    """A random state dict in facebookresearch/dinov2's key layout (the
    names and shapes of ``dinov2_vits14_pretrain.pth``), written out here
    independently of the module."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, std):
        return torch.randn(*shape, generator=g) * std

    w = c**-0.5  # O(1) activations whatever the width
    sd = {
        'cls_token': r(1, 1, c, std=1.),
        'pos_embed': r(1, 1 + grid * grid, c, std=1.),
        'mask_token': r(1, c, std=1.),
        'patch_embed.proj.weight': r(c, 3, 14, 14, std=1 / 14 / 3**0.5),
        'patch_embed.proj.bias': r(c, std=.1),
    }
    hidden = 4 * c
    for i in range(depth):
        b = f'blocks.{i}.'
        for norm in ('norm1', 'norm2'):
            sd[b + norm + '.weight'] = 1 + r(c, std=.2)
            sd[b + norm + '.bias'] = r(c, std=.2)
        sd[b + 'attn.qkv.weight'] = r(3 * c, c, std=2 * w)
        sd[b + 'attn.qkv.bias'] = r(3 * c, std=.2)
        sd[b + 'attn.proj.weight'] = r(c, c, std=w)
        sd[b + 'attn.proj.bias'] = r(c, std=.1)
        sd[b + 'ls1.gamma'] = r(c, std=.5)
        sd[b + 'ls2.gamma'] = r(c, std=.5)
        if ffn == 'mlp':
            sd[b + 'mlp.fc1.weight'] = r(hidden, c, std=w)
            sd[b + 'mlp.fc1.bias'] = r(hidden, std=.1)
            sd[b + 'mlp.fc2.weight'] = r(c, hidden, std=hidden**-0.5)
            sd[b + 'mlp.fc2.bias'] = r(c, std=.1)
        else:
            sw = (int(hidden * 2 / 3) + 7) // 8 * 8
            sd[b + 'mlp.w12.weight'] = r(2 * sw, c, std=w)
            sd[b + 'mlp.w12.bias'] = r(2 * sw, std=.1)
            sd[b + 'mlp.w3.weight'] = r(c, sw, std=sw**-0.5)
            sd[b + 'mlp.w3.bias'] = r(c, std=.1)
    sd['norm.weight'] = 1 + r(c, std=.2)
    sd['norm.bias'] = r(c, std=.2)
    return sd


def _save(tmp_path, sd, name='dinov2.pth'):
    path = str(tmp_path / name)
    torch.save(sd, path)
    return path


def _timm_vit(sd, arch, img_size=518, pos_embed=None, **kwargs):
    """timm's DINOv2 ViT (``vit_small_patch14_dinov2``'s constructor
    arguments) with the official state dict through timm's own
    ``checkpoint_filter_fn``; ``pos_embed`` replaces the positions (a model
    built at a non-native ``img_size`` then holds the hub's ones)."""
    model = VisionTransformer(
        img_size=img_size,
        patch_size=14,
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
        init_values=1e-5,
        num_classes=0,
        **kwargs).eval()
    state = checkpoint_filter_fn(dict(sd), model)
    if pos_embed is not None:
        state['pos_embed'] = pos_embed
    model.load_state_dict(state, strict=True)
    return model


def _timm_patch_map(model, img):
    with torch.no_grad():
        tokens = model.forward_features(img)[:, 1:]
    B, _, H, W = img.shape
    return tokens.transpose(1, 2).reshape(B, -1, H // 14, W // 14)


def _hub_positions(pos_embed, h, w):
    """The hub's ``interpolate_pos_encoding`` call, written out."""
    patch = pos_embed[:, 1:].reshape(1, 37, 37, -1).permute(0, 3, 1, 2)
    patch = F.interpolate(
        patch,
        scale_factor=((h + 0.1) / 37, (w + 0.1) / 37),
        mode='bicubic',
        antialias=False)
    assert patch.shape[-2:] == (h, w)
    return torch.cat(
        [pos_embed[:, :1], patch.flatten(2).transpose(1, 2)], dim=1)


def _images(*shape, seed=1):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope='module')
def tiny_sd():
    return official_state_dict(32, 2)


@pytest.fixture(scope='module')
def tiny_path(tiny_sd, tmp_path_factory):
    return _save(tmp_path_factory.mktemp('dinov2'), tiny_sd, 'tiny.pth')


# ----------------------------------------------------------------------
# table, registry
# ----------------------------------------------------------------------
def test_architecture_table_and_registry():
    assert MODELS.get('DINOv2') is DINOv2
    assert DINOV2_ARCHITECTURES.get('tiny') is TINY_DINOV2_ARCH
    assert DINOV2_ARCHITECTURES.get('vits14') == (384, 12, 6, 4.0, 'mlp', 14,
                                                  518)
    assert DINOV2_ARCHITECTURES.get('vitb14')[:3] == (768, 12, 12)
    assert DINOV2_ARCHITECTURES.get('vitl14')[:3] == (1024, 24, 16)
    assert DINOV2_ARCHITECTURES.get('vitg14')[:5] == (1536, 40, 24, 4.0,
                                                      'swiglu')
    assert swiglu_hidden_features(4 * 1536) == 4096  # ViT-g/14's w3 width
    assert DINOV2_CHECKPOINT_URLS['vits14'] == (
        'https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/'
        'dinov2_vits14_pretrain.pth')
    with pytest.raises(KeyError, match="Unknown DINOv2 arch 'vits16'"):
        DINOv2(arch='vits16')


# ----------------------------------------------------------------------
# official layout
# ----------------------------------------------------------------------
def test_tiny_official_layout_loads_strict(tiny_sd, tiny_path):
    model = MODELS.build(
        dict(type='DINOv2', arch='tiny', pretrained=tiny_path))
    own = model.state_dict()
    assert set(own) == set(tiny_sd)
    for k, v in tiny_sd.items():
        assert torch.equal(own[k], v), k
    assert own['pos_embed'].shape == (1, 1 + 37 * 37, 32)
    # the file fits the module as torch.load gives it
    fresh = DINOv2(arch='tiny')
    fresh.load_state_dict(torch.load(tiny_path), strict=True)


def test_vits14_official_layout_and_forward_vs_timm(tmp_path):
    """The real ViT-S/14 architecture (random weights), one 56x84 image:
    a 4x6 grid, positions interpolated the hub's way."""
    arch = DINOV2_ARCHITECTURES.get('vits14')
    sd = official_state_dict(384, 12, seed=2)
    model = DINOv2(arch='vits14', pretrained=_save(tmp_path, sd))
    assert set(model.state_dict()) == set(sd)
    img = _images(1, 3, 56, 84, seed=3)
    out = model(img)
    assert out.shape == (1, 384, 4, 6)
    ref = _timm_patch_map(
        _timm_vit(sd, arch, (56, 84), _hub_positions(sd['pos_embed'], 4, 6)),
        img)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_swiglu_layout_and_forward_vs_timm(tmp_path):
    """ViT-g/14's FFN (``mlp.w12`` / ``mlp.w3``) on a one-block toy: timm
    packs the same halves (SwiGLUPacked, SiLU on the first)."""
    sd = official_state_dict(32, 1, ffn='swiglu', seed=4)
    model = DINOv2(arch='test_swiglu', pretrained=_save(tmp_path, sd))
    assert model.blocks[0].mlp.w12.weight.shape == (2 * 88, 32)
    img = _images(1, 3, 518, 518, seed=5)
    ref = _timm_patch_map(
        _timm_vit(
            sd,
            SWIGLU_ARCH,
            mlp_ratio=2 * 88 / 32,
            mlp_layer=SwiGLUPacked,
            act_layer=nn.SiLU), img)
    torch.testing.assert_close(model(img), ref, atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------
# forward
# ----------------------------------------------------------------------
def test_forward_native_grid_equals_timm(tiny_sd, tiny_path):
    """At the native 37x37 grid neither implementation interpolates."""
    model = DINOv2(arch='tiny', pretrained=tiny_path)
    timm_vit = _timm_vit(tiny_sd, TINY_DINOV2_ARCH)
    img = _images(2, 3, 518, 518)
    out = model(img)
    assert out.shape == (2, 32, 37, 37) and not out.requires_grad
    ref = _timm_patch_map(timm_vit, img)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # x_norm_patchtokens are token 1.. of the final norm, row-major
    feats = model.forward_features(img)
    torch.testing.assert_close(feats['x_norm_patchtokens'],
                               out.flatten(2).transpose(1, 2))
    torch.testing.assert_close(feats['x_norm_clstoken'],
                               model.norm(feats['x_prenorm'])[:, 0])
    # 530x525 is RESIZED (bilinear, align_corners=False) to 518x518
    big = _images(1, 3, 530, 525, seed=2)
    resized = F.interpolate(
        big, size=(518, 518), mode='bilinear', align_corners=False)
    torch.testing.assert_close(
        model(big), _timm_patch_map(timm_vit, resized), atol=1e-5, rtol=1e-5)


def test_forward_other_grid_vs_timm_with_hub_positions(tiny_sd, tiny_path):
    """100x150 -> resized to 98x140, a 7x10 grid. timm's own interpolation
    (``size=``, antialias) is not the hub's (``scale_factor`` with the 0.1
    offset), so timm gets the hub's positions; its own differ."""
    model = DINOv2(arch='tiny', pretrained=tiny_path)
    img = _images(1, 3, 100, 150, seed=6)
    out = model(img)
    assert out.shape == (1, 32, 7, 10)
    resized = F.interpolate(
        img, size=(98, 140), mode='bilinear', align_corners=False)
    hub_pos = _hub_positions(tiny_sd['pos_embed'], 7, 10)
    ref = _timm_patch_map(
        _timm_vit(tiny_sd, TINY_DINOV2_ARCH, (98, 140), hub_pos), resized)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    timm_own = _timm_patch_map(
        _timm_vit(tiny_sd, TINY_DINOV2_ARCH, dynamic_img_size=True), resized)
    assert (timm_own - out).abs().max() > 1e-2


def _cubic(x, a=-0.75):
    """PyTorch's bicubic kernel (Keys, a = -0.75)."""
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.


def _bicubic_ramp(src, M):
    """Bicubic value of the ramp f(k) = k (k = 0..M-1, borders clamped) at
    source coordinate ``src``."""
    k = math.floor(src)
    return sum(
        _cubic(src - (k - 1 + i)) * min(max(k - 1 + i, 0), M - 1)
        for i in range(4))


def test_pos_interpolation_by_hand():
    """On positions that are a ramp over rows (channel 0) and over columns
    (channel 1), each output is the kernel-weighted sum of 4 source rows
    around ``(o + .5) * M / (n + .1) - .5``: the hub's ``scale_factor =
    (n + 0.1) / M`` (a plain resize to n would map to ``(o + .5) * M / n -
    .5``)."""
    M = 8
    rows, cols = torch.meshgrid(
        torch.arange(float(M)), torch.arange(float(M)), indexing='ij')
    grid = torch.stack([rows, cols], dim=-1).reshape(1, M * M, 2)
    pos = torch.cat([torch.tensor([[[7., -7.]]]), grid], dim=1)
    out = interpolate_dinov2_pos_embed(pos, (5, 6))
    assert out.shape == (1, 1 + 30, 2)
    assert torch.equal(out[0, 0], torch.tensor([7., -7.]))  # class row kept
    out = out[0, 1:].reshape(5, 6, 2)
    want_r = torch.tensor(
        [_bicubic_ramp((o + .5) * M / 5.1 - .5, M) for o in range(5)])
    want_c = torch.tensor(
        [_bicubic_ramp((o + .5) * M / 6.1 - .5, M) for o in range(6)])
    torch.testing.assert_close(out[..., 0], want_r[:, None].expand(5, 6))
    torch.testing.assert_close(out[..., 1], want_c[None, :].expand(5, 6))
    # e.g. output row 1 <- source row 1.853 (a plain resize: 1.9)
    assert abs(float(out[1, 0, 0]) - 1.80867) < 1e-4
    # offset 0: a plain resize to (5, 6), as the hub does then
    plain = interpolate_dinov2_pos_embed(pos, (5, 6), offset=0)
    want_plain = torch.tensor(
        [_bicubic_ramp((o + .5) * M / 5 - .5, M) for o in range(5)])
    torch.testing.assert_close(plain[0, 1:].reshape(5, 6, 2)[:, 0, 0],
                               want_plain)
    assert (want_plain - want_r).abs().max() > 0.03
    # the pretrained grid is returned as it is
    assert interpolate_dinov2_pos_embed(pos, (8, 8)) is pos


# ----------------------------------------------------------------------
# freezing
# ----------------------------------------------------------------------
def test_frozen_stays_eval_and_without_graph(tiny_path):
    model = DINOv2(arch='tiny', pretrained=tiny_path)
    assert all(not p.requires_grad for p in model.parameters())
    parent = nn.ModuleDict(dict(dino=model, head=nn.Linear(2, 2)))
    parent.train()
    assert parent['head'].training
    assert not any(m.training for m in model.modules())
    img = _images(1, 3, 28, 42).requires_grad_(True)
    assert not model(img).requires_grad
    model.init_weights()  # no init_cfg: the loaded weights stay
    assert torch.equal(model.state_dict()['pos_embed'],
                       torch.load(tiny_path)['pos_embed'])

    trainable = DINOv2(arch='tiny', pretrained=tiny_path, frozen=False)
    trainable.train()
    assert trainable.training
    assert all(p.requires_grad for p in trainable.parameters())
    out = trainable(img)
    assert out.requires_grad
    with torch.no_grad():
        assert not trainable(img).requires_grad


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
def test_missing_checkpoint_names_path_and_url(tmp_path):
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError) as err:
        DINOv2(arch='vits14', pretrained=path)
    msg = str(err.value)
    assert path in msg and DINOV2_CHECKPOINT_URLS['vits14'] in msg
    assert '\n' not in msg


def test_wrong_layout_names_path_and_first_bad_keys(tiny_sd, tmp_path):
    sd = dict(tiny_sd)
    sd['blocks.0.attn.in_proj_weight'] = sd.pop('blocks.0.attn.qkv.weight')
    sd['pos_embed'] = sd['pos_embed'][:, :1 + 16 * 16]
    del sd['norm.bias']
    path = _save(tmp_path, sd)
    with pytest.raises(ValueError) as err:
        DINOv2(arch='tiny', pretrained=path)
    msg = str(err.value)
    assert msg.startswith(f"DINOv2 checkpoint '{path}' does not fit arch "
                          "'tiny'")
    assert '2 missing keys: blocks.0.attn.qkv.weight, norm.bias' in msg
    assert '1 unexpected keys: blocks.0.attn.in_proj_weight' in msg
    assert 'pos_embed (1, 257, 32) (model (1, 1370, 32))' in msg
    assert '\n' not in msg
    # a prefixed layout (e.g. a wrapper's) lists the first keys and a count
    prefixed = {'backbone.' + k: v for k, v in tiny_sd.items()}
    with pytest.raises(
            ValueError,
            match=r'34 missing keys: cls_token, '
            r'pos_embed, .* and 29 more; 35 unexpected keys: '
            r'backbone\.cls_token'):
        DINOv2(arch='tiny', pretrained=_save(tmp_path, prefixed, 'p.pth'))
    with pytest.raises(ValueError, match='holds no state dict'):
        DINOv2(arch='tiny', pretrained=_save(tmp_path, [1, 2], 'l.pth'))


def test_mask_token_may_be_absent(tiny_sd, tmp_path):
    sd = {k: v for k, v in tiny_sd.items() if k != 'mask_token'}
    model = DINOv2(arch='tiny', pretrained=_save(tmp_path, sd))
    assert torch.equal(model.pos_embed, tiny_sd['pos_embed'])
    wrapped = _save(tmp_path, {'state_dict': tiny_sd}, 'w.pth')
    assert torch.equal(
        DINOv2(arch='tiny', pretrained=wrapped).mask_token,
        tiny_sd['mask_token'])


def test_input_errors():
    model = DINOv2(arch='tiny')
    with pytest.raises(ValueError, match='smaller than one 14x14 patch'):
        model(_images(1, 3, 13, 40))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        model(_images(3, 28, 28))
    with pytest.raises(ValueError, match='not a multiple of the patch'):
        model.forward_features(_images(1, 3, 30, 28))
