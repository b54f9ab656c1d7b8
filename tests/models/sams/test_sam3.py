"""SAM 3: CPU construction scoped to the build, official checkpoint layout,
concept seeds (painting values, tiny model through tools/test.py's path to
seed PNGs), SAM 3 instances as quasi-superpixels (record, SAMS seeding),
all prompts of an image in one batched pass equal to one pass per prompt."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

pytest.importorskip('sam3')

from mmseg.registry import MODELS  # noqa: E402
from mmwsss.functional import sams_seed_from_record  # noqa: E402
from mmwsss.io import read_seed_png  # noqa: E402
from mmwsss.models.sams import SAM3QuasiSuperpixelGenerator  # noqa: E402
from mmwsss.models.sams.sam3_builder import (  # noqa: E402
    SAM3_CHECKPOINT_URL, build_sam3_model, default_bpe_path,
    sam3_construction_device)
from mmwsss.models.sams.sam3_concepts import (  # noqa: E402
    ConceptMasks, SAM3ConceptSegmenter)

TINY_CFG = 'configs/sam3/voc_mini_tiny.py'


def voc_image(voc_mini_root, stem='2007_000032'):
    return mmcv.imread(
        osp.join(voc_mini_root, 'JPEGImages', stem + '.jpg'),
        channel_order='rgb')


class FakeSegmenter:
    """Answers each prompt with given (probs, scores) at an image size."""

    def __init__(self, answers, size=(6, 8)):
        self.answers, self.size, self.prompts = answers, size, []
        self.device = torch.device('cpu')
        self.weights = 'fake'

    def embed(self, rgb):
        return {}

    def segment(self, state, prompt):
        self.prompts.append(prompt)
        probs, scores = self.answers.get(prompt, ([], []))
        probs = (
            torch.stack(probs).float()
            if len(probs) else torch.zeros((0, ) + self.size))
        scores = torch.as_tensor(scores, dtype=torch.float)
        return ConceptMasks(probs, scores, torch.zeros(len(scores), 4))

    def segment_prompts(self, state, prompts, batch_size=None):
        return [self.segment(state, p) for p in prompts]


def rect(size, y0, y1, x0, x1, p=0.9):
    m = torch.zeros(size)
    m[y0:y1, x0:x1] = p
    return m


def test_construction_on_cpu_is_scoped(monkeypatch):
    from sam3.model.decoder import TransformerDecoder
    from sam3.model.position_encoding import PositionEmbeddingSine
    init = PositionEmbeddingSine.__init__
    coords = TransformerDecoder.__dict__['_get_coords']
    model = build_sam3_model('tiny', device='cpu')
    # the fix lives only inside the build
    assert PositionEmbeddingSine.__init__ is init
    assert TransformerDecoder.__dict__['_get_coords'] is coords
    pe = model.backbone.vision_backbone.position_encoding
    assert len(pe.cache) == 4
    assert all(v.device.type == 'cpu' for v in pe.cache.values())
    # restored on error too
    with pytest.raises(RuntimeError, match='boom'):
        with sam3_construction_device(torch.device('cpu')):
            assert PositionEmbeddingSine.__init__ is not init
            raise RuntimeError('boom')
    assert PositionEmbeddingSine.__init__ is init
    if not torch.cuda.is_available():  # what the released code does here
        with pytest.raises(Exception):
            PositionEmbeddingSine(32, precompute_resolution=112)
    # no other instance of the geometry encoder class is changed
    from sam3.model.geometry_encoders import SequenceGeometryEncoder
    assert type(model.geometry_encoder) is not SequenceGeometryEncoder
    assert isinstance(model.geometry_encoder, SequenceGeometryEncoder)


def test_bpe_and_errors(tmp_path):
    assert osp.isfile(default_bpe_path())
    with pytest.raises(ValueError, match='checkpoint is required'):
        build_sam3_model('sam3')
    with pytest.raises(FileNotFoundError) as err:
        build_sam3_model('sam3', checkpoint=str(tmp_path / 'sam3.pt'))
    assert SAM3_CHECKPOINT_URL in str(err.value)
    with pytest.raises(KeyError, match='sam4'):
        build_sam3_model('sam4')


def test_official_checkpoint_layout(tmp_path):
    ref = build_sam3_model('tiny', seed=7, device='cpu')
    # sam3.pt: {'model': {'detector.<image model key>', 'tracker.<...>'}}
    state = {'detector.' + k: v for k, v in ref.state_dict().items()}
    state['tracker.sam_mask_decoder.foo'] = torch.zeros(2)
    ckpt = str(tmp_path / 'sam3.pt')
    torch.save({'model': state}, ckpt)
    model = build_sam3_model('tiny', checkpoint=ckpt, seed=1, device='cpu')
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    del state['detector.dot_prod_scoring.prompt_proj.weight']
    torch.save({'model': state}, ckpt)
    with pytest.raises(RuntimeError, match='does not fit'):
        build_sam3_model('tiny', checkpoint=ckpt)


def test_concept_seed_paints_by_score():
    from mmwsss.models.baselines import SAM3ConceptSeeder
    seeder = SAM3ConceptSeeder.__new__(SAM3ConceptSeeder)
    torch.nn.Module.__init__(seeder)
    from mmwsss.class_names import get_dataset_info
    info = get_dataset_info('voc')
    seeder.classes, seeder.text_names = info['classes'], info['text_names']
    size = (6, 8)
    # dog (12): two instances; person (15): one overlapping the first dog
    seeder.segmenter = FakeSegmenter(
        {
            'dog': ([rect(size, 0, 3, 0, 4),
                     rect(size, 4, 6, 6, 8)], [0.6, 0.8]),
            'person': ([rect(size, 1, 4, 2, 6)], [0.7]),
            'cat': ([rect(size, 0, 6, 0, 8, p=0.4)], [0.99]),  # p < 0.5
        },
        size)
    seed = seeder.seed_image(np.zeros(size + (3, ), np.uint8), [12, 15, 8])
    assert seeder.segmenter.prompts == ['dog', 'person', 'cat']
    expect = np.zeros(size, np.int64)
    expect[0:3, 0:4] = 12
    expect[1:4, 2:6] = 15  # 0.7 > 0.6: person wins the overlap
    expect[4:6, 6:8] = 12
    np.testing.assert_array_equal(seed.numpy(), expect)
    assert seeder.seed_image(np.zeros(size + (3, ), np.uint8), []).sum() == 0


def test_concept_seeds_runner_to_pngs(repo_root, voc_mini_root, tmp_path):
    """tools/test.py's path on 2 images: tiny random SAM 3, seeds as palette
    PNGs scored by SeedMetric; only labelled classes appear."""
    cfg = Config.fromfile(osp.join(repo_root, TINY_CFG))
    cfg.merge_from_dict({
        'test_dataloader.dataset.indices': 2,
        'test_evaluator.seed_dir': str(tmp_path / 'seeds'),
        'test_evaluator.out_dir': str(tmp_path),
        'model.sam3.confidence_threshold': 0.35,
    })
    cfg.work_dir = str(tmp_path / 'work')
    cfg.launcher = 'none'
    cfg.load_from = 'none'
    cfg.visualizer.name = 'sam3_concepts_runner'
    metrics = Runner.from_cfg(cfg).test()
    assert 0 <= metrics['mIoU'] <= 100
    stems = open(osp.join(
        voc_mini_root, 'ImageSets/Segmentation/train.txt')).read().split()[:2]
    fg_seen = 0
    for stem in stems:
        seed = read_seed_png(str(tmp_path / 'seeds' / (stem + '.png')))
        gt = np.asarray(
            Image.open(
                osp.join(voc_mini_root, 'SegmentationClass', stem + '.png')))
        assert seed.shape == gt.shape
        assert set(np.unique(seed)) <= (set(np.unique(gt)) - {255}) | {0}
        fg_seen += int((seed > 0).any())
    assert fg_seen >= 1  # some instance passed: not a vacuous run


def test_sam3_quasi_superpixels_record(voc_mini_root):
    gen = SAM3QuasiSuperpixelGenerator(
        model_type='tiny',
        device='cpu',
        prompts=['aeroplane', 'sky'],
        confidence_threshold=0.35,
        min_mask_region_area=100)
    assert gen.fingerprint.startswith('sam3-tiny-')
    img = voc_image(voc_mini_root)
    rec = gen.generate_record(img)
    assert len(rec) >= 1 and set(rec.levels.tolist()) == {2}
    assert (rec.areas() >= 100).all()
    assert (rec.predicted_iou > 0.35).all()
    assert rec.image_size == img.shape[:2]
    # SAMS over a CAM with these masks
    h, w = img.shape[:2]
    cam = torch.zeros(1, h, w)
    cam[0, :, :w // 2] = 1.0
    seed = sams_seed_from_record(cam, rec, torch.tensor([0]), alpha=0.7).seed
    assert seed.shape == (h, w) and set(seed.unique().tolist()) <= {0, 1}
    # fingerprints follow the vocabulary and thresholds
    other = SAM3QuasiSuperpixelGenerator(
        model_type='tiny', device='cpu', prompts=['aeroplane'])
    assert other.fingerprint != gen.fingerprint
    built = MODELS.build(
        dict(
            type='SAM3QuasiSuperpixelGenerator',
            model_type='tiny',
            device='cpu'))
    assert len(built.prompts) == 45  # 20 VOC classes + 25 CLIP-ES bg names


def test_sam3_record_values_with_fake_segmenter():
    gen = SAM3QuasiSuperpixelGenerator(
        model_type='tiny',
        device='cpu',
        prompts=['dog', 'grass'],
        min_mask_region_area=4)
    size = (6, 8)
    gen.segmenter = FakeSegmenter(
        {
            'dog': ([rect(size, 0, 3, 0, 4, p=0.95),
                     rect(size, 5, 6, 0, 1)], [0.9, 0.8]),  # 2nd: 1 px
            'grass': ([rect(size, 3, 6, 0, 8, p=0.6)], [0.7]),
        },
        size)
    rec = gen.generate_record(np.zeros(size + (3, ), np.uint8))
    assert rec.levels.tolist() == [2, 2]
    np.testing.assert_allclose(rec.predicted_iou, [0.9, 0.7])
    np.testing.assert_array_equal(rec.areas(), [12, 24])
    np.testing.assert_array_equal(rec.bbox, [[0, 0, 3, 2], [0, 3, 7, 2]])
    # stability at logit offset 1: p=0.95 (logit 2.94) is stable, p=0.6
    # (logit 0.41 < 1) is not
    np.testing.assert_allclose(rec.stability_score, [1.0, 0.0])


def test_batched_prompts_equal_one_pass_per_prompt(voc_mini_root):
    """segment_prompts (shared image embedding, prompts batched, in chunks)
    gives every prompt's instances, scores and boxes as segment does; the
    state is left as it was."""
    seg = SAM3ConceptSegmenter(
        'tiny', device='cpu', confidence_threshold=0.0, prompt_batch_size=3)
    prompts = [
        'aeroplane', 'sky', 'potted plant', 'a dog on the grass', 'road',
        'person', 'tv monitor'
    ]
    state = seg.embed(voc_image(voc_mini_root))
    want = [seg.segment(state, p) for p in prompts]
    before = {k: id(v) for k, v in state['backbone_out'].items()}
    assert sum(len(w.scores) for w in want) > 0  # threshold 0: all queries
    for size in (None, 2, len(prompts)):
        got = seg.segment_prompts(state, prompts, batch_size=size)
        assert len(got) == len(prompts)
        for w, g in zip(want, got):
            assert g.probs.shape == w.probs.shape
            torch.testing.assert_close(
                g.scores, w.scores, atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(g.probs, w.probs, atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(g.boxes, w.boxes, atol=1e-3, rtol=1e-4)
    assert {k: id(v) for k, v in state['backbone_out'].items()} == before
    # the generator's record does not depend on the batch size
    gen = SAM3QuasiSuperpixelGenerator(
        model_type='tiny',
        device='cpu',
        prompts=prompts[:4],
        confidence_threshold=0.3,
        min_mask_region_area=1)
    img = voc_image(voc_mini_root)
    batched = gen.generate_record(img)
    gen.segmenter.prompt_batch_size = 1
    single = gen.generate_record(img)
    assert len(batched) == len(single) > 0
    # masks binarised at p = 0.5: float rounding may flip a border pixel
    differ = (batched.dense() != single.dense()).mean()
    assert differ < 1e-4, differ
    np.testing.assert_allclose(
        batched.predicted_iou, single.predicted_iou, atol=1e-5)
    with pytest.raises(ValueError, match='prompt_batch_size'):
        SAM3ConceptSegmenter('tiny', device='cpu', prompt_batch_size=0)
