"""The full config of every pipeline stage, made from the bundled configs.

Each function loads one base config, points it at the data of a
:class:`~mmwsss.apis.data_spec.DataSpec` and at the run's folders, and
returns it; :func:`dump_config` writes it into the work dir, where the
stage's tool reads it and a user can take it over. Weights come from
:class:`Weights`: without them the tiny random models of the base configs
stay.
"""
import copy
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

from mmengine.config import Config

from mmwsss.engine.derived_data import seed_dataloader
from .data_spec import DataSpec

__all__ = [
    'Weights', 'BaseConfigs', 'default_mask_generator', 'sam_config', 'prompt_config', 'seed_config',
    'stage2_config', 'dump_config', 'set_prompt_iters', 'set_stage2_iters',
    'METHODS', 'weclip_config', 'weclip_seed_config', 'set_weclip_iters',
    'seed_outputs'
]

#: The first-stage methods of the pipeline: FMA-WSSS (two-phase prompts,
#: then seeds from the seg prompts + SAMS) or WeCLIP+ (a single-stage
#: segmentor whose online pseudo labels are the seeds).
METHODS = ('fma-wsss', 'weclip-plus')


@dataclass
class Weights:
    """Real model weights; fields None = the tiny random models."""
    clip: Optional[str] = None
    clip_pretrained: Optional[str] = None
    sam_type: Optional[str] = None
    sam_checkpoint: Optional[str] = None

    @property
    def real_clip(self) -> bool:
        return bool(self.clip and self.clip_pretrained)

    @property
    def real_sam(self) -> bool:
        return bool(self.sam_type and self.sam_checkpoint)


@dataclass
class BaseConfigs:
    """The configs the stages start from: ``mmwsss::`` names (the configs
    an installed mmwsss carries, from any folder), files, or paths relative
    to the repository (``configs/...``, the names of a clone).

    ``mask_generator`` is THE quasi-superpixel setting: any config with a
    ``sam_generator`` dict for ``mmwsss-gen-masks`` (its dataset and
    ``mask_dir`` are replaced). None: :func:`default_mask_generator`.
    """
    mask_generator: Optional[str] = None
    method: str = 'fma-wsss'
    prompts: str = 'mmwsss::fma/voc_mini_prompts_demo.py'
    seeds: str = 'mmwsss::fma/voc_mini_seeds_demo.py'
    stage2: str = ('mmwsss::deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-800iter_'
                   'voc-mini-pseudo-64x64.py')
    #: The WeCLIP+ config of ``method='weclip-plus'`` (it trains in the
    #: ``prompts`` stage and writes its pseudo labels in ``seeds``).
    weclip: str = ('mmwsss::weclip/weclip-plus_tiny-clip-tiny-dinov2_'
                   '1xb2-2iter_voc-mini-64x64.py')

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f'method {self.method!r}: one of {METHODS}')


#: Quasi-superpixels with a SAM checkpoint (the paper's generator) ...
SAM_GENERATOR = 'mmwsss::sams/sam_vit_h.py'
#: ... and without one: the weight-free Felzenszwalb generator. The tiny
#: random SAM (configs/sams/sam_tiny.py) yields one sub-part mask per image,
#: so every seed would be background; it stays for tests of the SAM path.
WEIGHT_FREE_GENERATOR = 'mmwsss::sams/felzenszwalb.py'


def default_mask_generator(weights: 'Weights') -> str:
    """The mask-generator config the pipeline uses when none is given.

    Args:
        weights (Weights): The run's weights.

    Returns:
        str: :data:`SAM_GENERATOR` with a SAM checkpoint, else
        :data:`WEIGHT_FREE_GENERATOR`.
    """
    return SAM_GENERATOR if weights.real_sam else WEIGHT_FREE_GENERATOR


def dump_config(cfg: Config, path: str) -> str:
    """Write a config file (atomically).

    Args:
        cfg (Config): The config.
        path (str): Target ``.py`` file.

    Returns:
        str: ``path``.
    """
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path[:-3] + '.tmp.py'
    cfg.dump(tmp)
    os.replace(tmp, path)
    return path


def sam_config(base: str, spec: DataSpec, mask_dir: str,
               weights: Weights) -> Config:
    """Mask-generator config over every image of the data.

    Args:
        base (str): The mask-generator config (``BaseConfigs``).
        spec (DataSpec): The data.
        mask_dir (str): Output folder of the mask caches.
        weights (Weights): With a real SAM: the paper's generator settings.

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(base)
    cfg.dataset = spec.sam_dataset()
    cfg.mask_dir = mask_dir
    is_sam = cfg.sam_generator.get('type') == 'SAMQuasiSuperpixelGenerator'
    if weights.real_sam and is_sam:  # the paper's settings (sam_vit_h.py)
        cfg.sam_generator.update(
            model_type=weights.sam_type,
            checkpoint=weights.sam_checkpoint,
            points_per_side=32,
            pred_iou_thresh=0.86,
            stability_score_thresh=0.92,
            stability_score_offset=1.0)
    return cfg


def _model(cfg: Config, spec: DataSpec, mask_dir: str,
           weights: Weights) -> None:
    """Classes, SAM mask folder and CLIP weights of the prompt model."""
    spec.model_classes(cfg.model)
    for task in ('cls', 'seg'):
        if cfg.model.seeder.get(task) is not None:
            cfg.model.seeder[task].mask_dir = mask_dir
    if weights.real_clip:
        cfg.model.clip.model_name = weights.clip
        cfg.model.clip.pretrained = weights.clip_pretrained


def set_prompt_iters(cfg: Config, cls_iters: int, seg_iters: int) -> None:
    """Phase lengths of the two-phase schedule, LR schedule and checkpoints
    following (warm-up at most a quarter of a phase)."""
    cfg.train_cfg.cls_iters, cfg.train_cfg.seg_iters = cls_iters, seg_iters
    bounds = [(0, cls_iters), (cls_iters, cls_iters + seg_iters)]
    for sched, (begin, end) in zip(cfg.param_scheduler, bounds):
        sched.update(begin=begin, end=end)
        if 'warmup_iters' in sched:
            sched.warmup_iters = min(sched.warmup_iters,
                                     max(1, (end - begin) // 4))
    cfg.default_hooks.checkpoint.interval = max(1, min(cls_iters, seg_iters))


def prompt_config(base: str, spec: DataSpec, mask_dir: str,
                  weights: Weights) -> Config:
    """Two-phase prompt-learning config on the data's training images.

    The coarse-seed and phase-2 datasets are left to the loop to derive
    from ``train_dataloader.dataset`` (mmwsss/engine/derived_data.py).

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(base)
    _model(cfg, spec, mask_dir, weights)
    cfg.train_dataloader.dataset = spec.train_dataset(
        cfg.train_dataloader.dataset)
    cfg.train_cfg.coarse_seeds.dataloader = None
    cfg.train_cfg.seg_dataloader.dataset.dataset = None
    cfg.test_dataloader = None
    cfg.test_evaluator = None
    cfg.test_cfg = None
    return cfg


def seed_outputs(work_dir: str) -> dict:
    """Where a run's seeds go: ``SeedMetric``'s ``seed_dir``
    (``<work_dir>/seeds``), ``out_dir`` (the scores) and ``overlay_dir``."""
    return dict(
        seed_dir=osp.join(work_dir, 'seeds'),
        out_dir=work_dir,
        overlay_dir=osp.join(work_dir, 'overlays'))


def seed_config(base: str, spec: DataSpec, mask_dir: str, weights: Weights,
                work_dir: str) -> Config:
    """Fine-seed config: seg-prompt seeds of the training images, written
    as class-index PNGs with overlays, scored where masks exist.

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(base)
    _model(cfg, spec, mask_dir, weights)
    outputs = seed_outputs(work_dir)
    cfg.model.reuse_seeds_from = outputs['seed_dir']
    derived = spec.seed_dataset()
    if derived is None:
        cfg.test_dataloader.dataset = spec.train_dataset(
            cfg.test_dataloader.dataset)
    else:
        loader = seed_dataloader(cfg.train_dataloader.to_dict())
        loader['dataset'] = derived
        cfg.test_dataloader = loader
    cfg.test_evaluator.update(outputs)
    return cfg


def _optional_gt(pipeline: List[dict]) -> List[dict]:
    """A pipeline whose ``LoadAnnotations`` tolerates images without GT."""
    out = copy.deepcopy(list(pipeline))
    for i, t in enumerate(out):
        if t.get('type') == 'LoadAnnotations':
            out[i] = dict(t, type='LoadOptionalAnnotations')
        elif t.get('type') == 'TestTimeAug':
            t['transforms'] = [_optional_gt(step) for step in t['transforms']]
    return out


def stage2_config(base: str, spec: DataSpec, mask_dir: str, seed_dir: str,
                  num_classes: Optional[int], pred_dir: str) -> Config:
    """Stage-2 segmentor config: trained on the seeds, tested on the test
    images (mIoU with GT everywhere, else predictions in ``pred_dir``).

    Args:
        num_classes (int, optional): Classes incl. background (heads);
            None keeps the config's.

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(base)
    pseudo = cfg.train_dataloader.dataset
    pseudo.seed_dir = seed_dir
    pseudo.dataset = spec.train_dataset(pseudo.dataset)
    if spec.seed_dataset() is not None:  # folder data: images only
        pseudo.dataset.pop('pipeline', None)
    val, has_gt = spec.val_dataset(cfg.test_dataloader.dataset)
    val['pipeline'] = _optional_gt(val.get('pipeline', []))
    cfg.val_dataloader.dataset = val
    cfg.test_dataloader = cfg.val_dataloader
    cfg.tta_pipeline = _optional_gt(cfg.tta_pipeline)
    cfg.tta_model.mask_dir = mask_dir
    if not has_gt:
        cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
        cfg.train_cfg.val_interval = 10**9
        cfg.test_evaluator = dict(
            type='IoUMetric', format_only=True, output_dir=pred_dir)
    if num_classes is not None:
        for head in ('decode_head', 'auxiliary_head'):
            if cfg.model.get(head) is not None:
                cfg.model[head].num_classes = num_classes
    return cfg


def set_stage2_iters(cfg: Config, iters: int) -> None:
    """Stage-2 length with the LR schedule and checkpoint following."""
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = min(cfg.train_cfg.val_interval, iters)
    for sched in cfg.param_scheduler:
        sched.end = iters
    cfg.default_hooks.checkpoint.interval = iters


def weclip_config(base: str, spec: DataSpec, weights: Weights) -> Config:
    """WeCLIP+ training config on the data's training images (no
    validation during training; the seeds stage scores its pseudo labels).

    Args:
        base (str): The WeCLIP / WeCLIP+ config.
        spec (DataSpec): The data.
        weights (Weights): Real CLIP weights replace the tiny CLIP (the
            DINOv2 weights stay the config's ``model.dino.pretrained``).

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(base)
    spec.model_classes(cfg.model)
    if weights.real_clip:
        cfg.model.clip.model_name = weights.clip
        cfg.model.clip.pretrained = weights.clip_pretrained
    cfg.train_dataloader.dataset = spec.train_dataset(
        cfg.train_dataloader.dataset)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.train_cfg.val_interval = 10**9
    return cfg


def weclip_seed_config(train_config: str, spec: DataSpec,
                       work_dir: str) -> Config:
    """WeCLIP+'s online pseudo labels of the training images as seeds
    (``model.test_cfg.output='pseudo'``), written as class-index PNGs with
    overlays and scored where masks exist, as FMA-WSSS's fine seeds.

    Args:
        train_config (str): The config the ``prompts`` stage trained with
            (:func:`weclip_config`'s, dumped).
        spec (DataSpec): The data.
        work_dir (str): The run's folder (seeds in ``<work_dir>/seeds``).

    Returns:
        Config: The stage config.
    """
    cfg = Config.fromfile(train_config)
    cfg.model.test_cfg.output = 'pseudo'
    derived = spec.seed_dataset()
    loader = seed_dataloader(cfg.train_dataloader.to_dict())
    if derived is not None:
        loader['dataset'] = derived
    cfg.test_dataloader = loader
    cfg.test_cfg = dict(type='TestLoop')
    cfg.test_evaluator = dict(type='SeedMetric', **seed_outputs(work_dir))
    return cfg


def set_weclip_iters(cfg: Config, iters: int) -> None:
    """WeCLIP+ training length with the LR schedule (warm-up at most a
    quarter of the run) and checkpoint following."""
    cfg.train_cfg.max_iters = iters
    for sched in cfg.param_scheduler:
        if 'max_iters' in sched:
            sched.max_iters = iters
        if 'warmup_iters' in sched:
            sched.warmup_iters = min(sched.warmup_iters, max(1, iters // 4))
        if 'end' in sched:
            sched.end = iters
    cfg.default_hooks.checkpoint.interval = iters
