"""FMAPromptModel on a tiny random CLIP: phases, what trains and what stays
frozen, checkpoint contents, prediction output, bad input."""
import copy
import os
from os.path import join as osp_join

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from _helpers import build_tiny_prompt_model as build_model
from _helpers import voc_mini_crops


@pytest.fixture(scope='module')
def crops(voc_mini_root):
    """4 bundled training images as 64x64 crops with their GT as D_C."""
    return voc_mini_crops(voc_mini_root, 4)


def _prep(model, batch):
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    return data['inputs'], data['data_samples']


def _step(model, batch, lr=0.05):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=lr)
    inputs, samples = _prep(model, batch)
    losses = model.loss(inputs, samples)
    loss = sum(losses.values())
    opt.zero_grad()
    loss.backward()
    opt.step()
    return losses


def test_only_prompts_train_and_clip_stays_frozen(crops):
    model = build_model()
    model.train()
    assert not model.clip.model.training  # CLIP in eval even in train mode
    clip_before = {k: v.clone() for k, v in model.clip.state_dict().items()}
    cls0 = model.cls_prompt.ctx.detach().clone()
    seg0 = model.seg_prompt.ctx.detach().clone()

    model.phase = 'cls'
    losses = _step(model, crops)
    assert set(losses) == {'loss_mcl'}
    assert not torch.equal(model.cls_prompt.ctx, cls0)
    assert torch.equal(model.seg_prompt.ctx, seg0)

    cls1 = model.cls_prompt.ctx.detach().clone()
    model.phase = 'seg'
    losses = _step(model, crops)
    assert set(losses) == {'loss_cal_fg', 'loss_cal_bg'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert not torch.equal(model.seg_prompt.ctx, seg0)
    assert torch.equal(model.cls_prompt.ctx, cls1)

    for k, v in model.clip.state_dict().items():
        assert torch.equal(v, clip_before[k]), k
    assert all(not p.requires_grad for p in model.clip.parameters())


def test_losses_decrease(crops):
    model = build_model()
    model.train()
    for phase, key in (('cls', 'loss_mcl'), ('seg', 'loss_cal_fg')):
        model.phase = phase
        values = [_step(model, crops, lr=0.5)[key].item() for _ in range(25)]
        assert values[-1] < values[0], (phase, values)


class WeightedCAMLoss(torch.nn.Module):
    """Test loss: a fixed weighting of the raw CAMs (no detached terms, so
    its true gradient is what autograd must return)."""

    def forward(self, cams, present, lb):
        w = torch.linspace(-1, 1, cams[0].numel(), dtype=cams.dtype)
        return {'loss_w': (cams.flatten(1) * w).sum()}


MODELS.register_module(module=WeightedCAMLoss, force=True)


def test_cam_gradient_wrt_prompts_matches_finite_differences(crops):
    """The seg-phase loss is differentiable w.r.t. the seg prompts through
    the second-order Softmax-GradCAM: the gradient along a random direction
    equals a central difference (float64). (CALLoss itself detaches its max
    term as the authors' code does, so the check uses a plain loss.)"""
    model = build_model(cal_loss=dict(type='WeightedCAMLoss')).double()
    model.train()
    model.phase = 'seg'
    inputs, samples = _prep(model, crops)
    inputs = inputs.double()
    ctx = model.seg_prompt.ctx

    def loss():
        return sum(model.loss(inputs, samples).values())

    (grad, ) = torch.autograd.grad(loss(), ctx)
    torch.manual_seed(3)
    d = torch.randn_like(ctx)
    eps = 1e-5
    with torch.no_grad():
        ctx.add_(eps * d)
        plus = loss().item()
        ctx.sub_(2 * eps * d)
        minus = loss().item()
        ctx.add_(eps * d)
    fd = (plus - minus) / (2 * eps)
    analytic = (grad * d).sum().item()
    assert abs(analytic) > 0
    assert abs(fd - analytic) <= 1e-6 + 1e-4 * abs(fd), (fd, analytic)


def test_joint_phase(crops):
    model = build_model(
        phase='joint',
        joint_seeder=dict(type='ThresholdSeeder', bg_threshold=0.3))
    model.train()
    losses = _step(model, crops)
    assert set(losses) == {'loss_mcl', 'loss_cal_fg', 'loss_cal_bg'}


def test_checkpoint_holds_prompts_only():
    model = build_model()
    state = model.state_dict()
    assert sorted(state) == ['cls_prompt.ctx', 'seg_prompt.ctx']
    other = build_model()
    with torch.no_grad():
        other.cls_prompt.ctx.add_(1)
    other.load_state_dict(state)
    assert torch.equal(other.cls_prompt.ctx, model.cls_prompt.ctx)
    # CLIP keys in a state dict are ignored, a prompt key missing fails
    other.load_state_dict({**state, 'clip.model.foo': torch.zeros(1)})
    with pytest.raises(RuntimeError, match='seg_prompt.ctx'):
        other.load_state_dict({'cls_prompt.ctx': state['cls_prompt.ctx']})


def test_predict_returns_seed_samples(crops):
    model = build_model()
    model.eval()
    batch = copy.deepcopy(crops)
    for ds in batch['data_samples']:  # pretend the originals were bigger
        ds.set_metainfo(dict(ori_shape=(70, 90)))
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    for ds in out:
        seed = ds.pred_sem_seg.data
        assert seed.shape == (1, 70, 90)
        allowed = {0} | {int(c) for c in ds.metainfo['img_labels']}
        assert set(seed.unique().tolist()) <= allowed
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (4, 20)


def test_bad_input_errors():
    model = build_model()
    model.train()
    x = torch.zeros(1, 3, 32, 32)
    bad = SegDataSample(metainfo=dict(img_labels=[21], img_path='x/a.jpg'))
    with pytest.raises(ValueError, match=r'x/a.jpg.*class id 21'):
        model.loss(x, [bad])
    none = SegDataSample(metainfo=dict(img_path='x/b.jpg'))
    with pytest.raises(KeyError, match='x/b.jpg.*img_labels'):
        model.loss(x, [none])
    empty = SegDataSample(metainfo=dict(img_labels=[], img_path='x/c.jpg'))
    with pytest.raises(ValueError, match='x/c.jpg.*no foreground'):
        model.loss(x, [empty])
    with pytest.raises(ValueError, match='phase'):
        model.phase = 'both'
    # issue 13 changed this: a class_names list of another length than
    # VOC's 20 is now a custom class list (it used to raise); a prompt-name
    # list that does not fit the class list still raises.
    with pytest.raises(ValueError, match='prompt_names: 1 names for 2'):
        build_model(classes=['dog', 'cat'], class_names=['dog'])


def test_all_background_seed_gives_zero_loss_with_graph():
    model = build_model(phase='seg')
    model.train()
    s = SegDataSample(metainfo=dict(img_labels=[3], img_path='a.jpg'))
    s.gt_sem_seg = PixelData(data=torch.zeros(1, 32, 32, dtype=torch.long))
    losses = model.loss(torch.zeros(1, 3, 32, 32), [s])
    total = sum(losses.values())
    assert total.item() == 0 and total.requires_grad
    total.backward()


def test_sams_seeder_in_predict(crops, gt_mask_cache):
    """With SAMS and GT-region masks, every labelled GT region is painted
    with one class (whole masks are uniform)."""
    model = build_model(
        seeder=dict(
            seg=dict(type='SAMSSeeder', alpha=0.7, mask_dir=gt_mask_cache)))
    model.eval()
    batch = copy.deepcopy(crops)
    data = model.data_preprocessor(batch, False)
    # ori_shape must be the cache's (original image) size
    from mmwsss.io import read_seed_png
    for ds in data['data_samples']:
        gt = read_seed_png(ds.metainfo['seg_map_path'])
        ds.set_metainfo(dict(ori_shape=gt.shape))
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    for ds in out:
        gt = read_seed_png(ds.metainfo['seg_map_path'])
        seed = ds.pred_sem_seg.data[0].numpy()
        for c in np.unique(gt):
            if c != 255:
                assert len(np.unique(seed[gt == c])) == 1


def test_predict_reuses_finished_seeds_and_outputs_cams(crops, tmp_path):
    """A rerun reads finished seeds back instead of recomputing them
    (resumable seed writing); output_cams adds the CAMs as seg_logits."""
    from mmwsss.io import seed_path, write_seed_png
    batch = copy.deepcopy(crops)
    model = build_model(reuse_seeds_from=str(tmp_path))
    model.eval()
    data = model.data_preprocessor(batch, False)
    first = data['data_samples'][0]
    done = np.full(tuple(first.metainfo['ori_shape'][:2]), 7, np.uint8)
    write_seed_png(seed_path(str(tmp_path), first.img_path), done)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    assert (out[0].pred_sem_seg.data == 7).all()  # read back
    assert not (out[1].pred_sem_seg.data == 7).all()  # computed

    model.output_cams = True
    data = model.data_preprocessor(copy.deepcopy(crops), False)
    with torch.no_grad():
        out = model.predict(data['inputs'], data['data_samples'])
    for ds in out:
        logits = ds.seg_logits.data
        assert logits.shape == (21, ) + ds.pred_sem_seg.shape
        labels = {int(c) for c in ds.metainfo['img_labels']}
        for c in range(21):
            if c not in labels:
                assert logits[c].abs().sum() == 0
        assert 0 <= logits.min() and logits.max() <= 1


class _Records:
    """Collects what loading says: the messages of an mmengine logger (it
    does not propagate to pytest's caplog) and stdout (mmengine prints the
    key mismatch with ``print_log(logger=None)``)."""

    def __init__(self, logger, capsys):
        import logging
        self.logger, self.capsys, self.lines = logger, capsys, []
        self.handler = logging.Handler()
        self.handler.emit = lambda r: self.lines.append(r.getMessage())

    def __enter__(self):
        self.capsys.readouterr()
        self.logger.addHandler(self.handler)
        return self.lines

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.lines.append(self.capsys.readouterr().out)


def _seed_runner(repo_root, tmp_path, **model):
    """tools/test.py's runner for configs/fma/voc_mini_seeds_demo.py."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/fma/voc_mini_seeds_demo.py'))
    cfg.work_dir = str(tmp_path)
    cfg.launcher = 'none'
    cfg.model.update(model)
    return Runner.from_cfg(cfg)


def test_checkpoint_without_prompts_is_an_error(repo_root, tmp_path, capsys):
    """Issue 12: ``tools/test.py CONFIG none`` (or a stage-2 checkpoint
    given by mistake) used to exit 0 with seeds from untrained prompts; the
    only sign was the missing-key list that every correct run printed too
    (mmengine never calls ``load_state_dict``)."""
    runner = _seed_runner(repo_root, tmp_path)
    prompts = {k: v.clone() for k, v in runner.model.state_dict().items()}
    with pytest.raises(RuntimeError) as err:
        runner.load_checkpoint('none')
    msg = str(err.value)
    assert 'cls_prompt.ctx' in msg and 'seg_prompt.ctx' in msg, msg
    assert 'it is empty' in msg and 'allow_untrained_prompts' in msg, msg
    deeplab = tmp_path / 'deeplab.pth'
    torch.save(
        {
            'state_dict': {
                'backbone.conv1.weight': torch.zeros(2),
                'decode_head.conv_seg.weight': torch.zeros(2)
            },
            'meta': {}
        }, deeplab)
    with pytest.raises(RuntimeError, match="'backbone.conv1.weight'"):
        runner.load_checkpoint(str(deeplab))
    # a correct checkpoint loads without a word about CLIP's frozen keys
    good = tmp_path / 'prompts.pth'
    prompts = {k: v + 1 for k, v in prompts.items()}
    torch.save({'state_dict': prompts, 'meta': {}}, good)
    with _Records(runner.logger, capsys) as lines:
        runner.load_checkpoint(str(good))
    text = '\n'.join(lines)
    assert 'missing keys' not in text and 'clip.' not in text, text
    assert torch.equal(runner.model.cls_prompt.ctx, prompts['cls_prompt.ctx'])


def test_untrained_prompts_on_purpose(repo_root, tmp_path, capsys):
    runner = _seed_runner(repo_root, tmp_path, allow_untrained_prompts=True)
    before = runner.model.seg_prompt.ctx.clone()
    with _Records(runner.logger, capsys) as lines:
        runner.load_checkpoint('none')
    text = '\n'.join(lines)
    assert 'untrained prompts' in text and 'clip.' not in text, text
    assert torch.equal(runner.model.seg_prompt.ctx, before)


def test_seed_rerun_skips_finished_unreadable_image(repo_root, tmp_path,
                                                    gt_mask_cache):
    """Issue 12: a corrupt JPEG whose seed already exists stopped the rerun
    of tools/test.py CONFIG CKPT (mmcv's assert in LoadImageFromFile); it
    is now skipped (FinishedSeedsHook in the seed configs) and any other
    unreadable image is one error naming it."""
    import shutil

    from mmwsss.io import read_seed_png
    data = tmp_path / 'voc'
    shutil.copytree(osp_join(repo_root, 'data', 'voc_mini'), data)
    split = data / 'two.txt'
    split.write_text('2007_000032\ndlv3p_d1182fc_0008\n')

    def run(work):
        runner = _seed_runner(
            repo_root,
            tmp_path / work,
            seeder=dict(seg=dict(mask_dir=gt_mask_cache)))
        ds = runner._test_dataloader['dataset']
        ds.update(data_root=str(data), ann_file=str(split))
        seed_dir = str(tmp_path / 'seeds')
        runner.model.reuse_seeds_from = seed_dir
        runner._test_evaluator['seed_dir'] = seed_dir
        runner._test_evaluator['out_dir'] = str(tmp_path / work)
        if not ckpt.exists():
            torch.save({'state_dict': runner.model.state_dict()}, ckpt)
        runner.load_checkpoint(str(ckpt))
        return runner.test(), seed_dir

    ckpt = tmp_path / 'prompts.pth'
    first, seed_dir = run('w1')
    seed = read_seed_png(osp_join(seed_dir, '2007_000032.png'))
    (data / 'JPEGImages' / '2007_000032.jpg').write_bytes(b'\xff\xd8broken')
    again, _ = run('w2')  # the finished seed is kept and scored
    assert again == first
    np.testing.assert_array_equal(
        read_seed_png(osp_join(seed_dir, '2007_000032.png')), seed)
    os.remove(osp_join(seed_dir, '2007_000032.png'))
    with pytest.raises(ValueError) as err:
        run('w3')
    assert str(err.value).startswith(
        f'cannot read image {data / "JPEGImages" / "2007_000032.jpg"} ')


def test_joint_loss_equals_mcl_plus_cal_computed_separately(crops):
    """Eq. 11's joint phase: its losses equal MCL of the cls phase plus CAL
    of the seg phase trained against the D_C that the cls CAMs of the same
    crop give (cls CAMs -> CAA -> joint seeder, GT ignore kept)."""
    seeder = dict(type='ThresholdSeeder', bg_threshold=0.3)
    model = build_model(phase='joint', joint_seeder=seeder)
    model.train()
    inputs, samples = _prep(model, crops)
    joint = model.loss(inputs, samples)
    assert set(joint) == {'loss_mcl', 'loss_cal_fg', 'loss_cal_bg'}

    model.phase = 'cls'
    mcl = model.loss(inputs, samples)['loss_mcl']
    # D_C of each crop from its cls CAMs, made step by step
    labels = model.multi_hot(samples)
    cams, pairs, out = model.cam_extractor.compute_cams(
        inputs, labels, 'cls', attn_layers=8)
    h, w = inputs.shape[-2:]
    seg_samples = []
    for b, ds in enumerate(samples):
        sel = pairs[:, 0] == b
        refined = model.seed_predictor.refine(cams[sel].detach(), out.attn[b],
                                              'cls')
        d_c = MODELS.build(seeder)(refined, pairs[sel, 1], (h, w)).long()
        gt = ds.gt_sem_seg.data[0]
        d_c[gt == 255] = 255
        s = ds.clone()
        s.gt_sem_seg = PixelData(data=d_c[None])
        seg_samples.append(s)
    model.phase = 'seg'
    cal = model.loss(inputs, seg_samples)
    torch.testing.assert_close(joint['loss_mcl'], mcl)
    torch.testing.assert_close(joint['loss_cal_fg'], cal['loss_cal_fg'])
    torch.testing.assert_close(joint['loss_cal_bg'], cal['loss_cal_bg'])
    assert cal['loss_cal_fg'] > 0 and cal['loss_cal_bg'] > 0
    torch.testing.assert_close(
        sum(joint.values()), mcl + cal['loss_cal_fg'] + cal['loss_cal_bg'])


def test_bad_cam_options_name_the_key():
    for key, bad in (('cam_input_size', 'align'), ('cam_softmax', 'plain'),
                     ('cal_labels', 'all')):
        with pytest.raises(ValueError, match=f'{key} must be one of'):
            build_model(**{key: bad})


def test_parts_share_the_model_modules_and_moved_names_say_where():
    """The extractor and the seed predictor use the model's own CLIP and
    prompts (also in a deep copy), hold no keys of the checkpoint, and an
    attribute that moved to them is an error naming its new place, not a
    silently unused value."""
    model = build_model()
    for m in (model, copy.deepcopy(model)):
        assert m.cam_extractor.clip is m.clip
        assert m.cam_extractor.prompts == dict(
            cls=m.cls_prompt, seg=m.seg_prompt)
        assert m.seed_predictor.cam_extractor is m.cam_extractor
    assert sorted(model.state_dict()) == ['cls_prompt.ctx', 'seg_prompt.ctx']
    with pytest.raises(
            AttributeError, match='use model.cam_extractor.cam_input_size'):
        model.cam_input_size = 'pad'
    with pytest.raises(
            AttributeError, match='use model.seed_predictor.seeders'):
        model.seeders
    model.cam_extractor.cam_input_size = 'pad'
    assert model.cam_extractor.cam_input_size == 'pad'
