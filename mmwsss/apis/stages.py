"""Every FMA-WSSS stage as a library function that returns its results.

Each function takes a config (a :class:`~mmengine.config.Config`, a dict, a
file, or an ``mmwsss::folder/file.py`` name) plus overrides, runs the stage
in this process and returns a dict of plain data (metrics, paths, times),
which it also writes as JSON beside the stage's outputs
(``<work_dir>/<stage>_results.json`` unless ``results_file`` says
otherwise). No number is read back out of log text: metrics come from
mmengine's ``Runner.test()``, the message hub and the loops' own results.

- :func:`sam_masks`: SAM (or weight-free) quasi-superpixels of a dataset
  (:mod:`.sam_masks`, ``mmwsss-gen-masks``);
- :func:`prompt_learning`: both phases of prompt learning, with the coarse
  seeds' scores and the last CAL loss;
- :func:`seeds`: the fine seeds of a prompt model (+ their scores);
- :func:`score_seeds`: a seed folder against ground truth
  (``mmwsss-eval-seeds``);
- :func:`train`: any training run (stage 2: the segmentor on the seeds);
- :func:`test`: any test run, with ``tta=True`` SAMS (or any ``tta_model``).

:data:`STAGE_FUNCTIONS` names them for :mod:`.child`, which runs one in a
fresh process (``python -m mmwsss.apis.child``) where isolation helps.
"""
import os.path as osp
import time
from typing import Dict, Optional

from .mm_tools import AMP_REPLACES, AMP_WRAPPER
from .stage_io import ConfigLike, load_config, results_path, write_results

__all__ = [
    'load_config', 'write_results', 'train', 'test', 'prompt_learning',
    'seeds', 'sam_masks', 'score_seeds', 'STAGE_FUNCTIONS', 'ConfigLike',
    'call_stage'
]

def _config_name(config: ConfigLike, cfg) -> str:
    name = config if isinstance(config, str) else (cfg.filename or 'config')
    return osp.splitext(osp.basename(str(name).split('::')[-1]))[0]


def _prepare(config: ConfigLike, work_dir: Optional[str],
             cfg_options: Optional[dict], launcher: str):
    """The config of a run, with the work dir as mmseg's tools set it."""
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', _config_name(config, cfg))
    cfg.work_dir = osp.abspath(cfg.work_dir)
    return cfg


def _build_runner(cfg):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    # mmseg's runtime names its visualizer 'visualizer'; mmengine keeps one
    # instance per name for the process, so a second Runner in this process
    # (the pipeline's --in-process stages, a test) would log its scalars
    # through the first one's, into the first run's folder. Without the
    # name, each Runner's visualizer is named after its own experiment.
    if isinstance(cfg.get('visualizer'), dict):
        cfg.visualizer.pop('name', None)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def _scalars(runner, prefix: str) -> Dict[str, float]:
    """Current values of the message hub's ``<prefix>/...`` scalars."""
    out = {}
    for key, buf in runner.message_hub.log_scalars.items():
        if key.startswith(prefix + '/'):
            try:
                out[key[len(prefix) + 1:]] = float(buf.current())
            except (TypeError, ValueError, IndexError):
                pass
    return out


def _last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return f.read().strip() or None


def _is_main() -> bool:
    from mmengine.dist import is_main_process
    return is_main_process()


def train(config: ConfigLike,
          work_dir: Optional[str] = None,
          resume: bool = False,
          amp: bool = False,
          cfg_options: Optional[dict] = None,
          launcher: str = 'none',
          results_file: Optional[str] = None) -> dict:
    """Train as mmseg's ``tools/train.py`` does, and return the results.

    Args:
        config: Config, dict, file or ``mmwsss::`` name.
        work_dir (str, optional): Default: the config's, else
            ``work_dirs/<config name>``.
        resume (bool): Resume from the work dir's last checkpoint.
        amp (bool): Mixed precision with
            :class:`~mmwsss.engine.DeviceAmpOptimWrapper` (see
            :func:`~.mm_tools.amp_arguments`).
        cfg_options (dict, optional): Config overrides.
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``.
        results_file (str, optional): JSON file of the results, relative to
            the work dir (default ``train_results.json``; ``''``: none).

    Returns:
        dict: ``work_dir``, ``checkpoint`` (the last one), ``iterations``,
        ``val_metrics`` (the last validation's, by metric name),
        ``last_losses`` (the last logged value of each training loss),
        ``coarse_seeds`` (a two-phase prompt run: the coarse seeds' folder,
        alpha and scores), ``seconds``.
    """
    from mmwsss.compat import checked_checkpoint_loading
    t0 = time.time()
    cfg = _prepare(config, work_dir, cfg_options, launcher)
    if amp:
        kind = cfg.get('optim_wrapper', {}).get('type', 'OptimWrapper')
        if kind not in AMP_REPLACES:
            raise ValueError(f'amp needs optim_wrapper.type to be one of '
                             f'{AMP_REPLACES}, got {kind!r}')
        cfg.optim_wrapper.type = AMP_WRAPPER
    cfg.resume = resume
    runner = _build_runner(cfg)
    with checked_checkpoint_loading():
        runner.train()
    coarse = getattr(runner.train_loop, 'coarse_seed_results', None)
    results = dict(
        stage='train',
        config=cfg.filename,
        work_dir=cfg.work_dir,
        checkpoint=_last_checkpoint(cfg.work_dir),
        iterations=runner.iter,
        val_metrics=_scalars(runner, 'val'),
        last_losses={
            k: v
            for k, v in _scalars(runner, 'train').items()
            if k.startswith('loss')
        },
        coarse_seeds=coarse,
        seconds=round(time.time() - t0, 1))
    path = results_path(results_file, cfg.work_dir, 'train_results.json')
    return write_results(results, path if _is_main() else None)


def test(config: ConfigLike,
         checkpoint: str,
         work_dir: Optional[str] = None,
         out: Optional[str] = None,
         tta: bool = False,
         show_dir: Optional[str] = None,
         cfg_options: Optional[dict] = None,
         launcher: str = 'none',
         results_file: Optional[str] = None) -> dict:
    """Test as mmseg's ``tools/test.py`` does, and return the metrics.

    Args:
        config: Config, dict, file or ``mmwsss::`` name.
        checkpoint (str): The weights (``'none'``: training-free models).
        work_dir (str, optional): As :func:`train`.
        out (str, optional): Folder of the predictions as label PNGs
            (mmseg's ``--out``).
        tta (bool): Test with the config's ``tta_pipeline`` and
            ``tta_model`` (SAMS in the mmwsss configs).
        show_dir (str, optional): Folder of drawn predictions.
        cfg_options (dict, optional): Config overrides.
        launcher (str): As :func:`train`.
        results_file (str, optional): As :func:`train` (default
            ``test_results.json``, ``test_tta_results.json`` with ``tta``).

    Returns:
        dict: ``metrics`` (what the evaluators return, e.g. ``mIoU``; empty
        when they only write predictions), ``prediction_dir``,
        ``checkpoint``, ``tta``, ``work_dir``, ``seconds``.
    """
    from mmwsss.compat import checked_checkpoint_loading
    t0 = time.time()
    cfg = _prepare(config, work_dir, cfg_options, launcher)
    cfg.load_from = checkpoint
    if show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise RuntimeError('show_dir needs a VisualizationHook in '
                               'default_hooks')
        hooks['visualization']['draw'] = True
        cfg.visualizer['save_dir'] = show_dir
    if tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if out is not None:
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True
    runner = _build_runner(cfg)
    with checked_checkpoint_loading():
        metrics = runner.test()
    results = dict(
        stage='test',
        config=cfg.filename,
        work_dir=cfg.work_dir,
        checkpoint=checkpoint,
        tta=tta,
        metrics=dict(metrics or {}),
        prediction_dir=out,
        seconds=round(time.time() - t0, 1))
    path = results_path(results_file, cfg.work_dir, 'test_tta_results.json'
                         if tta else 'test_results.json')
    return write_results(results, path if _is_main() else None)


def _coarse_summary(coarse: Optional[Dict[str, dict]]) -> Optional[dict]:
    """The kept coarse-seed folder of a two-phase run and its scores."""
    if not coarse:
        return None
    return coarse.get('kept') or next(iter(coarse.get('folders', {}).values()),
                                      None)


def prompt_learning(config: ConfigLike,
                    work_dir: Optional[str] = None,
                    resume: bool = False,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none',
                    results_file: Optional[str] = None) -> dict:
    """Both phases of prompt learning (MCL -> coarse seeds -> CAL).

    Args: as :func:`train` (default results file
    ``prompts_results.json``).

    Returns:
        dict: :func:`train`'s results and ``coarse_seed_mIoU`` (percent;
        None without ground truth), ``coarse_seed_dir`` and
        ``phase2_cal_loss_last`` (the last logged CAL loss, fg + bg; None
        without a phase 2).
    """
    from mmwsss.evaluation.pipeline_stats import CAL_LOSS_KEYS
    res = train(config, work_dir, resume, False, cfg_options, launcher, '')
    kept = _coarse_summary(res.get('coarse_seeds'))
    scores = (kept or {}).get('scores') or {}
    losses = res['last_losses']
    cal = [losses[k] for k in CAL_LOSS_KEYS if k in losses]
    res.update(
        stage='prompts',
        coarse_seed_dir=(kept or {}).get('dir'),
        coarse_seed_mIoU=None
        if scores.get('mIoU') is None else 100 * scores['mIoU'],
        phase2_cal_loss_last=sum(cal) if cal else None)
    path = results_path(results_file, res['work_dir'],
                         'prompts_results.json')
    return write_results(res, path if _is_main() else None)


def seeds(config: ConfigLike,
          checkpoint: str,
          work_dir: Optional[str] = None,
          cfg_options: Optional[dict] = None,
          launcher: str = 'none',
          results_file: Optional[str] = None) -> dict:
    """The fine seeds of a prompt model: a test run of a seed config
    (``configs/fma/*seeds*.py``: its ``SeedMetric`` writes the seed PNGs
    and scores them where there is ground truth).

    Returns:
        dict: :func:`test`'s results and ``seed_mIoU`` (percent; None
        without ground truth), ``seed_dir``, ``overlay_dir``,
        ``seed_scores_file``.
    """
    cfg = load_config(config, cfg_options)
    res = test(cfg, checkpoint, work_dir, launcher=launcher, results_file='')
    ev = cfg.test_evaluator
    ev = ev[0] if isinstance(ev, (list, tuple)) else ev
    miou = res['metrics'].get('mIoU')
    res.update(
        stage='seeds',
        seed_mIoU=miou,
        seed_dir=ev.get('seed_dir'),
        overlay_dir=ev.get('overlay_dir'),
        seed_scores_file=ev.get('output_file') or (osp.join(
            ev['out_dir'], 'seed_scores.json') if ev.get('out_dir') else None))
    path = results_path(results_file, res['work_dir'], 'seeds_results.json')
    return write_results(res, path if _is_main() else None)


def sam_masks(config: ConfigLike,
              work_dir: Optional[str] = None,
              overwrite: bool = False,
              cfg_options: Optional[dict] = None,
              launcher: str = 'none',
              results_file: Optional[str] = None) -> dict:
    """SAM quasi-superpixels of every image of the config's ``dataset``
    (:func:`.sam_masks.generate_sam_masks`).

    Returns:
        dict: ``mask_dir``, ``images``, ``generated``, ``skipped``,
        ``failed``, ``failed_images``, ``refused`` (the reason, or None),
        ``masks_per_image`` (mean per level), ``seconds``.
    """
    from .sam_masks import generate_sam_masks
    return generate_sam_masks(
        config,
        work_dir=work_dir,
        overwrite=overwrite,
        cfg_options=cfg_options,
        launcher=launcher,
        results_file=results_file)


def score_seeds(seed_dir: str,
                dataset: str = 'voc',
                split: Optional[str] = None,
                data_root: Optional[str] = None,
                cfg_options: Optional[dict] = None,
                ignore_index: int = 255,
                allow_missing: bool = False,
                nproc: int = 1,
                out: Optional[str] = None,
                overlay_dir: Optional[str] = None,
                num_overlays: int = 20) -> dict:
    """Score a folder of seed PNGs against ground truth
    (:func:`.seed_scoring.score_seed_folder`; ``mmwsss-eval-seeds``).

    Returns:
        dict: The report (``mIoU``, ``mPrecision``, ``mRecall``, ``aAcc``,
        per-class rows, ``num_images``), also written to ``out`` (default
        ``<seed_dir>/seed_scores.json``), with ``report_file``.
    """
    from .seed_scoring import score_seed_folder
    return score_seed_folder(seed_dir, dataset, split, data_root,
                             cfg_options, ignore_index, allow_missing, nproc,
                             out, overlay_dir, num_overlays)


#: The stages by name, for :mod:`.child` and the pipeline.
STAGE_FUNCTIONS = dict(
    sam_masks=sam_masks,
    prompt_learning=prompt_learning,
    seeds=seeds,
    score_seeds=score_seeds,
    train=train,
    test=test)


def call_stage(name: str, kwargs: dict) -> dict:
    """Run :data:`STAGE_FUNCTIONS` ``[name](**kwargs)``."""
    if name not in STAGE_FUNCTIONS:
        raise KeyError(f'no stage {name!r}; stages: {sorted(STAGE_FUNCTIONS)}')
    return STAGE_FUNCTIONS[name](**kwargs)
