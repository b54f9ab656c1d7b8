"""Stage-2 configs build and step on CPU.

Each config is loaded as a user would (``Config.fromfile``), its paper
settings are checked, then it is shrunk with ``cfg.merge_from_dict`` -- the
call behind ``--cfg-options`` -- to a tiny random model, 64-pixel crops,
batch 2, two iterations on ``data/voc_mini`` (seeds written by the test),
and run through mmengine's Runner: train (with a val pass at the last
iteration) and one test pass. The DeepLabV3+ VOC config also runs a test
pass with ``tools/test.py --tta`` semantics (SAMSTTAModel + masks written
by the test).
"""
import json
import os.path as osp
from typing import Dict, List

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from PIL import Image

from mmseg.registry import MODELS
from mmwsss.class_names import COCO_CATEGORY_IDS, COCO_CLASSES
from mmwsss.io import write_seed_png
from mmwsss.io.mask_cache import (SAMMaskRecord, load_masks,
                                           mask_cache_path, save_masks)

D3P_VOC = ('configs/deeplabv3plus/'
           'deeplabv3plus_r101-d8_4xb4-80k_voc12aug-pseudo-512x512.py')
D3P_VOC_R50 = ('configs/deeplabv3plus/'
               'deeplabv3plus_r50-d8_4xb4-80k_voc12aug-pseudo-512x512.py')
D3P_COCO = ('configs/deeplabv3plus/'
            'deeplabv3plus_r101-d8_4xb4-160k_coco2014-pseudo-512x512.py')
M2F_VOC = ('configs/mask2former/mask2former_swin-l-in22k-384x384-pre_'
           '2xb2-80k_voc12aug-pseudo-512x512.py')
M2F_VOC_B = ('configs/mask2former/mask2former_swin-b-in22k-384x384-pre_'
             '2xb2-80k_voc12aug-pseudo-512x512.py')
M2F_COCO = ('configs/mask2former/mask2former_swin-l-in22k-384x384-pre_'
            '2xb2-100k_coco2014-pseudo-512x512.py')
DLV2_VOC = ('configs/deeplabv2/'
            'deeplabv2_r101-d8_1xb5-20k_voc12aug-pseudo-321x321.py')

N_VAL, N_TEST = 1, 2  # images of the val / test passes (first of split)


def _load(repo_root: str, rel: str) -> Config:
    return Config.fromfile(osp.join(repo_root, rel))


def _read_ids(path: str) -> List[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def _gt(voc_root: str, stem: str) -> np.ndarray:
    return np.array(
        Image.open(osp.join(voc_root, 'SegmentationClass', stem + '.png')))


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared CPU
    two spinning OpenMP threads make them ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def voc_seeds(voc_mini_root, tmp_path_factory) -> str:
    """Seed PNGs of the voc_mini train images: GT with 255 -> background."""
    seed_dir = str(tmp_path_factory.mktemp('voc_seeds'))
    ids = _read_ids(
        osp.join(voc_mini_root, 'ImageSets/Segmentation/train.txt'))
    for stem in ids:
        seed = _gt(voc_mini_root, stem)
        seed[seed == 255] = 0
        write_seed_png(osp.join(seed_dir, stem + '.png'), seed)
    return seed_dir


@pytest.fixture(scope='module')
def coco_mini(voc_mini_root, tmp_path_factory) -> Dict[str, str]:
    """A COCO-2014-layout copy of voc_mini: instances JSONs whose labels
    are the VOC classes (class k -> the k-th COCO category), GT PNGs of the
    val split, seeds of the train split; images stay in voc_mini."""
    root = tmp_path_factory.mktemp('coco_mini')
    cat_ids = list(COCO_CATEGORY_IDS)
    out = dict(
        root=str(root),
        img_dir=osp.join(voc_mini_root, 'JPEGImages'),
        seed_dir=str(root / 'seeds'),
        label_cache=str(root / 'label_cache'))
    for split in ('train', 'val'):
        ids = _read_ids(
            osp.join(voc_mini_root, f'ImageSets/Segmentation/{split}.txt'))
        images, anns = [], []
        for i, stem in enumerate(ids, 1):
            gt = _gt(voc_mini_root, stem)
            h, w = gt.shape
            images.append(
                dict(id=i, file_name=stem + '.jpg', height=h, width=w))
            for k in np.unique(gt):
                if k in (0, 255):
                    continue
                ys, xs = np.nonzero(gt == k)
                x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
                anns.append(
                    dict(
                        id=len(anns) + 1,
                        image_id=i,
                        category_id=cat_ids[k - 1],
                        iscrowd=0,
                        area=float((x1 - x0) * (y1 - y0)),
                        bbox=[float(x0), float(y0), float(x1 - x0),
                              float(y1 - y0)],
                        segmentation=[[
                            float(x0), float(y0), float(x1), float(y0),
                            float(x1), float(y1), float(x0), float(y1)
                        ]]))
            label = gt.copy()
            if split == 'train':
                label[label == 255] = 0
                write_seed_png(osp.join(out['seed_dir'], stem + '.png'),
                               label)
            else:
                write_seed_png(
                    str(root / 'SegmentationClass' / 'val2014' /
                        (stem + '.png')), label)
        cats = [
            dict(id=c, name=n) for c, n in zip(cat_ids, COCO_CLASSES[1:])
        ]
        (root / 'annotations').mkdir(exist_ok=True)
        with open(root / 'annotations' / f'instances_{split}2014.json',
                  'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=cats),
                      f)
    return out


# ------------------------------------------------------------ shrinking
def _get(cfg: Config, key: str):
    """Value at a dotted ``--cfg-options`` key (list indices allowed)."""
    node = cfg
    for part in key.split('.'):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _find(cfg: Config, key: str, kind: str) -> str:
    """Key of the first transform of type ``kind`` in the list at ``key``."""
    node = _get(cfg, key)
    for i, t in enumerate(node):
        if t['type'] == kind:
            return f'{key}.{i}'
    raise KeyError(f'{kind} not in {key}: {[t["type"] for t in node]}')


def _runtime_overrides(cfg: Config) -> dict:
    """Batch 2, 2 iterations, val at the last one, no workers."""
    opts = {
        'train_dataloader.batch_size': 2,
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        # no checkpoints (config pretty-printing in each costs ~1 s)
        'default_hooks.checkpoint.interval': 1000,
        'default_hooks.logger.interval': 1,
        'param_scheduler.0.end': 2,
        'env_cfg.cudnn_benchmark': False,
        'randomness': dict(seed=0),
    }
    for dl in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts[f'{dl}.num_workers'] = 0
        opts[f'{dl}.persistent_workers'] = False
    train_p = 'train_dataloader.dataset.pipeline'
    opts[_find(cfg, train_p, 'RandomCrop') + '.crop_size'] = (64, 64)
    for kind in ('RandomResize', 'RandomChoiceResize'):
        try:
            key = _find(cfg, train_p, kind)
        except KeyError:
            continue
        if kind == 'RandomResize':
            opts[key + '.scale'] = (256, 64)
        else:
            opts[key + '.scales'] = [64, 96]
            opts[key + '.max_size'] = 256
    opts['model.data_preprocessor.size'] = (64, 64)
    if cfg.default_hooks.checkpoint.get('save_best'):
        opts['default_hooks.checkpoint.save_best'] = None
    for dl in ('val_dataloader', 'test_dataloader'):
        try:
            key = _find(cfg, f'{dl}.dataset.pipeline', 'Resize')
            opts[key + '.scale'] = (128, 64)
        except KeyError:  # DeepLab-v2 tests at the original size
            pass
    return opts


def _resnet_overrides(decode: str) -> dict:
    """ResNetV1c-18 with 8 base channels: stages give 8/16/32/64."""
    opts = {
        'model.pretrained': None,
        'model.backbone.depth': 18,
        'model.backbone.stem_channels': 8,
        'model.backbone.base_channels': 8,
        'model.decode_head.in_channels': 64,
    }
    if decode == 'deeplabv3plus':
        opts.update({
            'model.decode_head.channels': 16,
            'model.decode_head.c1_in_channels': 8,
            'model.decode_head.c1_channels': 8,
            'model.auxiliary_head.in_channels': 32,
            'model.auxiliary_head.channels': 8,
        })
    return opts


def _swin_overrides() -> dict:
    """Swin with 16-dim embeddings, one block per stage, 32-d decoder."""
    enc = 'model.decode_head.pixel_decoder.encoder'
    dec = 'model.decode_head.transformer_decoder'
    return {
        'model.backbone.embed_dims': 16,
        'model.backbone.depths': [1, 1, 1, 1],
        'model.backbone.num_heads': [1, 2, 2, 4],
        'model.backbone.window_size': 4,
        'model.backbone.drop_path_rate': 0.,
        'model.backbone.init_cfg': None,
        'model.decode_head.in_channels': [16, 32, 64, 128],
        'model.decode_head.feat_channels': 32,
        'model.decode_head.out_channels': 32,
        'model.decode_head.num_queries': 8,
        'model.decode_head.positional_encoding.num_feats': 16,
        'model.decode_head.pixel_decoder.positional_encoding.num_feats': 16,
        f'{enc}.num_layers': 1,
        f'{enc}.layer_cfg.self_attn_cfg.embed_dims': 32,
        f'{enc}.layer_cfg.self_attn_cfg.num_heads': 4,
        f'{enc}.layer_cfg.ffn_cfg.embed_dims': 32,
        f'{enc}.layer_cfg.ffn_cfg.feedforward_channels': 64,
        f'{dec}.num_layers': 2,
        f'{dec}.layer_cfg.self_attn_cfg.embed_dims': 32,
        f'{dec}.layer_cfg.self_attn_cfg.num_heads': 4,
        f'{dec}.layer_cfg.cross_attn_cfg.embed_dims': 32,
        f'{dec}.layer_cfg.cross_attn_cfg.num_heads': 4,
        f'{dec}.layer_cfg.ffn_cfg.embed_dims': 32,
        f'{dec}.layer_cfg.ffn_cfg.feedforward_channels': 64,
        'model.decode_head.train_cfg.num_points': 256,
    }


def _voc_overrides(voc_root: str, seed_dir: str) -> dict:
    opts = {
        'train_dataloader.dataset.seed_dir': seed_dir,
        'train_dataloader.dataset.dataset.data_root': voc_root,
        'train_dataloader.dataset.dataset.ann_file':
        'ImageSets/Segmentation/train.txt',
        'train_dataloader.dataset.dataset.data_prefix.seg_map_path':
        'SegmentationClass',
    }
    for dl, n in (('val_dataloader', N_VAL), ('test_dataloader', N_TEST)):
        opts[f'{dl}.dataset.data_root'] = voc_root
        opts[f'{dl}.dataset.indices'] = n
    return opts


def _coco_overrides(coco: Dict[str, str]) -> dict:
    opts = {
        'train_dataloader.dataset.seed_dir': coco['seed_dir'],
        'train_dataloader.dataset.dataset.data_root': coco['root'],
        'train_dataloader.dataset.dataset.data_prefix.img_path':
        coco['img_dir'],
        'train_dataloader.dataset.dataset.label_cache':
        osp.join(coco['label_cache'], 'train.json'),
    }
    for dl, n in (('val_dataloader', N_VAL), ('test_dataloader', N_TEST)):
        opts[f'{dl}.dataset.data_root'] = coco['root']
        opts[f'{dl}.dataset.data_prefix.img_path'] = coco['img_dir']
        opts[f'{dl}.dataset.label_cache'] = osp.join(coco['label_cache'],
                                                     'val.json')
        opts[f'{dl}.dataset.indices'] = n
    return opts


def _shrink(cfg: Config, model_opts: dict, data_opts: dict,
            work_dir: str) -> Config:
    """Apply the overrides the way ``--cfg-options`` does."""
    opts = _runtime_overrides(cfg)
    opts.update(model_opts)
    opts.update(data_opts)
    cfg.merge_from_dict(opts)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


def _train_and_test(cfg: Config, seed_dir: str) -> dict:
    """Two training iterations (+ val), then a test pass."""
    runner = Runner.from_cfg(cfg)
    train_set = runner.train_dataloader.dataset
    assert type(train_set).__name__ == 'PseudoLabelDataset'
    seg_paths = [
        train_set.get_data_info(i)['seg_map_path']
        for i in range(len(train_set))
    ]
    assert seg_paths and all(
        osp.dirname(p) == seed_dir for p in seg_paths), seg_paths[:2]
    runner.train()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    assert runner.iter == 2
    val_miou = runner.message_hub.get_scalar('val/mIoU').current()
    assert 0 <= val_miou <= 100
    metrics = runner.test()
    assert 0 <= metrics['mIoU'] <= 100
    return metrics


def _need(name: str) -> None:
    if MODELS.get(name) is None:
        pytest.skip(f'{name} is not registered in mmseg MODELS yet '
                    '(mmwsss/models/sams/tta.py has not landed)')


# ---------------------------------------------------------------- tests
def test_deeplabv3plus_voc(repo_root, voc_mini_root, voc_seeds, tmp_path):
    cfg = _load(repo_root, D3P_VOC)
    # paper / mmseg settings
    assert cfg.model.backbone.depth == 101
    assert cfg.model.pretrained == 'open-mmlab://resnet101_v1c'
    assert cfg.model.decode_head.type == 'DepthwiseSeparableASPPHead'
    assert cfg.model.decode_head.num_classes == 21
    assert cfg.model.auxiliary_head.num_classes == 21
    assert cfg.train_dataloader.batch_size * 4 == 16  # 4 GPUs x 4
    assert cfg.train_cfg.max_iters == 80000
    assert round(120 * 10582 / 16, -4) == 80000
    assert cfg.param_scheduler[0].end == 80000
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.seed_dir == cfg.train_dataloader.dataset.seed_dir
    assert cfg.train_dataloader.dataset.type == 'PseudoLabelDataset'
    assert cfg.train_dataloader.dataset.dataset.ann_file.endswith(
        'trainaug.txt')
    assert cfg.val_dataloader.dataset.ann_file.endswith('val.txt')
    assert cfg.val_dataloader.dataset.data_prefix.seg_map_path == \
        'SegmentationClass'
    assert cfg.tta_model.type == 'SAMSTTAModel'
    assert cfg.tta_model.mask_dir == cfg.sam_mask_dir
    assert cfg.tta_model.scoring == 'prob'  # authors' post-processing
    tta = cfg.tta_pipeline[1]['transforms']
    assert [t['scale_factor'] for t in tta[0]] == \
        [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert [t['prob'] for t in tta[1]] == [0., 1.]
    assert cfg.custom_imports['imports'] == ['mmwsss.registration']

    _shrink(cfg, _resnet_overrides('deeplabv3plus'),
            _voc_overrides(voc_mini_root, voc_seeds), str(tmp_path))
    _train_and_test(cfg, voc_seeds)


def _write_val_masks(voc_root: str, mask_dir: str) -> List[str]:
    """SAM-like masks of the first val images from their GT: one whole
    mask per GT component of a class, the image's background as a whole,
    a part (left half) of each object and a sub-part grid cell."""
    ids = _read_ids(osp.join(voc_root, 'ImageSets/Segmentation/val.txt'))
    for stem in ids[:N_TEST]:
        gt = _gt(voc_root, stem)
        h, w = gt.shape
        masks, levels = [], []
        for k in np.unique(gt):
            if k == 255:
                continue
            m = gt == k
            masks.append(m)
            levels.append(2)
            if k:
                cols = np.nonzero(m.any(0))[0]
                half = m.copy()
                half[:, (cols.min() + cols.max()) // 2:] = False
                if half.any():
                    masks.append(half)
                    levels.append(1)
        cell = np.zeros((h, w), bool)
        cell[:h // 4, :w // 4] = True
        masks.append(cell)
        levels.append(0)
        record = SAMMaskRecord.from_dense(np.stack(masks), levels)
        save_masks(
            mask_cache_path(mask_dir,
                            osp.join(voc_root, 'JPEGImages',
                                     stem + '.jpg')), record)
    return ids[:N_TEST]


def test_deeplabv3plus_voc_tta(repo_root, voc_mini_root, voc_seeds,
                               tmp_path):
    """``tools/test.py CFG CKPT --tta``: SAMS-refined multi-scale + flip."""
    _need('SAMSTTAModel')
    cfg = _load(repo_root, D3P_VOC)
    mask_dir = str(tmp_path / 'sam_masks')
    stems = _write_val_masks(voc_mini_root, mask_dir)
    _shrink(cfg, _resnet_overrides('deeplabv3plus'),
            _voc_overrides(voc_mini_root, voc_seeds), str(tmp_path))
    cfg.merge_from_dict({'tta_model.mask_dir': mask_dir})
    # a checkpoint of the (random) shrunk model, as training would leave
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'model.pth')
    model = MODELS.build(cfg.model)
    # the random features barely vary over the image: huge classifier
    # weights make the per-pixel prediction vary inside objects, so that
    # SAMS' effect is visible
    torch.nn.init.normal_(model.decode_head.conv_seg.weight, std=100.)
    torch.save({'state_dict': model.state_dict()}, ckpt)
    # what mmseg's tools/test.py does with --tta
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    cfg.load_from = ckpt
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == 'SAMSTTAModel'
    preds = []
    runner.register_hook(_Collect(preds), 'LOWEST')
    metrics = runner.test()
    assert 0 <= metrics['mIoU'] <= 100
    assert [osp.basename(p.img_path)[:-4] for p in preds] == stems
    for sample in preds:
        pred = sample.pred_sem_seg.data.reshape(sample.ori_shape).numpy()
        assert sample.seg_logits.data.shape[0] == 21
        # SAMS labels whole quasi-superpixels: the whole masks (GT class
        # regions, disjoint) each carry one label, which a random model's
        # plain per-pixel prediction would not
        record = load_masks(mask_cache_path(mask_dir, sample.img_path))
        wholes = record.dense()[np.asarray(record.levels) == 2]
        assert all(len(np.unique(pred[m])) == 1 for m in wholes)
        # ... while the merged per-pixel argmax is not uniform in them
        plain = sample.seg_logits.data.argmax(0).numpy()
        assert any(len(np.unique(plain[m])) > 1 for m in wholes)


class _Collect(Hook):
    """Keeps the test loop's outputs."""

    def __init__(self, store: list) -> None:
        self.store = store

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self.store.extend(outputs)


def test_deeplabv3plus_r50_inherits(repo_root):
    child, parent = _load(repo_root, D3P_VOC_R50), _load(repo_root, D3P_VOC)
    assert child.model.backbone.depth == 50
    assert child.model.pretrained == 'open-mmlab://resnet50_v1c'
    child.model.backbone.depth = 101
    child.model.pretrained = parent.model.pretrained
    assert child.to_dict() == parent.to_dict()


def test_deeplabv3plus_coco(repo_root, coco_mini, tmp_path):
    cfg = _load(repo_root, D3P_COCO)
    assert cfg.model.decode_head.num_classes == 81
    assert cfg.model.auxiliary_head.num_classes == 81
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.param_scheduler[0].end == 160000
    assert 31 < 160000 * 16 / 82081 < 32  # ~32 epochs
    assert cfg.train_dataloader.dataset.dataset.type == \
        'COCOImageLabelDataset'
    assert cfg.val_dataloader.dataset.type == 'COCOImageLabelDataset'
    assert cfg.val_dataloader.dataset.ann_file.endswith(
        'instances_val2014.json')
    assert cfg.val_dataloader.dataset.data_prefix.seg_map_path
    assert cfg.tta_model.type == 'SAMSTTAModel'
    assert cfg.tta_model.alpha == 1.0

    _shrink(cfg, _resnet_overrides('deeplabv3plus'),
            _coco_overrides(coco_mini), str(tmp_path))
    metrics = _train_and_test(cfg, coco_mini['seed_dir'])
    assert 'mIoU' in metrics


def test_mask2former_voc(repo_root, voc_mini_root, voc_seeds, tmp_path):
    cfg = _load(repo_root, M2F_VOC)
    head = cfg.model.decode_head
    assert cfg.model.backbone.type == 'SwinTransformer'
    assert cfg.model.backbone.embed_dims == 192  # Swin-L
    assert 'swin_large_patch4_window12_384_22k' in \
        cfg.model.backbone.init_cfg.checkpoint
    assert head.in_channels == [192, 384, 768, 1536]
    assert head.num_classes == 21
    assert head.loss_cls.class_weight == [1.0] * 21 + [0.1]
    assert cfg.model.data_preprocessor.size == (512, 512)
    train_p = 'train_dataloader.dataset.pipeline'
    assert _get(cfg, _find(cfg, train_p, 'RandomCrop')).crop_size == \
        (512, 512)
    # VOC's background is a class: no reduce_zero_label (ADE20K's base has)
    assert _get(cfg, _find(cfg, train_p,
                           'LoadAnnotations')).reduce_zero_label is False
    assert cfg.train_dataloader.batch_size * 2 == 4  # 2 GPUs x 2 (paper: 4)
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.tta_model.type == 'SegTTAModel'  # no SAMS for Mask2Former
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'

    _shrink(cfg, _swin_overrides(), _voc_overrides(voc_mini_root, voc_seeds),
            str(tmp_path))
    _train_and_test(cfg, voc_seeds)


def test_mask2former_deform_attn_runs_without_compiled_mmcv():
    """The pixel decoder's MultiScaleDeformableAttention uses mmcv's
    pure-PyTorch path on CPU tensors; it must not hit a compiled op."""
    from mmcv.ops import MultiScaleDeformableAttention
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(
        embed_dims=16, num_heads=2, num_levels=2, num_points=2,
        batch_first=True)
    shapes = torch.tensor([[4, 4], [2, 2]])
    start = torch.tensor([0, 16])
    value = torch.randn(1, 20, 16)
    ref = torch.rand(1, 20, 2, 2)
    out = attn(value, value=value, reference_points=ref,
               spatial_shapes=shapes, level_start_index=start)
    assert out.shape == (1, 20, 16) and torch.isfinite(out).all()


def test_mask2former_swin_b_inherits(repo_root):
    child, parent = _load(repo_root, M2F_VOC_B), _load(repo_root, M2F_VOC)
    assert child.model.backbone.embed_dims == 128
    assert child.model.backbone.num_heads == [4, 8, 16, 32]
    assert child.model.decode_head.in_channels == [128, 256, 512, 1024]
    assert 'swin_base_patch4_window12_384_22k' in \
        child.model.backbone.init_cfg.checkpoint
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper',
                'train_cfg', 'param_scheduler'):
        assert child[key] == parent[key], key


def test_mask2former_coco(repo_root, coco_mini, tmp_path):
    cfg = _load(repo_root, M2F_COCO)
    head = cfg.model.decode_head
    assert head.num_classes == 81
    assert head.loss_cls.class_weight == [1.0] * 81 + [0.1]
    assert cfg.train_cfg.max_iters == 100000
    assert cfg.param_scheduler[0].end == 100000
    assert cfg.train_dataloader.dataset.type == 'PseudoLabelDataset'
    assert cfg.train_dataloader.dataset.dataset.type == \
        'COCOImageLabelDataset'
    assert 'data_root' in cfg.train_dataloader.dataset.dataset
    assert cfg.val_dataloader.dataset.type == 'COCOImageLabelDataset'
    assert cfg.val_dataloader.dataset.pipeline == \
        cfg.test_dataloader.dataset.pipeline

    _shrink(cfg, _swin_overrides(), _coco_overrides(coco_mini),
            str(tmp_path))
    _train_and_test(cfg, coco_mini['seed_dir'])


def test_deeplabv2_voc(repo_root, voc_mini_root, voc_seeds, tmp_path):
    cfg = _load(repo_root, DLV2_VOC)
    # survey settings
    head = cfg.model.decode_head
    assert head.type == 'DeepLabV2Head'
    assert tuple(head.dilations) == (6, 12, 18, 24)
    assert cfg.model.backbone.depth == 101
    assert cfg.model.backbone.strides == (1, 2, 1, 1)  # output stride 8
    assert cfg.model.backbone.dilations == (1, 1, 2, 4)
    assert cfg.model.get('auxiliary_head') is None
    assert cfg.model.data_preprocessor.size == (321, 321)
    assert cfg.train_dataloader.batch_size == 5
    assert cfg.train_cfg.max_iters == 20000
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('SGD', 2.5e-4, 5e-4)
    assert cfg.param_scheduler[0].type == 'PolyLR'

    _shrink(cfg, _resnet_overrides('deeplabv2'),
            _voc_overrides(voc_mini_root, voc_seeds), str(tmp_path))
    runner = Runner.from_cfg(cfg)
    # lr x10 on the head's weights, x20 and no decay on its biases
    groups = runner.build_optim_wrapper(
        cfg.optim_wrapper).optimizer.param_groups
    model = runner.model
    by_id = {id(p): n for n, p in model.named_parameters()}
    seen = set()
    for g in groups:
        for p in g['params']:
            name = by_id[id(p)]
            seen.add(name)
            if name.startswith('decode_head.') and name.endswith('weight'):
                assert g['lr'] == pytest.approx(2.5e-3), name
            elif name.startswith('decode_head.'):
                assert g['lr'] == pytest.approx(5e-3), name
                assert g['weight_decay'] == 0, name
            else:
                assert g['lr'] == pytest.approx(2.5e-4), name
    assert sum(n.startswith('decode_head.aspp_convs') for n in seen) == 8
    del runner
    _train_and_test(cfg, voc_seeds)


def test_deeplabv2_frozen_bn(repo_root):
    """DeepLab-v2 keeps BN frozen: no grad, eval mode while training."""
    cfg = _load(repo_root, DLV2_VOC)
    cfg.merge_from_dict(_resnet_overrides('deeplabv2'))
    model = MODELS.build(cfg.model)
    model.train()
    bns = [
        m for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    assert bns
    assert not any(p.requires_grad for m in bns for p in m.parameters())
    assert not any(m.training for m in bns)
