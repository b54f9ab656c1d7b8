"""SAM with text input and zero-shot tags: configs, Grounding DINO phrase
mapping with mmdet's tokenizer, SAM box masks, the 'none' checkpoint, and
end-to-end runs on the bundled VOC images with a shrunk random Grounding
DINO, a tiny random BERT, the tiny SAM and the tiny CLIP."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from mmwsss.class_names import VOC_CLASSES
from mmwsss.io import read_seed_png
from mmwsss.models.baselines import LabelledBoxes

SEEDS_CFG = 'configs/sam_text/sam-text_gdino-swin-t_sam-vit-h_voc12aug.py'
ZERO_SHOT_CFG = ('configs/sam_text/'
                 'sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py')
TINY_CFG = 'configs/sam_text/sam-text_tiny_voc-mini.py'
TINY_CLIP = dict(
    type='FrozenCLIP',
    model_name='mmwsss-tiny-ViT-16',
    pretrained=None,
    pooling='cls',
    attn_layers=0)


@pytest.fixture(scope='module')
def bert_dir(tmp_path_factory) -> str:
    """Folder for the tiny BERT (written by the model on first build)."""
    return str(tmp_path_factory.mktemp('tiny_bert') / 'bert')


def _tiny_cfg(repo_root,
              bert_dir,
              tmp_path,
              config=TINY_CFG,
              **opts) -> Config:
    cfg = Config.fromfile(osp.join(repo_root, config))
    if config == ZERO_SHOT_CFG:  # the real config with the tiny parts
        tiny = Config.fromfile(osp.join(repo_root, TINY_CFG))
        for key, value in tiny.model.items():
            if key != 'tagger':
                cfg.model[key] = value
        cfg.test_dataloader = tiny.val_dataloader
    cfg.merge_from_dict({
        'model.detector.language_model.name': bert_dir,
        'test_evaluator.seed_dir': str(tmp_path / 'seeds'),
        'test_evaluator.out_dir': str(tmp_path),
        **opts
    })
    cfg.work_dir = str(tmp_path / 'work')
    cfg.launcher = 'none'
    cfg.load_from = 'none'
    return cfg


@pytest.fixture(scope='module')
def tiny_model(repo_root, bert_dir, tmp_path_factory):
    cfg = _tiny_cfg(repo_root, bert_dir, tmp_path_factory.mktemp('m'))
    return MODELS.build(cfg.model)


def test_configs(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, SEEDS_CFG))
    m = cfg.model
    assert m.type == 'SAMTextSeeder'
    assert (m.box_threshold, m.text_threshold) == (0.3, 0.25)
    assert m.detector.type == 'GroundingDINO'
    assert m.detector.backbone.embed_dims == 96  # Swin-T
    assert m.detector.language_model.name == 'bert-base-uncased'
    assert m.detector_checkpoint.endswith(
        'groundingdino_swint_ogc_mmdet-822d7e9d.pth')
    assert m.sam == dict(
        model_type='vit_h', checkpoint='checkpoints/sam_vit_h_4b8939.pth')
    assert cfg.test_dataloader.dataset.ann_file.endswith('trainaug.txt')
    assert cfg.test_evaluator.type == 'SeedMetric'
    assert 'iou_metrics' not in cfg.test_evaluator
    zs = Config.fromfile(osp.join(repo_root, ZERO_SHOT_CFG))
    assert zs.model.tagger.type == 'CLIPZeroShotTagger'
    assert zs.model.tagger.clip.pooling == 'cls'
    assert zs.model.box_threshold == 0.3
    assert zs.test_dataloader.dataset.ann_file.endswith('val.txt')
    assert zs.test_evaluator.seed_dir != cfg.test_evaluator.seed_dir
    with pytest.raises(ValueError, match='detector_checkpoint'):
        MODELS.build(dict(cfg.model, detector_checkpoint=None))


def test_phrases_map_to_prompt_classes(tiny_model, monkeypatch):
    """mmdet's tokenizer spans: 'dining table' is two tokens, 'dog' one."""
    grounding = tiny_model.grounding
    caption, ents = grounding._prompt(['dining table', 'dog'])
    assert caption.startswith('dining table. dog.')
    assert ents.sum(1).tolist() == [2, 1]
    q, t = 4, ents.shape[1]
    probs = torch.zeros(q, t)
    dog = ents[1].nonzero()[0, 0]
    table = ents[0].nonzero()[:, 0]
    probs[0, dog] = 0.8
    probs[1, table] = 0.5
    probs[2, table[0]] = 0.2  # below the thresholds
    probs[3, 0] = 0.9  # [CLS] only: no phrase
    boxes = torch.tensor([[0, 0, 5, 5], [1, 1, 9, 9], [0, 0, 2, 2],
                          [3, 3, 4, 4]]).float()
    monkeypatch.setattr(grounding, 'token_probs', lambda image, cap:
                        (probs, boxes))
    got, kept = grounding.detect(
        torch.zeros(3, 10, 10), ['dining table', 'dog'])
    assert kept.index.tolist() == [0, 1]
    assert kept.entity.tolist() == [1, 0]
    assert torch.equal(got, boxes[:2])
    got, kept = grounding.detect(torch.zeros(3, 10, 10), [])
    assert got.shape == (0, 4) and kept.index.numel() == 0


def test_seed_image_paints_sam_box_masks(tiny_model, monkeypatch):
    """Classes follow the phrases; SAM gets one mask per box."""
    img = torch.randint(0, 256, (3, 60, 80)).float()
    probs_boxes = torch.tensor([[2., 2., 40., 50.], [30., 10., 79., 59.]])

    def fake_detect(image, names, *args):
        assert names == ['cat', 'person']
        return probs_boxes, LabelledBoxes(
            torch.tensor([5, 9]), torch.tensor([1, 0]),
            torch.tensor([0.9, 0.4]))

    monkeypatch.setattr(tiny_model.grounding, 'detect', fake_detect)
    rgb = img.flip(0).permute(1, 2, 0).to(torch.uint8).numpy()
    masks = tiny_model.segment_boxes(rgb, probs_boxes)
    assert masks.shape == (2, 60, 80) and masks.dtype == torch.bool
    seed = tiny_model.seed_image(img, [8, 15])
    want = torch.zeros(60, 80, dtype=torch.long)
    want[masks[1]] = 8
    want[masks[0]] = 15  # the higher score wins the overlap
    assert torch.equal(seed, want)


def test_no_weights_in_state_dict(tiny_model):
    from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint)
    assert tiny_model.state_dict() == {}
    tiny_model.load_state_dict({})  # strict, nothing missing
    assert _load_checkpoint('none') == {'state_dict': {}, 'meta': {}}
    # only the bare name: files starting with "none" load as files, with
    # mmengine's own loader (import mmwsss no longer replaces it, issue 12)
    for name in ('none.pth', 'nonexistent.pth', 'work/none'):
        assert CheckpointLoader._get_checkpoint_loader(name).__name__ == \
            'load_from_local'


@MODELS.register_module(force=True)
class _FixedTagger:
    """Stands in for RAM: always the same tags."""

    def __init__(self, tags):
        self.tags = tags

    def __call__(self, image):
        assert image.dtype == np.uint8 and image.shape[2] == 3
        return list(self.tags)

    def requires_grad_(self, flag):
        return self


def test_tagger_classes_replace_labels(repo_root, bert_dir, tmp_path):
    cfg = _tiny_cfg(repo_root, bert_dir, tmp_path)
    cfg.model.tagger = dict(
        type='_FixedTagger', tags=['couch', 'Man', 'sky', 'plant'])
    model = MODELS.build(cfg.model)
    ds = SegDataSample(metainfo=dict(img_labels=[3], img_path='a.jpg'))
    classes = model.image_classes(ds, np.zeros((4, 4, 3), np.uint8))
    assert [VOC_CLASSES[c]
            for c in classes] == ['person', 'pottedplant', 'sofa']
    assert ds.metainfo['pred_tags'] == ['couch', 'Man', 'sky', 'plant']


def test_clip_zero_shot_tagger():
    tagger = MODELS.build(
        dict(
            type='CLIPZeroShotTagger',
            clip=TINY_CLIP,
            vocabulary='voc',
            templates=('a photo of a {}.', 'a {}.'),
            threshold=0.0,
            top_k=3))
    img = np.random.default_rng(0).integers(0, 256, (50, 70, 3), np.uint8)
    probs = tagger.scores(img)
    assert probs.shape == (len(tagger.vocabulary), )
    torch.testing.assert_close(probs.sum(), torch.tensor(1.))
    tags = tagger(img)
    top = probs.topk(3).indices.tolist()
    assert tags == [tagger.vocabulary[i] for i in top]
    tagger.threshold = 1.1
    assert tagger(img) == []
    with pytest.raises(ValueError, match='templates'):
        MODELS.build(
            dict(
                type='CLIPZeroShotTagger',
                clip=TINY_CLIP,
                templates=('no slot', )))


def _check_seeds(seed_dir, voc_root, stems):
    for stem in stems:
        seed = read_seed_png(osp.join(seed_dir, stem + '.png'))
        gt = np.asarray(
            Image.open(osp.join(voc_root, 'SegmentationClass', stem + '.png')))
        assert seed.shape == gt.shape and seed.max() <= 20


def test_text_input_runner(repo_root, voc_mini_root, bert_dir, tmp_path):
    """tools/test.py's path: Runner.from_cfg + test() with load_from
    'none', 2 images; seeds only use the image labels."""
    cfg = _tiny_cfg(repo_root, bert_dir, tmp_path,
                    **{'test_dataloader.dataset.indices': 2})
    cfg.visualizer.name = 'sam_text_runner'
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['mIoU'] <= 100
    stems = open(osp.join(
        voc_mini_root, 'ImageSets/Segmentation/train.txt')).read().split()[:2]
    _check_seeds(str(tmp_path / 'seeds'), voc_mini_root, stems)
    for stem in stems:
        seed = read_seed_png(str(tmp_path / 'seeds' / (stem + '.png')))
        gt = np.asarray(
            Image.open(
                osp.join(voc_mini_root, 'SegmentationClass', stem + '.png')))
        assert set(np.unique(seed)) <= set(np.unique(gt)) | {0}


def test_zero_shot_runner(repo_root, voc_mini_root, bert_dir, tmp_path):
    """configs/sam_text/sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py
    with tiny parts on 2 val images."""
    cfg = _tiny_cfg(
        repo_root,
        bert_dir,
        tmp_path,
        config=ZERO_SHOT_CFG,
        **{
            'test_dataloader.dataset.indices': 2,
            'model.tagger.clip': TINY_CLIP,
            'model.tagger.threshold': 0.0,
        })
    assert cfg.test_dataloader.dataset.ann_file.endswith('val.txt')
    cfg.visualizer.name = 'sam_text_zero_shot'
    runner = Runner.from_cfg(cfg)
    assert runner.model.tagger is not None
    runner.test()
    stems = open(osp.join(voc_mini_root,
                          'ImageSets/Segmentation/val.txt')).read().split()[:2]
    _check_seeds(str(tmp_path / 'seeds'), voc_mini_root, stems)


def test_tools_test_none_checkpoint(repo_root, bert_dir, tmp_path):
    """``python tools/test.py configs/sam_text/sam-text_tiny_voc-mini.py
    none``."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=repo_root)
    seed_dir = str(tmp_path / 'seeds')
    proc = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'),
        osp.join(repo_root, TINY_CFG), 'none', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        'test_dataloader.dataset.indices=1',
        f'model.detector.language_model.name={bert_dir}',
        f'test_evaluator.seed_dir={seed_dir}',
        f'test_evaluator.out_dir={tmp_path}'
    ],
                          cwd=repo_root,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'mIoU' in log and 'Load checkpoint from none' in log, log[-3000:]
    assert len(os.listdir(seed_dir)) == 1


def test_grounding_dino_deformable_attention_is_portable(tiny_model):
    """Every deformable attention of mmwsss's Grounding DINO runs without
    the compiled mmcv op on any device (mmwsss.compat.mmcv_ops); mmcv's own
    module, which other models keep, is not changed."""
    from mmcv.ops import MultiScaleDeformableAttention

    from mmwsss.compat.mmcv_ops import PortableMultiScaleDeformableAttention
    attn = [
        m for m in tiny_model.modules()
        if isinstance(m, MultiScaleDeformableAttention)
    ]
    assert attn and all(
        type(m) is PortableMultiScaleDeformableAttention for m in attn)
    assert 'multi_scale_deform_attn' in \
        MultiScaleDeformableAttention.forward.__module__
