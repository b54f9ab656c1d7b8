"""FrozenCLIP: registry, loading (open_clip / OpenAI layouts, tags, errors),
image outputs (embedding, GradCAM target, attention, any input size), text
encoder on token embeddings (first and second order gradients)."""
import math
import os.path as osp

import open_clip
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from mmseg.registry import MODELS
from mmwsss.models.clip import (FrozenCLIP, interpolate_pos_embed,
                                pad_to_patch_multiple, read_clip_checkpoint)
from mmwsss.models.clip.loading import model_quick_gelu
from mmwsss.models.clip.vit_ops import block_forward
from mmwsss.testing import TINY_CLIP_NAME

TINY = dict(type='FrozenCLIP', model_name=TINY_CLIP_NAME, pretrained=None)


def _tiny(**kwargs) -> FrozenCLIP:
    """The tiny CLIP with fixed random weights (same for every call)."""
    torch.manual_seed(0)
    args = dict(model_name=TINY_CLIP_NAME, pretrained=None, attn_layers=2)
    args.update(kwargs)
    return FrozenCLIP(**args)


@pytest.fixture(scope='module')
def tiny() -> FrozenCLIP:
    return _tiny()


@pytest.fixture(scope='module')
def images() -> torch.Tensor:
    return torch.randn(
        2, 3, 224, 224, generator=torch.Generator().manual_seed(1))


def _reference_tokens(clip: FrozenCLIP, img: torch.Tensor):
    """open_clip's own modules: tokens after every block, the attention
    probabilities of every block (nn.MultiheadAttention with weights) and
    the last block's ln_1 output."""
    visual = clip.model.visual
    x = visual._embeds(img)
    attns, last_ln1 = [], None
    for blk in visual.transformer.resblocks:
        h = blk.ln_1(x)
        _, w = blk.attn(h, h, h, need_weights=True, average_attn_weights=True)
        attns.append(w)
        last_ln1 = h
        x = blk(x)
    return x, torch.stack(attns, 1), last_ln1


# ----------------------------------------------------------------------
# registry, attributes, freezing
# ----------------------------------------------------------------------
def test_registry_and_config_build():
    assert MODELS.get('FrozenCLIP') is FrozenCLIP
    clip = MODELS.build(dict(TINY, pooling='cls', attn_layers=3))
    assert isinstance(clip, FrozenCLIP)
    assert clip.pooling == 'cls' and clip.attn_layers == 3
    with pytest.raises(ValueError, match='pooling'):
        MODELS.build(dict(TINY, pooling='max'))


def test_tiny_config_attributes(tiny):
    assert TINY_CLIP_NAME in open_clip.list_models()
    assert tiny.patch_size == 16
    assert tiny.embed_dim == 32
    assert tiny.vision_width == 64
    assert tiny.text_width == 32
    assert tiny.context_length == 77
    assert tiny.num_layers == 3
    assert tiny.pretrained_grid == (14, 14)
    assert tiny.model.visual.transformer.resblocks[0].attn.num_heads == 2
    assert tiny.model.transformer.resblocks[0].attn.num_heads == 2
    assert len(tiny.model.transformer.resblocks) == 2
    assert torch.isclose(tiny.logit_scale, torch.tensor(1 / 0.07))
    assert not tiny.logit_scale.requires_grad
    assert tiny.mean == pytest.approx(
        [255 * m for m in open_clip.OPENAI_DATASET_MEAN])
    assert tiny.std == pytest.approx(
        [255 * s for s in open_clip.OPENAI_DATASET_STD])


def test_frozen_and_eval(tiny):
    assert all(not p.requires_grad for p in tiny.parameters())
    parent = nn.ModuleDict(dict(clip=tiny, head=nn.Linear(2, 2)))
    parent.train()
    assert tiny.training
    assert not any(m.training for m in tiny.model.modules())
    assert parent['head'].training
    parent.eval()
    parent.train(True)
    assert not tiny.model.training
    tiny.init_weights()  # no init_cfg: weights untouched, no error


def test_tokenizer(tiny):
    ids = tiny.tokenize(['a photo of a dog.', 'cat'])
    assert ids.dtype == torch.long and ids.shape == (2, 77)
    assert (ids[:, 0] == 49406).all()  # start of text
    eot = tiny.eot_index(ids)
    assert (ids[torch.arange(2), eot] == 49407).all()
    assert eot[1] == 2  # [SOS] cat [EOT]
    assert tiny.tokenize('cat').shape == (1, 77)
    emb = tiny.token_embedding(ids)
    assert emb.shape == (2, 77, 32) and not emb.requires_grad
    assert torch.equal(emb[1, 1], tiny.model.token_embedding.weight[ids[1, 1]])


# ----------------------------------------------------------------------
# image side
# ----------------------------------------------------------------------
def test_encode_image_outputs(tiny, images):
    out = tiny.encode_image(images)
    assert out.embedding.shape == (2, 32)
    assert out.target.shape == (2, 197, 64)
    assert out.grid == (14, 14)
    assert out.target.requires_grad and out.target.is_leaf
    assert out.attn.shape == (2, 2, 197, 197)
    assert (out.attn >= 0).all()
    torch.testing.assert_close(
        out.attn.sum(-1), torch.ones(2, 2, 197), atol=1e-5, rtol=0)
    # the embedding is a function of target (only the last block has graph)
    score = F.normalize(out.embedding, dim=-1)[:, 0].sum()
    g, = torch.autograd.grad(score, out.target)
    assert g.shape == out.target.shape and g.abs().sum() > 0
    # ... batched over selectors, as Softmax-GradCAM calls it
    out = tiny.encode_image(images)
    scores = out.embedding[:, :3]
    sel = torch.eye(3).unsqueeze(1).expand(3, 2, 3)
    gb, = torch.autograd.grad(
        scores, out.target, sel, retain_graph=True, is_grads_batched=True)
    g0, = torch.autograd.grad(scores[:, 0].sum(), out.target)
    torch.testing.assert_close(gb[0], g0)


def test_encode_image_no_graph_and_attn_options(tiny, images):
    ref = tiny.encode_image(images)
    out = tiny.encode_image(images, target_grad=False, attn_layers=0)
    assert out.attn is None
    assert not out.target.requires_grad and not out.embedding.requires_grad
    torch.testing.assert_close(out.embedding, ref.embedding.detach())
    torch.testing.assert_close(out.target, ref.target.detach())
    # constructor default used when attn_layers is None; clamped to depth
    assert tiny.encode_image(images[:1]).attn.shape[1] == 2
    assert tiny.encode_image(images[:1], attn_layers=8).attn.shape[1] == 3
    with pytest.raises(ValueError, match='attn_layers'):
        tiny.encode_image(images[:1], attn_layers=-1)
    # target_grad=True works inside an outer no_grad
    with torch.no_grad():
        out = tiny.encode_image(images[:1])
    assert out.target.requires_grad and out.embedding.requires_grad
    # forward(): embeddings without graph
    emb = tiny(images)
    assert not emb.requires_grad
    torch.testing.assert_close(emb, ref.embedding.detach())
    with pytest.raises(ValueError, match='B, 3, H, W'):
        tiny.encode_image(images[0])


def test_encode_image_under_autocast(tiny, images):
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = tiny.encode_image(images[:1])
        g, = torch.autograd.grad(out.embedding.float().sum(), out.target)
        text = tiny.encode_text_from_strings(['dog'])
    assert out.attn.dtype == torch.float32
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    assert text.shape == (1, 32) and torch.isfinite(text).all()


def test_attention_and_target_match_open_clip(tiny, images):
    clip = _tiny(attn_layers=3)
    out = clip.encode_image(images)
    with torch.no_grad():
        _, attns, last_ln1 = _reference_tokens(clip, images)
    torch.testing.assert_close(out.attn, attns, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.target.detach(), last_ln1)


def test_pooling_matches_hand_computation(images):
    patch = _tiny(pooling='patch_mean')
    cls = _tiny(pooling='cls')
    assert torch.equal(patch.model.visual.proj, cls.model.visual.proj)
    visual = cls.model.visual
    with torch.no_grad():
        tokens, _, _ = _reference_tokens(cls, images)
        ln = visual.ln_post(tokens)
        hand_patch = (ln[:, 1:] @ visual.proj).mean(dim=1)
        hand_cls = ln[:, 0] @ visual.proj
        open_clip_emb = cls.model.encode_image(images)
    emb_patch = patch.encode_image(images).embedding.detach()
    emb_cls = cls.encode_image(images).embedding.detach()
    torch.testing.assert_close(emb_patch, hand_patch, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(emb_cls, hand_cls, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(emb_cls, open_clip_emb, atol=1e-5, rtol=1e-4)
    assert (emb_patch - emb_cls).abs().max() > 1e-2


def test_interpolate_pos_embed_hand_case():
    # cls row + a 1x2 grid with one channel: [0, 1] -> 1x4 with
    # align_corners=False samples at x = -0.25, 0.25, 0.75, 1.25 (clamped)
    pos = torch.tensor([[7.], [0.], [1.]])
    out = interpolate_pos_embed(pos, (1, 2), (1, 4))
    assert out.tolist() == [[7.], [0.], [0.25], [0.75], [1.]]
    # rows then columns (row-major grid): 2x1 -> 4x1 gives the same ramp
    out = interpolate_pos_embed(pos, (2, 1), (4, 1))
    assert out.tolist() == [[7.], [0.], [0.25], [0.75], [1.]]
    assert interpolate_pos_embed(pos, (1, 2), (1, 2)) is pos
    with pytest.raises(ValueError, match='rows'):
        interpolate_pos_embed(pos, (2, 2), (4, 4))


def test_non_square_input_matches_open_clip_at_that_size(tiny):
    """448x320: grid 28x20; same as open_clip's own forward on a model
    built for 448x320 with the bilinearly interpolated embedding."""
    clip = _tiny(pooling='cls', attn_layers=3)
    img = torch.randn(
        1, 3, 448, 320, generator=torch.Generator().manual_seed(2))
    out = clip.encode_image(img)
    assert out.grid == (28, 20)
    assert out.target.shape == (1, 1 + 28 * 20, 64)
    assert out.attn.shape == (1, 3, 561, 561)
    torch.testing.assert_close(
        out.attn.sum(-1), torch.ones(1, 3, 561), atol=1e-5, rtol=0)
    ref = open_clip.create_model(TINY_CLIP_NAME, force_image_size=(448, 320))
    state = dict(clip.model.state_dict())
    pos = state['visual.positional_embedding']
    grid = pos[1:].reshape(1, 14, 14, 64).permute(0, 3, 1, 2)
    grid = F.interpolate(
        grid, size=(28, 20), mode='bilinear', align_corners=False)
    state['visual.positional_embedding'] = torch.cat(
        [pos[:1], grid.permute(0, 2, 3, 1).reshape(-1, 64)])
    ref.load_state_dict(state)
    ref.eval()
    with torch.no_grad():
        expected = ref.encode_image(img)
    torch.testing.assert_close(
        out.embedding.detach(), expected, atol=1e-5, rtol=1e-4)


def test_odd_size_is_zero_padded(tiny):
    img = torch.randn(
        1, 3, 450, 321, generator=torch.Generator().manual_seed(3))
    padded, size = pad_to_patch_multiple(img, 16)
    assert size == (450, 321) and padded.shape == (1, 3, 464, 336)
    assert torch.equal(padded[..., :450, :321], img)
    assert padded[..., 450:, :].abs().sum() == 0
    assert padded[..., 321:].abs().sum() == 0
    same, size = pad_to_patch_multiple(padded, 16)
    assert same is padded and size == (464, 336)
    out = tiny.encode_image(img, target_grad=False)
    ref = tiny.encode_image(padded, target_grad=False)
    assert out.grid == (29, 21) and out.target.shape == (1, 1 + 29 * 21, 64)
    torch.testing.assert_close(out.embedding, ref.embedding)
    torch.testing.assert_close(out.attn, ref.attn)


# ----------------------------------------------------------------------
# text side
# ----------------------------------------------------------------------
def test_encode_text_matches_open_clip(tiny):
    texts = ['a photo of a dog.', 'cat', 'a clean origami aeroplane.']
    ids = tiny.tokenize(texts)
    with torch.no_grad():
        expected = tiny.model.encode_text(ids)
    out = tiny.encode_text(tiny.token_embedding(ids), tiny.eot_index(ids))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(
        tiny.encode_text_from_strings(texts), expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match='token'):
        tiny.encode_text(torch.zeros(2, 77, 16), torch.zeros(2).long())
    with pytest.raises(ValueError, match='eot_idx'):
        tiny.encode_text(tiny.token_embedding(ids), torch.zeros(2).long())


def _coop_prompt(clip, n_ctx=4, name='dog'):
    """Token embeddings of '[SOS] X*n_ctx name . [EOT]', the fixed parts."""
    ids = clip.tokenize([' '.join(['X'] * n_ctx) + f' {name}.'])
    emb = clip.token_embedding(ids)
    return emb[:, :1], emb[:, 1 + n_ctx:], clip.eot_index(ids)


def test_encode_text_context_gradients(tiny):
    prefix, suffix, eot = _coop_prompt(tiny)
    ctx = nn.Parameter(0.02 * torch.randn(1, 4, 32))
    feats = tiny.encode_text(torch.cat([prefix, ctx, suffix], 1), eot)
    loss = F.normalize(feats, dim=-1)[0, :5].sum()
    g, = torch.autograd.grad(loss, ctx, create_graph=True)
    assert g.abs().sum() > 0
    gg, = torch.autograd.grad((g**2).sum(), ctx)  # double backward
    assert torch.isfinite(gg).all() and gg.abs().sum() > 0


def test_encode_text_gradgradcheck(tiny):
    """First and second derivatives w.r.t. two context vectors agree with
    finite differences (float64 copy of the tiny text encoder)."""
    clip = _tiny().double()
    prefix, suffix, eot = _coop_prompt(clip, n_ctx=2)
    # the causal mask makes tokens after EOT irrelevant: keep T = EOT + 1
    t = int(eot[0]) + 1
    prefix, suffix = prefix.double(), suffix[:, :t - 3].double()
    w = torch.randn(
        32, dtype=torch.float64, generator=torch.Generator().manual_seed(4))

    def f(ctx):
        feats = clip.encode_text(torch.cat([prefix, ctx, suffix], 1), eot)
        return (F.normalize(feats, dim=-1) * w).sum(-1)

    ctx = (0.02 * torch.randn(1, 2, 32, dtype=torch.float64)).requires_grad_()
    assert f(ctx).shape == (1, )
    assert torch.autograd.gradcheck(f, (ctx, ), atol=1e-6, fast_mode=True)
    assert torch.autograd.gradgradcheck(f, (ctx, ), atol=1e-5, fast_mode=True)


def test_second_order_gradcam_reaches_text_context(tiny, images):
    """CAL-style: a loss on GradCAM maps (channel weights from
    autograd.grad(create_graph=True) w.r.t. target) trains the context."""
    prefix, suffix, eot = _coop_prompt(tiny)
    ctx = nn.Parameter(0.02 * torch.randn(1, 4, 32))
    text = tiny.encode_text(torch.cat([prefix, ctx, suffix], 1), eot)
    other = tiny.encode_text_from_strings(['ground', 'sky'])
    text = F.normalize(torch.cat([text, other]), dim=-1)
    out = tiny.encode_image(images)
    logits = tiny.logit_scale * F.normalize(out.embedding, dim=-1) @ text.t()
    score = logits.softmax(-1)[:, 0].sum()
    g, = torch.autograd.grad(score, out.target, create_graph=True)
    weights = g[:, 1:].mean(1, keepdim=True)  # (B, 1, C)
    cam = (out.target.detach()[:, 1:] * weights).sum(-1)  # (B, L)
    gc, = torch.autograd.grad(cam.square().mean(), ctx)
    assert torch.isfinite(gc).all() and gc.abs().sum() > 0


def test_block_forward_matches_native_block(tiny):
    blk = tiny.model.transformer.resblocks[0]
    x = torch.randn(2, 77, 32)
    mask = tiny.model.attn_mask
    with torch.no_grad():
        expected = blk(x, attn_mask=mask)
        out, w = block_forward(blk, x, attn_mask=mask, need_weights=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    assert torch.triu(w[0], diagonal=1).abs().max() == 0  # causal


# ----------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------
def _save_torchscript_archive(state_dict: dict, path: str) -> None:
    """Write ``state_dict`` as a TorchScript archive like OpenAI's release
    files (fp16 weights plus the input_resolution/context_length/vocab_size
    entries)."""
    root = nn.Module()
    for key, value in state_dict.items():
        *parents, leaf = key.split('.')
        m = root
        for p in parents:
            if p not in m._modules:
                m.add_module(p, nn.Module())
            m = m._modules[p]
        m.register_buffer(leaf, value)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.jit.script(root).save(path)


@pytest.fixture(scope='module')
def vit_b16_files(tmp_path_factory):
    """Random open_clip ViT-B-16 weights, saved in fp16 in the open_clip
    layout and as an OpenAI-style TorchScript archive."""
    torch.manual_seed(5)
    src = open_clip.create_model('ViT-B-16')
    sd = {k: v.half() for k, v in src.state_dict().items()}
    del src
    root = tmp_path_factory.mktemp('clip_ckpt')
    oc_path = str(root / 'vit_b16_open_clip.pth')
    torch.save(sd, oc_path)
    jit_path = str(root / 'ViT-B-16.pt')
    _save_torchscript_archive(
        dict(
            sd,
            input_resolution=torch.tensor(224),
            context_length=torch.tensor(77),
            vocab_size=torch.tensor(49408)), jit_path)
    return sd, oc_path, jit_path


_CHECK_KEYS = ('visual.conv1.weight', 'visual.positional_embedding',
               'visual.transformer.resblocks.11.attn.in_proj_weight',
               'visual.proj', 'token_embedding.weight',
               'transformer.resblocks.11.mlp.c_fc.weight', 'text_projection',
               'logit_scale')


def test_load_vit_b16_open_clip_layout(vit_b16_files):
    sd, path, _ = vit_b16_files
    clip = FrozenCLIP(model_name='ViT-B-16', pretrained=path, pooling='cls')
    loaded = clip.model.state_dict()
    for k in _CHECK_KEYS:
        assert loaded[k].dtype == torch.float32
        assert torch.equal(loaded[k], sd[k].float()), k
    assert not clip.quick_gelu and not model_quick_gelu(clip.model)
    assert (clip.patch_size, clip.embed_dim, clip.vision_width,
            clip.text_width, clip.num_layers) == (16, 512, 768, 512, 12)
    assert all(not p.requires_grad for p in clip.parameters())
    # the real architecture runs: 8 attention maps, cls == open_clip
    img = torch.randn(1, 3, 224, 224)
    out = clip.encode_image(img)
    assert out.attn.shape == (1, 8, 197, 197)
    with torch.no_grad():
        expected = clip.model.encode_image(img)
    torch.testing.assert_close(
        out.embedding.detach(), expected, atol=1e-4, rtol=1e-4)


def test_load_vit_b16_openai_torchscript(vit_b16_files):
    sd, _, path = vit_b16_files
    state, openai = read_clip_checkpoint(path)
    assert openai and 'input_resolution' not in state
    assert set(state) == set(sd)
    clip = FrozenCLIP(model_name='ViT-B-16', pretrained=path)
    loaded = clip.model.state_dict()
    for k in _CHECK_KEYS:
        assert torch.equal(loaded[k], sd[k].float()), k
    # OpenAI weights were trained with QuickGELU
    assert clip.quick_gelu and model_quick_gelu(clip.model)


def test_load_wrapped_state_dict_and_tag(tmp_path, monkeypatch):
    src = _tiny()
    sd = src.model.state_dict()
    path = str(tmp_path / 'wrapped.pth')
    wrapped = {'module.' + k: v for k, v in sd.items()}
    torch.save(dict(state_dict=wrapped, meta=dict()), path)
    clip = FrozenCLIP(model_name=TINY_CLIP_NAME, pretrained=path)
    for k, v in clip.model.state_dict().items():
        assert torch.equal(v, sd[k]), k
    # a tag resolves through open_clip's pretrained registry + download
    plain = str(tmp_path / 'plain.pth')
    torch.save(sd, plain)
    tag_cfg = dict(
        url='https://example.invalid/w.pt',
        quick_gelu=True,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25))
    monkeypatch.setattr(open_clip, 'get_pretrained_cfg',
                        lambda name, tag: tag_cfg if tag == 'mytag' else {})
    monkeypatch.setattr(
        open_clip, 'download_pretrained', lambda cfg, cache_dir=None: plain)
    clip = FrozenCLIP(model_name=TINY_CLIP_NAME, pretrained='mytag')
    assert clip.quick_gelu and model_quick_gelu(clip.model)
    assert clip.mean == (127.5, 127.5, 127.5)
    assert clip.std == (63.75, 63.75, 63.75)
    assert torch.equal(clip.model.visual.proj, sd['visual.proj'])


def test_loading_errors(tmp_path):
    with pytest.raises(ValueError, match='Unknown open_clip model name') as e:
        FrozenCLIP(model_name='ViT-B-61', pretrained=None)
    msg = str(e.value)
    assert 'ViT-B-16' in msg and 'open_clip.list_models()' in msg
    assert len(msg) < 2000
    missing = osp.join(str(tmp_path), 'nope', 'ViT-B-16.pt')
    with pytest.raises(FileNotFoundError) as e:
        FrozenCLIP(model_name='ViT-B-16', pretrained=missing)
    assert missing in str(e.value) and "'openai'" in str(e.value)
    with pytest.raises(ValueError, match='ResNet'):
        FrozenCLIP(model_name='RN50', pretrained=None)
    bad = str(tmp_path / 'bad.pth')
    torch.save({'visual.conv1.weight': torch.zeros(1)}, bad)
    with pytest.raises(RuntimeError, match='bad.pth'):
        FrozenCLIP(model_name=TINY_CLIP_NAME, pretrained=bad)


# ----------------------------------------------------------------------
# base config
# ----------------------------------------------------------------------
def test_base_config(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'models', 'clip_vit_b16.py'))
    assert cfg.clip == dict(
        type='FrozenCLIP',
        model_name='ViT-B-16',
        pretrained='openai',
        pooling='patch_mean',
        attn_layers=8)
    clip = MODELS.build(
        dict(cfg.clip, model_name=TINY_CLIP_NAME, pretrained=None))
    pre = cfg.clip_data_preprocessor
    assert pre.mean == pytest.approx(list(clip.mean))
    assert pre.std == pytest.approx(list(clip.std))
    assert pre.size_divisor == clip.patch_size
    preprocessor = MODELS.build(pre)
    raw = torch.full((3, 20, 20), 0, dtype=torch.uint8)
    out = preprocessor(dict(inputs=[raw], data_samples=None))['inputs']
    expected = -torch.tensor(clip.mean) / torch.tensor(clip.std)
    torch.testing.assert_close(out[0, :, 0, 0], expected)
    assert math.isclose(float(clip.logit_scale), 1 / 0.07, rel_tol=1e-5)
