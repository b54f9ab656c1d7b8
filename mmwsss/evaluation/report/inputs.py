"""What a report is made of: seed folders, their ground truth, training logs,
stage times and run settings, gathered from a pipeline work dir or given.

A pipeline work dir is what ``tools/run_pipeline.py`` / ``make demo`` write
(:mod:`mmwsss.apis.pipeline`): ``pipeline_results.json`` (or the demo's
``demo_results.json``), ``configs/<stage>.py``, ``prompts/coarse_seeds``,
``seeds/``, and mmengine's ``<timestamp>/vis_data/scalars.json`` under
``prompts/`` and ``stage2/``.
"""
import glob
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

from ..seed_eval import SeedEvalError

__all__ = ['ReportInputs', 'inputs_from_work_dir', 'RESULTS_NAMES']

#: Curve of the single-stage model's training (WeCLIP / WeCLIP+,
#: ``--method weclip-plus``): its loss terms, logged in the ``prompts`` run.
WECLIP_CURVE = 'WeCLIP training (online pseudo labels)'
#: Curve of the segmentor trained on the seeds.
STAGE2_CURVE = 'stage 2 (segmentor on the seeds)'

#: Results files of a pipeline work dir, in the order they are looked for.
RESULTS_NAMES = ('pipeline_results.json', 'demo_results.json')


@dataclass
class ReportInputs:
    """Everything a report is built from.

    Args:
        seed_dirs (dict[str, str]): Seed set name -> folder of seed PNGs,
            in the order they are shown (e.g. coarse, fine, baselines).
        dataset (str): The ground truth: ``'voc'``, ``'coco'`` or a config
            file (see :func:`~mmwsss.evaluation.build_seed_eval_dataset`).
        split (str, optional): Split of a built-in dataset.
        data_root (str, optional): Overrides the dataset's root.
        cfg_options (dict, optional): Config overrides of the dataset.
        ignore_index (int): GT value not scored. Defaults to 255.
        allow_missing (bool): Score the images that have a seed. Defaults
            to True (a report shows what there is; the count of missing
            seeds is in it).
        nproc (int): Worker processes reading the seeds. Defaults to 1.
        rank_set (str, optional): Seed set whose per-image mIoU picks the
            worst / best images (default: the last of ``seed_dirs``).
        cam_config (str, optional): Config of the model whose CAMs made the
            ranked seeds (``configs/seeds.py`` of a work dir); with
            ``cam_checkpoint`` the strips show recomputed CAMs.
        cam_checkpoint (str, optional): Its checkpoint.
        scalar_runs (dict[str, str]): Training run name -> its work dir
            (or ``scalars.json``), e.g. ``{'prompts': ..., 'stage2': ...}``.
        phase_split (int, optional): Last iteration of prompt phase 1
            (``train_cfg.cls_iters``).
        stage_seconds (dict[str, float]): Stage -> wall seconds.
        settings (list[tuple[str, str]]): Run settings shown at the top.
        title (str): Page title.
        notes (list[str]): Remarks shown under the settings.
        expected_curves (list[str], optional): Training curves the runs
            should have logged (one missing is said so); None: FMA-WSSS's
            two prompt phases and stage 2.
    """
    seed_dirs: Dict[str, str]
    dataset: str
    split: Optional[str] = None
    data_root: Optional[str] = None
    cfg_options: Optional[dict] = None
    ignore_index: int = 255
    allow_missing: bool = True
    nproc: int = 1
    rank_set: Optional[str] = None
    cam_config: Optional[str] = None
    cam_checkpoint: Optional[str] = None
    scalar_runs: Dict[str, str] = field(default_factory=dict)
    phase_split: Optional[int] = None
    stage_seconds: Dict[str, float] = field(default_factory=dict)
    settings: List[Tuple[str, str]] = field(default_factory=list)
    title: str = 'Seed report'
    notes: List[str] = field(default_factory=list)
    expected_curves: Optional[List[str]] = None


def find_results_file(work_dir: str) -> str:
    """The results file of a pipeline work dir.

    Args:
        work_dir (str): The work dir.

    Returns:
        str: The first of :data:`RESULTS_NAMES` that exists.

    Raises:
        SeedEvalError: None exists (names the folder).
    """
    for name in RESULTS_NAMES:
        path = osp.join(work_dir, name)
        if osp.isfile(path):
            return path
    raise SeedEvalError(f'{work_dir} is not a pipeline work dir: none of '
                        f'{RESULTS_NAMES} there')


def _config(work_dir: str, stage: str) -> Optional[Config]:
    path = osp.join(work_dir, 'configs', f'{stage}.py')
    return Config.fromfile(path) if osp.isfile(path) else None


def _clip_setting(prompts: Optional[Config]) -> str:
    """CLIP model and weights of the prompt config, or why unknown."""
    if prompts is None:
        return 'unknown (no configs/prompts.py)'
    clip = prompts.model.get('clip', {})
    name = clip.get('model_name', '?')
    pretrained = clip.get('pretrained')
    if not pretrained:
        return f'{name}, RANDOM weights (random tiny model: the figures ' \
            'only show that the stages run)'
    return f'{name}, weights {pretrained}'


def _mask_setting(sam: Optional[Config]) -> str:
    """Quasi-superpixel generator of the mask config and its weights."""
    if sam is None:
        return 'unknown (no configs/sam_masks.py)'
    gen = sam.get('sam_generator') or {}
    kind = gen.get('type', '?')
    if 'Felzenszwalb' in kind:
        return f'{kind} (weight-free; not the paper\'s SAM)'
    model = gen.get('model_type')
    name = f'{kind} ({model})' if model else kind
    ckpt = gen.get('checkpoint') or 'none: RANDOM weights'
    return f'{name}, checkpoint {ckpt}'


def _stage2_setting(stage2: Optional[Config]) -> str:
    """Segmentor, backbone, head and iterations of the stage-2 config."""
    if stage2 is None:
        return 'not run'
    model = stage2.model
    parts = [
        model.get('type', '?'), (model.get('backbone') or {}).get('type', '?'),
        (model.get('decode_head') or {}).get('type', '?')
    ]
    iters = (stage2.get('train_cfg') or {}).get('max_iters')
    return ' / '.join(parts) + (f', {iters} iterations' if iters else '')


def _settings(work_dir: str, results_file: str, prompts: Optional[Config],
              sam: Optional[Config], stage2: Optional[Config],
              seeds: Optional[Config]) -> List[Tuple[str, str]]:
    """The run settings shown at the top of a work dir's report."""
    configs = sorted(glob.glob(osp.join(work_dir, 'configs', '*.py')))
    out = [('work dir', osp.abspath(work_dir)),
           ('results', osp.basename(results_file)),
           ('configs', ', '.join(osp.relpath(c, work_dir) for c in configs)
            or 'none')]
    if seeds is not None:
        ds = seeds.test_dataloader.dataset
        out.append(('seed images', f'{ds.get("data_root")} '
                    f'({ds.get("ann_file") or "all images"})'))
    out += [('CLIP', _clip_setting(prompts)),
            ('mask generator', _mask_setting(sam))]
    weclip = _weclip_name(prompts)
    if weclip:
        tc = prompts.get('train_cfg') or {}
        dino = prompts.model.get('dino')
        out.append((weclip, 'frozen CLIP' + (
            f' + DINOv2 {dino.get("arch")} ({dino.get("pretrained") or "RANDOM weights"})'
            if dino else '') + f', {tc.get("max_iters")} iterations; its '
                    'online pseudo labels are the seeds'))
    elif prompts is not None and prompts.get('train_cfg'):
        tc = prompts.train_cfg
        out.append(('prompt phases', f'phase 1 (cls prompts, MCL) '
                    f'{tc.get("cls_iters")} iterations, phase 2 (seg '
                    f'prompts, CAL) {tc.get("seg_iters")} iterations'))
    out.append(('stage 2', _stage2_setting(stage2)))
    return out


def _weclip_name(prompts: Optional[Config]) -> Optional[str]:
    """'WeCLIP' / 'WeCLIP+' when the first stage trained that model
    (``mmwsss-pipeline --method weclip-plus``), else None."""
    if prompts is None or prompts.get('model', {}).get('type') != 'WeCLIP':
        return None
    return 'WeCLIP+' if prompts.model.get('dino') else 'WeCLIP'


def _stage_seconds(results: Dict[str, dict]) -> Dict[str, float]:
    return {
        stage: float(res['seconds'])
        for stage, res in results.items()
        if isinstance(res, dict) and res.get('seconds') is not None
    }


def _seed_dirs(work_dir: str,
               results: Dict[str, dict],
               baselines: Optional[Dict[str, str]],
               fine_name: str = 'fine seeds') -> Dict[str, str]:
    """Coarse and fine seeds of the work dir (those that exist), then the
    baselines; fine seeds last so they rank the images by default."""
    dirs = {}
    coarse = osp.join(work_dir, 'prompts', 'coarse_seeds')
    if osp.isdir(coarse):
        dirs['coarse seeds'] = coarse
    dirs.update(baselines or {})
    fine = results.get('seeds', {}).get('seed_dir') or osp.join(
        work_dir, 'seeds')
    if osp.isdir(fine):
        dirs[fine_name] = fine
    if not dirs:
        raise SeedEvalError(f'no seed folder in {work_dir} (prompts/'
                            'coarse_seeds, seeds/): run the pipeline first')
    return dirs


def inputs_from_work_dir(work_dir: str,
                         baselines: Optional[Dict[str, str]] = None,
                         cams: bool = True) -> ReportInputs:
    """The report inputs of a pipeline work dir.

    Args:
        work_dir (str): What ``tools/run_pipeline.py`` / ``make demo``
            wrote.
        baselines (dict[str, str], optional): More seed sets (name ->
            folder) shown beside the pipeline's.
        cams (bool): Recompute the CAMs of the strips' images from the seed
            stage's config and the phase-2 checkpoint. Defaults to True.

    Returns:
        ReportInputs: Scored against the seed stage's dataset
        (``configs/seeds.py``'s ``test_dataloader.dataset``), ranked by the
        fine seeds.

    Raises:
        SeedEvalError: Not a work dir, or no seeds in it yet.
    """
    results_file = find_results_file(work_dir)
    with open(results_file) as f:
        results = json.load(f)
    prompts, seeds = _config(work_dir, 'prompts'), _config(work_dir, 'seeds')
    stage2, sam = _config(work_dir, 'stage2'), _config(work_dir, 'sam_masks')
    seeds_cfg = osp.join(work_dir, 'configs', 'seeds.py')
    if seeds is None:
        raise SeedEvalError(f'{seeds_cfg} not found: the seed stage has '
                            'not run, nothing to score')
    runs = {
        name: osp.join(work_dir, name)
        for name in ('prompts', 'stage2') if glob.glob(
            osp.join(work_dir, name, '*', 'vis_data', 'scalars.json'))
    }
    weclip = _weclip_name(prompts)
    checkpoint = results.get('prompts', {}).get('checkpoint')
    use_cams = bool(cams and checkpoint and osp.isfile(checkpoint))
    notes = []
    if cams and not use_cams:
        notes.append(f'No CAMs: the {weclip or "phase-2"} checkpoint '
                     f'({checkpoint or "prompts stage not recorded"}) is '
                     'missing, so they cannot be recomputed.')
    return ReportInputs(
        seed_dirs=_seed_dirs(
            work_dir, results, baselines,
            f'{weclip} pseudo labels' if weclip else 'fine seeds'),
        dataset=seeds_cfg,
        cam_config=seeds_cfg if use_cams else None,
        cam_checkpoint=checkpoint if use_cams else None,
        scalar_runs=runs,
        phase_split=(prompts.train_cfg.get('cls_iters')
                     if prompts is not None and not weclip else None),
        stage_seconds=_stage_seconds(results),
        settings=_settings(work_dir, results_file, prompts, sam, stage2,
                           seeds),
        title=f'{weclip or "FMA-WSSS"} report: '
        f'{osp.basename(osp.abspath(work_dir))}',
        notes=notes,
        expected_curves=[WECLIP_CURVE, STAGE2_CURVE] if weclip else None)
