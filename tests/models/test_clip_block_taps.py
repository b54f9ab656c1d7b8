"""FrozenCLIP's WeCLIP taps on the tiny CLIP: every block's raw output and
attention (input cropped to the patch grid, positions resized), one block
on given tokens with logits and the GradCAM leaf, template-averaged text
features. References: open_clip's own forward and modules, and positions
resized by hand."""
import open_clip
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.clip import FrozenCLIP, crop_to_patch_multiple
from mmwsss.models.clip.loading import register_open_clip_config
from mmwsss.testing import TINY_CLIP_NAME

#: A 24-layer image tower at toy width: WeCLIP divides its logit scale by 4.
DEEP_NAME = 'mmwsss-test-24-layer-ViT-16'
DEEP_CFG = dict(
    embed_dim=16,
    vision_cfg=dict(
        image_size=32, layers=24, width=32, patch_size=16, head_width=16),
    text_cfg=dict(
        context_length=77, vocab_size=49408, width=16, heads=1, layers=1),
)


@pytest.fixture(scope='module')
def tiny() -> FrozenCLIP:
    torch.manual_seed(0)
    return FrozenCLIP(model_name=TINY_CLIP_NAME, pretrained=None)


def _images(*shape, seed=1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)


def _open_clip_blocks(clip: FrozenCLIP, img: torch.Tensor):
    """open_clip's own forward: (B, L, C) output of every image block."""
    out = clip.model.visual.forward_intermediates(
        img,
        output_fmt='NLC',
        output_extra_tokens=True,
        intermediates_only=True)
    return [
        torch.cat([c, p], dim=1) for c, p in zip(
            out['image_intermediates_prefix'], out['image_intermediates'])
    ]


def _mha_weights(block, x):
    """nn.MultiheadAttention's own head-averaged probabilities of a block
    whose input is ``x`` (B, L, C)."""
    h = block.ln_1(x).transpose(0, 1)  # (L, B, C): batch_first-proof
    attn = torch.nn.MultiheadAttention(h.shape[-1],
                                       block.attn.num_heads).eval()
    attn.load_state_dict(block.attn.state_dict())
    _, w = attn(h, h, h, need_weights=True, average_attn_weights=True)
    return w


# ----------------------------------------------------------------------
# encode_image_blocks
# ----------------------------------------------------------------------
def test_blocks_equal_open_clip_at_the_pretrained_size(tiny):
    img = _images(2, 3, 224, 224)
    outs, attn = tiny.encode_image_blocks(img)
    ref = _open_clip_blocks(tiny, img)
    # all blocks but the last by default (11 of ViT-B/16's 12; 2 of 3 here)
    assert len(outs) == tiny.num_layers - 1 == 2
    assert attn.shape == (2, 2, 197, 197) and attn.dtype == torch.float32
    for i, out in enumerate(outs):
        assert out.shape == (2, 197, 64) and not out.requires_grad
        _close(out, ref[i])
        x_in = ref[i - 1] if i else tiny.model.visual._embeds(img)
        _close(attn[:, i],
               _mha_weights(tiny.model.visual.transformer.resblocks[i], x_in))
    # num_blocks=3 adds the last block, which open_clip runs too
    outs3, attn3 = tiny.encode_image_blocks(img, num_blocks=3)
    assert len(outs3) == 3 and attn3.shape == (2, 3, 197, 197)
    _close(outs3[2], ref[2])
    one, attn1 = tiny.encode_image_blocks(img, num_blocks=1)
    assert len(one) == 1 and attn1.shape == (2, 1, 197, 197)
    _close(one[0], outs[0])


def test_blocks_crop_and_resize_positions_by_hand(tiny):
    """120x127 -> the 112x112 crop (grid 7x7, no padding); the 14x14
    positions resized to 7x7 bilinearly (align_corners=False): halving a
    grid averages each 2x2 cell."""
    img = _images(1, 3, 120, 127)
    outs, attn = tiny.encode_image_blocks(img)
    assert outs[0].shape == (1, 50, 64) and attn.shape == (1, 2, 50, 50)

    visual = tiny.model.visual
    crop = img[..., :112, :112]
    patches = visual.conv1(crop).flatten(2).transpose(1, 2)  # (1, 49, C)
    pos = visual.positional_embedding
    grid = pos[1:].reshape(7, 2, 7, 2, 64).mean(dim=(1, 3)).reshape(49, 64)
    x = torch.cat(
        [visual.class_embedding.view(1, 1, -1) + pos[:1], patches + grid],
        dim=1)
    x = visual.ln_pre(x)
    for i, blk in enumerate(visual.transformer.resblocks[:2]):
        _close(attn[:, i], _mha_weights(blk, x))
        x = blk(x)
        _close(outs[i], x)
    # the crop is what conv1 sees anyway: the uncropped and cropped inputs
    # give the same blocks
    outs_c, _ = tiny.encode_image_blocks(crop)
    _close(outs_c[1], outs[1], atol=0)


def test_blocks_77_token_grid_runs_num_blocks(tiny):
    """The authors run every block when the sequence has exactly 77 tokens
    (their text test); here a 4x19 grid (76 patches + CLS) runs the same
    num_blocks as any other grid."""
    outs, attn = tiny.encode_image_blocks(_images(1, 3, 64, 304))
    assert len(outs) == 2 and outs[0].shape == (1, 77, 64)
    assert attn.shape == (1, 2, 77, 77)


def test_blocks_errors(tiny):
    img = _images(1, 3, 32, 32)
    for n in (0, 4):
        with pytest.raises(ValueError, match=r'num_blocks=.*1\.\.3'):
            tiny.encode_image_blocks(img, num_blocks=n)
    with pytest.raises(ValueError, match='smaller than one 16x16 patch'):
        tiny.encode_image_blocks(_images(1, 3, 15, 64))
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        tiny.encode_image_blocks(_images(3, 32, 32))


def test_crop_to_patch_multiple():
    img = torch.arange(2 * 3 * 35 * 17.).view(2, 3, 35, 17)
    out = crop_to_patch_multiple(img, 16)
    assert out.shape == (2, 3, 32, 16)
    assert torch.equal(out, img[:, :, :32, :16])
    same = img[..., :32, :16].contiguous()
    assert crop_to_patch_multiple(same, 16) is same


# ----------------------------------------------------------------------
# last_block_logits
# ----------------------------------------------------------------------
def _reference_logits(clip, tokens, text, block, scale):
    """open_clip's block modules, by hand: ln_1 leaf -> nn attention
    -> residual -> MLP -> ln_post -> patch mean -> proj -> cos * scale."""
    visual = clip.model.visual
    blk = visual.transformer.resblocks[block]
    with torch.enable_grad():
        h = blk.ln_1(tokens).detach().requires_grad_(True)
        attn = torch.nn.MultiheadAttention(
            h.shape[-1], blk.attn.num_heads, batch_first=True).eval()
        attn.load_state_dict(blk.attn.state_dict())
        a, w = attn(h, h, h, need_weights=True, average_attn_weights=True)
        x = tokens + a
        x = x + blk.mlp(blk.ln_2(x))
        img = visual.ln_post(x)[:, 1:].mean(dim=1) @ visual.proj
        cos = F.normalize(img, dim=-1) @ F.normalize(text, dim=-1).t()
    return scale * cos, h, w


@pytest.mark.parametrize('block', [-1, 1])
def test_last_block_logits_match_reference(tiny, block):
    tokens = tiny.encode_image_blocks(_images(2, 3, 64, 96))[0][0]
    text = F.normalize(_images(5, 32, seed=3), dim=-1)
    with torch.no_grad():  # the leaf gets its graph anyway
        logits, ln1, attn = tiny.last_block_logits(tokens, text, block=block)
    assert logits.shape == (2, 5) and logits.requires_grad
    assert ln1.shape == (2, 25, 64) and ln1.is_leaf and ln1.requires_grad
    assert attn.shape == (2, 25, 25) and not attn.requires_grad
    scale = tiny.model.logit_scale.exp()  # 1/0.07 for 12-layer towers
    assert torch.isclose(tiny.weclip_logit_scale, scale)
    ref, h, w = _reference_logits(tiny, tokens, text, block, scale)
    _close(logits, ref)
    _close(ln1, h, atol=0)
    _close(attn, w)
    # GradCAM's gradient: softmax probability of one class w.r.t. ln_1
    g, = torch.autograd.grad(logits.softmax(-1)[:, 3].sum(), ln1)
    g_ref, = torch.autograd.grad(ref.softmax(-1)[:, 3].sum(), h)
    assert g.abs().sum() > 0
    _close(g, g_ref, atol=1e-6)


def test_last_block_logits_other_block_differs(tiny):
    tokens = tiny.encode_image_blocks(_images(1, 3, 32, 48))[0][0]
    text = F.normalize(_images(3, 32, seed=4), dim=-1)
    last, _, _ = tiny.last_block_logits(tokens, text)
    first, _, _ = tiny.last_block_logits(tokens, text, block=0)
    assert not torch.allclose(last, first)
    with pytest.raises(ValueError, match='block=3'):
        tiny.last_block_logits(tokens, text, block=3)
    with pytest.raises(ValueError, match='text features'):
        tiny.last_block_logits(tokens, text[:, :16])


def test_24_layer_clip_divides_the_logit_scale_by_4():
    register_open_clip_config(DEEP_NAME, DEEP_CFG)
    torch.manual_seed(0)
    deep = FrozenCLIP(model_name=DEEP_NAME, pretrained=None)
    assert deep.num_layers == 24
    scale = deep.model.logit_scale.exp()
    assert torch.isclose(deep.weclip_logit_scale, scale / 4)
    outs, _ = deep.encode_image_blocks(_images(1, 3, 32, 48))
    assert len(outs) == 23
    text = F.normalize(_images(4, 16, seed=5), dim=-1)
    logits, _, _ = deep.last_block_logits(outs[-1], text)
    ref, _, _ = _reference_logits(deep, outs[-1], text, -1, scale / 4)
    _close(logits, ref)


# ----------------------------------------------------------------------
# prompt_text_features
# ----------------------------------------------------------------------
def test_prompt_text_features_match_open_clip(tiny):
    names = ['cat', 'person with clothes,people,human', 'tvmonitor screen']
    templates = ['a clean origami {}.', 'a photo of a {}.']
    feats = tiny.prompt_text_features(names, templates)
    assert feats.shape == (3, 32) and not feats.requires_grad
    tokenizer = open_clip.get_tokenizer(TINY_CLIP_NAME)
    with torch.no_grad():
        for k, name in enumerate(names):
            e = tiny.model.encode_text(
                tokenizer([t.format(name) for t in templates]))
            e = e / e.norm(dim=-1, keepdim=True)
            m = e.mean(dim=0)
            _close(feats[k], m / m.norm())
        one = tiny.prompt_text_features(names, templates[:1])
        e = tiny.model.encode_text(
            tokenizer([f'a clean origami {n}.' for n in names]))
        _close(one, e / e.norm(dim=-1, keepdim=True))
    _close(feats.norm(dim=-1), torch.ones(3))


def test_prompt_text_features_errors(tiny):
    with pytest.raises(ValueError, match='no "{}"'):
        tiny.prompt_text_features(['cat'], ['a photo.'])
    with pytest.raises(ValueError, match='at least one'):
        tiny.prompt_text_features([], ['a {}.'])
    with pytest.raises(TypeError, match='not a single string'):
        tiny.prompt_text_features('cat', ['a {}.'])
