"""WeCLIP / WeCLIP+ as an mmseg segmentor (issue 26): heads and decoder,
forward, online pseudo labels, losses, one training step, predict modes,
tools/train.py and tools/test.py on the tiny configs (pseudo labels written
as seeds), the checkpoint converter, the transforms and the LR schedule."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss import functional as W

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_PLUS = osp.join(
    REPO, 'configs', 'weclip',
    'weclip-plus_tiny-clip-tiny-dinov2_1xb2-2iter_voc-mini-64x64.py')
V1 = osp.join(REPO, 'configs', 'weclip',
              'weclip_vit-b16_1xb4-30k_voc12aug-320x320.py')
TINY_V1_OVERRIDES = dict(
    data_preprocessor=dict(size=(64, 64)),
    clip=dict(model_name='mmwsss-tiny-ViT-16', pretrained=None),
    num_blocks=2,
    head_blocks=2,
    embed_dim=32,
    decoder_heads=2)


def tiny_model(v1: bool = False, **kwargs):
    torch.manual_seed(0)
    cfg = Config.fromfile(V1 if v1 else TINY_PLUS)
    if v1:
        cfg.merge_from_dict(dict(model=TINY_V1_OVERRIDES))
    cfg.merge_from_dict(dict(model=kwargs))
    return MODELS.build(cfg.model)


def samples(labels, size=(64, 64), **meta):
    return [
        SegDataSample(
            metainfo=dict(
                img_labels=lb, img_shape=size, ori_shape=size, **meta))
        for lb in labels
    ]


def set_iter(it: int) -> None:
    MessageHub.get_current_instance().update_info('iter', it)


@pytest.fixture(autouse=True)
def _iter_zero():
    set_iter(0)
    yield
    set_iter(0)


# ----------------------------------------------------------------------
# heads and decoder
# ----------------------------------------------------------------------
def test_head_and_decoder_keys_are_the_authors():
    model = tiny_model()
    keys = set(model.state_dict())
    for k in ('decoder_fts_fuse.linears_modulelist.0.proj.weight',
              'decoder_fts_fuse.linears_modulelist.0.proj_2.bias',
              'decoder_fts_fuse.linear_fuse.weight',
              'dino_decoder_fts_fuse.linears_modulelist.0.proj.weight',
              'decoder.transformer.resblocks.0.attn.in_proj_weight',
              'decoder.transformer.resblocks.2.attn.out_proj.bias',
              'decoder.transformer.resblocks.1.ln_1.weight',
              'decoder.transformer.resblocks.1.mlp.c_fc.weight',
              'decoder.transformer.resblocks.1.mlp.c_proj.bias',
              'decoder.transformer.resblocks.1.ln_2.bias',
              'decoder.linear_pred.weight'):
        assert k in keys, k
    v1 = tiny_model(v1=True)
    assert len(v1.decoder_fts_fuse.linears_modulelist) == 2
    assert not hasattr(v1, 'dino_decoder_fts_fuse') and v1.dino is None


def test_decoder_block_matches_hand_computation():
    from mmwsss.models.weclip.heads import DecoderTransformer
    torch.manual_seed(1)
    dec = DecoderTransformer(width=8, layers=1, heads=2, num_classes=3)
    x = torch.randn(1, 8, 2, 3)
    logits, attns = dec(x)
    blk = dec.transformer.resblocks[0]
    t = x.flatten(2)[0].t()  # (6, 8)
    y = F.layer_norm(t, (8, ), blk.ln_1.weight, blk.ln_1.bias, 1e-5)
    q, k, v = (y @ blk.attn.in_proj_weight.t() +
               blk.attn.in_proj_bias).chunk(3, dim=-1)
    heads = []
    probs = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        a = ((q[:, sl] / 2.0) @ k[:, sl].t()).softmax(-1)  # 1/sqrt(4)
        probs.append(a)
        heads.append(a @ v[:, sl])
    t = t + torch.cat(heads, -1) @ blk.attn.out_proj.weight.t() + \
        blk.attn.out_proj.bias
    z = F.layer_norm(t, (8, ), blk.ln_2.weight, blk.ln_2.bias, 1e-5)
    hdn = z @ blk.mlp.c_fc.weight.t() + blk.mlp.c_fc.bias
    hdn = hdn * torch.sigmoid(1.702 * hdn)
    t = t + hdn @ blk.mlp.c_proj.weight.t() + blk.mlp.c_proj.bias
    want = torch.einsum('oc,lc->ol', dec.linear_pred.weight[:, :, 0, 0],
                        t) + dec.linear_pred.bias[:, None]
    torch.testing.assert_close(logits[0].flatten(1), want, atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(attns[0][0], (probs[0] + probs[1]) / 2)


def test_fuse_head_concatenates_in_layer_order():
    from mmwsss.models.weclip.heads import SegFormerFuseHead
    torch.manual_seed(0)
    head = SegFormerFuseHead(4, num_inputs=2, embed_dim=3, dropout=0.0)
    feats = torch.randn(2, 1, 4, 2, 2)
    out = head(feats)
    parts = []
    for i in range(2):
        mlp = head.linears_modulelist[i]
        tok = feats[i, 0].flatten(1).t()
        parts.append(
            (F.relu(tok @ mlp.proj.weight.t() + mlp.proj.bias) @
             mlp.proj_2.weight.t() + mlp.proj_2.bias).t())
    fused = head.linear_fuse.weight[:, :, 0, 0] @ torch.cat(parts) + \
        head.linear_fuse.bias[:, None]
    torch.testing.assert_close(out[0].flatten(1), fused)
    with pytest.raises(ValueError, match='expects'):
        head(feats[:1])


# ----------------------------------------------------------------------
# forward, pseudo labels, losses, training step
# ----------------------------------------------------------------------
def test_forward_combines_the_branches():
    model = tiny_model().eval()
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        f = model.extract_feat(x)
    assert f['grid'] == (4, 5) and len(f['tokens']) == 2
    torch.testing.assert_close(f['seg'],
                               0.5 * f['seg_clip'] + 0.5 * f['seg_dino'])
    assert f['seg'].shape == (2, 21, 4, 5)
    assert f['attn_pred'].shape == (2, 20, 20)
    assert 0 < float(f['attn_pred'].min()) and float(f['attn_pred'].max()) < 1


def test_grad_cams_equal_the_authors_restricted_softmax():
    """The batched masked softmax gives each pair the CAM of the authors'
    per-image text matrix [fg[keys]; bg]."""
    from mmwsss.models.weclip.pseudo_labels import clip_grad_cams
    model = tiny_model().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        f = model.extract_feat(x)
    text = model.text_features()
    keys = [14, 2]  # person before bird: the authors' XML order
    tok = f['tokens'][-2]
    allowed = torch.ones(2, text.shape[0], dtype=torch.bool)
    allowed[:, :20] = False
    allowed[:, keys] = True
    ours, _ = clip_grad_cams(model.clip, tok, text, torch.tensor([0, 0]),
                             torch.tensor(keys), allowed, (4, 4))
    theirs_text = torch.cat([text[keys], text[20:]])
    for j in range(2):
        logits, leaf, _ = model.clip.last_block_logits(tok, theirs_text)
        g, = torch.autograd.grad(logits.softmax(-1)[0, j], leaf)
        w = g[0, 1:].mean(0)
        cam = (leaf.detach()[0, 1:] @ w).clamp(min=0).reshape(4, 4)
        torch.testing.assert_close(
            ours[j], W.scale_grad_cam(cam[None])[0], atol=1e-5, rtol=1e-4)


def test_pseudo_labels_hold_only_image_classes():
    model = tiny_model().eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        f = model.extract_feat(x)
    labels = model.pseudo_labels(x, f, [[0, 14], [6], []], [(64, 64)] * 2 +
                                 [(30, 20)])
    assert set(labels[0].unique().tolist()) <= {0, 1, 15}
    assert set(labels[1].unique().tolist()) <= {0, 7}
    assert labels[1].max() == 7  # one class: its own map is the max
    assert labels[2].shape == (30, 20) and not labels[2].any()


def test_affinity_switch_and_self_correction_follow_the_iteration(
        monkeypatch):
    calls = []
    for name in ('select_attention_affinity', 'mean_attention_affinity',
                 'self_correct_labels'):
        fn = getattr(W, name)
        monkeypatch.setattr(
            W, name,
            lambda *a, _fn=fn, _n=name, **k: calls.append(_n) or _fn(*a, **k))
    x = torch.randn(2, 3, 64, 64)
    ds = samples([[1, 15], [7]])
    v1 = tiny_model(v1=True).train()
    set_iter(15000)  # not yet past the switch: the mean of 8 maps
    v1.loss(x, ds)
    assert calls == ['mean_attention_affinity'] * 2
    calls.clear()
    set_iter(15001)
    losses = v1.loss(x, ds)
    assert calls == ['select_attention_affinity'] * 2
    assert set(losses) == {'loss_seg', 'loss_aff', 'pseudo_fg'}
    calls.clear()
    plus = tiny_model().train()
    set_iter(18000)
    plus.loss(x, ds)
    assert calls == ['select_attention_affinity'] * 2
    calls.clear()
    set_iter(18001)
    losses = plus.loss(x, ds)
    assert 'self_correct_labels' in calls
    assert set(losses) == {
        'loss_seg', 'loss_aff', 'loss_dice', 'loss_mutual', 'pseudo_fg'
    }


@pytest.mark.parametrize('v1', [False, True])
def test_one_training_step_updates_only_heads_and_decoder(v1):
    from mmengine.optim import build_optim_wrapper
    model = tiny_model(v1=v1).train()
    cfg = Config.fromfile(TINY_PLUS)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = dict(
        inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=samples([[1, 15], [7]]))
    log = model.train_step(data, wrapper)
    assert torch.isfinite(log['loss'])
    changed = {k for k, v in model.state_dict().items()
               if not torch.equal(v, before[k])}
    trained = ('decoder_fts_fuse.', 'dino_decoder_fts_fuse.', 'decoder.')
    assert changed and all(k.startswith(trained) for k in changed)
    assert any(k.startswith('decoder.transformer') for k in changed)
    assert not any(p.requires_grad for p in model.clip.parameters())
    if not v1:
        assert not any(p.requires_grad for p in model.dino.parameters())


# ----------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------
def test_predict_whole_and_msc_flip_as_the_authors():
    model = tiny_model().eval()
    x = torch.randn(1, 3, 70, 100)
    ds = samples([[1]], size=(70, 100))
    with torch.no_grad():
        out = model.predict(x, ds)[0]
        base = model._forward(x)
    want = F.interpolate(base, (70, 100), mode='bilinear')[0]
    torch.testing.assert_close(out.seg_logits.data, want)
    assert out.pred_sem_seg.data.shape == (1, 70, 100)
    torch.testing.assert_close(out.pred_sem_seg.data[0], want.argmax(0))

    model.test_cfg.update(mode='msc_flip', resize_long=80, scales=(1.0, 1.5),
                          flip=True)
    with torch.no_grad():
        out = model.predict(x, samples([[1]], size=(70, 100)))[0]
        x1 = F.interpolate(x, (56, 80), mode='bilinear')  # int(70 * 0.8)
        s1 = model._forward(torch.cat([x1, x1.flip(-1)]))
        x2 = F.interpolate(x1, scale_factor=1.5, mode='bilinear')
        s2 = F.interpolate(
            model._forward(torch.cat([x2, x2.flip(-1)])), s1.shape[-2:],
            mode='bilinear')
        msc = ((s1[0] + s1[1].flip(-1)) / 2 + (s2[0] + s2[1].flip(-1)) / 2) / 2
    assert x2.shape[-2:] == (84, 120) and s1.shape[-2:] == (3, 5)
    torch.testing.assert_close(
        out.seg_logits.data,
        F.interpolate(msc[None], (70, 100), mode='bilinear')[0])


def test_predict_undoes_a_tta_flip_and_writes_pseudo_labels():
    model = tiny_model().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        out = model.predict(
            x,
            samples([[1]], size=(64, 96), flip=True,
                    flip_direction='horizontal'))[0]
        want = F.interpolate(model._forward(x), (64, 96),
                             mode='bilinear')[0].flip(-1)
    torch.testing.assert_close(out.seg_logits.data, want)

    model.test_cfg.update(output='pseudo')
    with torch.no_grad():
        out = model.predict(
            x, [SegDataSample(metainfo=dict(
                img_labels=[7, 15], img_shape=(64, 96),
                ori_shape=(100, 150)))])[0]
    pred = out.pred_sem_seg.data
    assert pred.shape == (1, 100, 150)
    assert set(pred.unique().tolist()) <= {0, 7, 15}


def test_predict_with_crf_reads_the_image(voc_mini_root):
    pytest.importorskip('pydensecrf')
    from mmwsss.io import read_rgb_image
    path = osp.join(voc_mini_root, 'JPEGImages', '2007_000032.jpg')
    h, w = read_rgb_image(path).shape[:2]
    model = tiny_model().eval()
    model.test_cfg.update(crf=True)
    x = torch.randn(1, 3, h, w)
    with torch.no_grad():
        out = model.predict(
            x, samples([[1]], size=(h, w), img_path=path))[0]
    assert out.pred_sem_seg.data.shape == (1, h, w)
    assert out.pred_sem_seg.data.max() < 21


# ----------------------------------------------------------------------
# tools: train, seeds, converter
# ----------------------------------------------------------------------
def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """tools/train.py on the tiny WeCLIP+ config for 2 iterations."""
    work = str(tmp_path_factory.mktemp('weclip_train'))
    _run([osp.join(REPO, 'tools', 'train.py'), TINY_PLUS, '--work-dir',
          work], cwd=REPO)
    return work


def test_train_tool_runs_two_iterations(trained):
    ckpt = torch.load(osp.join(trained, 'iter_2.pth'), map_location='cpu')
    assert any(k.startswith('dino_decoder_fts_fuse.')
               for k in ckpt['state_dict'])


def test_pseudo_labels_as_seeds_on_a_folder_for_stage_two(
        voc_mini_root, tmp_path):
    """tools/test.py with output='pseudo' and SeedMetric on a 3-class folder
    dataset: one seed PNG per image at its size, holding only its classes;
    PseudoLabelDataset serves them to a second stage."""
    from _helpers import PIPELINE_CLASSES, PIPELINE_TRAIN, make_label_folder
    from mmseg.registry import DATASETS

    from mmwsss.io import read_seed_png
    folder, seed_dir = str(tmp_path / 'data'), str(tmp_path / 'seeds')
    labels = make_label_folder(voc_mini_root, folder, PIPELINE_TRAIN[:4])
    names = list(PIPELINE_CLASSES)
    folder_ds = dict(
        type='ImageLabelFolderDataset',
        data_root=folder,
        label_file='labels.json',
        classes='classes.txt',
        data_prefix=dict(img_path='images', seg_map_path='masks'))
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    cfg = tmp_path / 'seeds_cfg.py'
    cfg.write_text(
        f"_base_ = [{TINY_PLUS!r}]\n"
        f"model = dict(dataset=None, classes={names!r}, "
        "test_cfg=dict(output='pseudo'))\n"
        "test_dataloader = dict(dataset=dict(_delete_=True, "
        f"pipeline={test_pipeline!r}, test_mode=True, **{folder_ds!r}))\n"
        "test_evaluator = dict(_delete_=True, type='SeedMetric', "
        f"seed_dir={seed_dir!r}, out_dir={str(tmp_path)!r})\n")
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(cfg)).model)
    assert model.num_classes == 4
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    _run([osp.join(REPO, 'tools', 'test.py'), str(cfg), ckpt, '--work-dir',
          str(tmp_path / 'work')], cwd=REPO)
    assert sorted(os.listdir(seed_dir)) == sorted(
        i + '.png' for i in PIPELINE_TRAIN[:4])
    for img_id, present in labels.items():
        seed = read_seed_png(osp.join(seed_dir, img_id + '.png'))
        mask = np.array(
            __import__('PIL.Image').Image.open(
                osp.join(folder, 'masks', img_id + '.png')))
        assert seed.shape == mask.shape
        allowed = {0} | {names.index(n) + 1 for n in present}
        assert set(np.unique(seed).tolist()) <= allowed
    ds = DATASETS.build(
        dict(
            type='PseudoLabelDataset',
            seed_dir=seed_dir,
            dataset=folder_ds,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ]))
    assert len(ds) == 4
    assert ds[0]['data_samples'].gt_sem_seg.data.max() <= 3


def test_converter_loads_the_authors_state_dict(tmp_path):
    """A state dict in the authors' layout (DDP prefix, their frozen CLIP,
    DINOv2 and PAR keys) converts and loads into WeCLIP+."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import convert_weclip_checkpoint as tool
    src_model = tiny_model()
    theirs = {
        'module.encoder.visual.conv1.weight': torch.zeros(4, 3, 16, 16),
        'module.encoder.transformer.resblocks.11.attn.in_proj_weight':
        torch.zeros(3, 3),
        'module.dino_encoder.blocks.0.norm1.weight': torch.zeros(4),
        'module.par.kernel': torch.zeros(8, 1, 3, 3),
    }
    for k, v in src_model.state_dict().items():
        if k.startswith(('decoder_fts_fuse.', 'dino_decoder_fts_fuse.',
                         'decoder.')):
            theirs['module.' + k] = v.clone()
    src, dst = str(tmp_path / 'wetr_iter_30000.pth'), str(tmp_path / 'o.pth')
    torch.save(theirs, src)
    assert tool.main([src, dst]) == 0
    state = torch.load(dst, map_location='cpu')['state_dict']
    assert not any(k.startswith(('encoder.', 'dino_encoder.', 'par.',
                                 'module.')) for k in state)
    torch.manual_seed(123)
    fresh = tiny_model()
    missing, unexpected = fresh.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(k.startswith(('clip.', 'dino.')) for k in missing)
    x = torch.randn(1, 3, 64, 64)
    src_model.eval(), fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh._forward(x), src_model._forward(x))
    torch.save({'model.fc.weight': torch.zeros(2)}, src)
    assert tool.main([src, dst]) == 2


# ----------------------------------------------------------------------
# transforms and schedule
# ----------------------------------------------------------------------
def test_random_ratio_scale_truncates_like_the_authors():
    from mmwsss.datasets.transforms import RandomRatioScale
    np.random.seed(3)
    ratio = np.random.uniform(0.5, 2.0)
    np.random.seed(3)
    img = np.random.randint(0, 255, (37, 51, 3), dtype=np.uint8)
    np.random.seed(3)
    out = RandomRatioScale((0.5, 2.0)).transform(dict(img=img))
    assert out['img'].shape[:2] == (int(ratio * 37), int(ratio * 51))


def test_random_pad_crop_pads_with_raw_zero_at_a_random_offset():
    from mmwsss.datasets.transforms import RandomPadCrop
    img = np.full((3, 4, 3), 200, np.uint8)
    lab = np.ones((3, 4), np.uint8)
    np.random.seed(0)
    pad_y, pad_x = np.random.randint(6 - 3 + 1), np.random.randint(6 - 4 + 1)
    np.random.seed(0)
    out = RandomPadCrop(6).transform(
        dict(img=img, gt_seg_map=lab, seg_fields=['gt_seg_map']))
    want = np.zeros((6, 6), np.uint8)
    want[pad_y:pad_y + 3, pad_x:pad_x + 4] = 200
    np.testing.assert_array_equal(out['img'][..., 0], want)
    assert ((out['gt_seg_map'] == 255) == (want == 0)).all()
    big = np.arange(10 * 12 * 3, dtype=np.int64).reshape(10, 12, 3) % 255
    out = RandomPadCrop(6).transform(dict(img=big.astype(np.uint8)))
    assert out['img'].shape == (6, 6, 3) and out['img_shape'] == (6, 6)


def test_poly_warmup_lr_follows_the_authors_factor():
    from mmwsss.engine import PolyWarmupLR
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=2e-4)
    sched = PolyWarmupLR(opt, warmup_iters=2, max_iters=4)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    want = [1e-6, 1 - 0.5 * (1 - 1e-6), 0.5, 0.25, 0.25, 0.25]
    np.testing.assert_allclose(lrs, [2e-4 * m for m in want], rtol=1e-9)
