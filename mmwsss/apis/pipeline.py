"""The whole FMA-WSSS pipeline on a data folder, resumable, stage by stage.

Stages (:data:`STAGES`), each a library function of :mod:`.stages` run on
a config written into ``<work_dir>/configs/<stage>.py`` first, in a child
process (``python -m mmwsss.apis.child``: isolation, memory given back) or,
with ``in_process``, in this one:

1. ``sam_masks``  quasi-superpixels of every image (:func:`.stages.sam_masks`)
2. ``prompts``    prompt learning, phase 1 -> coarse seeds -> phase 2
   (:func:`.stages.prompt_learning`)
3. ``seeds``      fine seeds of the training images (+ seed mIoU, overlays;
   :func:`.stages.seeds`)
4. ``stage2``     a segmentor (DeepLabV3+, shrunk) trained on the seeds
   (:func:`.stages.train`)
5. ``test``       its mIoU on the test images (or predictions without GT;
   :func:`.stages.test`)
6. ``test_sams``  the same with multi-scale + flip + SAMS refinement
   (:func:`.stages.test` with ``tta=True``)

Every number comes back as data: the stage function's result dict (a child
process writes it as JSON, the parent reads that file); nothing is parsed
out of log text, which only goes to ``<work_dir>/logs/<stage>.log`` and, for
the progress lines, to the screen. Base configs are files or
``mmwsss::`` names (the configs an installed mmwsss carries).

``<work_dir>/<results_name>`` records finished stages (a rerun resumes;
``force`` redoes a stage and every later one from scratch, its old outputs
moved to ``superseded/``, :data:`STAGE_OUTPUTS`); the stages themselves skip
finished images and resume training from ``last_checkpoint``. Results are a
dict per stage (:attr:`PipelineRunner.results`); :data:`STAGE_METRICS`
adds computed entries to a stage's dict and :data:`TABLE_ROWS` says how
each stage shows in the final table, so a new number is one entry in each.
The quasi-superpixel generator is one setting,
:attr:`~mmwsss.apis.stage_configs.BaseConfigs.mask_generator`
(``--mask-generator``).
"""
import contextlib
import io
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from mmwsss.evaluation.pipeline_stats import (changed_fraction,
                                              last_logged_loss,
                                              seed_fg_fraction)
from mmwsss.io import dump_json_atomic
from mmwsss.utils.package_files import resolve_config
from .data_spec import DataSpec
from .run_guard import (WorkDirLock, check_inputs, check_writable,
                        die_with_parent)
from .stage_configs import (BaseConfigs, Weights, default_mask_generator,
                            dump_config, prompt_config, sam_config,
                            seed_config, seed_outputs, set_prompt_iters,
                            set_stage2_iters, set_weclip_iters, stage2_config,
                            weclip_config, weclip_seed_config)
from .stages import call_stage, write_results

__all__ = ['STAGES', 'TABLE_ROWS', 'STAGE_METRICS', 'PipelineRunner',
           'weights_banner']

STAGES = ('sam_masks', 'prompts', 'seeds', 'stage2', 'test', 'test_sams')
SHOWN = ('Iter(', 'Phase', 'seeds in', 'Seed scores over', 'SAM masks in',
         'RANDOM', 'PseudoLabelDataset:', 'SeedMetric:')


def _fmt(x: Optional[float]) -> str:
    return '-' if x is None else f'{x:.2f}'


def _pct(x: Optional[float]) -> str:
    return '-' if x is None else f'{100 * x:.1f}%'


def _fmt_loss(x: Optional[float]) -> str:
    return '-' if x is None else f'{x:.3g}'


def _seed_text(r: dict) -> str:
    return (f'seed mIoU {_fmt(r.get("seed_mIoU"))}, fg '
            f'{_pct(r.get("seed_fg_fraction"))}')


#: (stage, row label, result text from the stage's result dict).
TABLE_ROWS: List[Tuple[str, str, Callable[[dict], str]]] = [
    ('sam_masks', 'SAM quasi-superpixels', lambda r: f'{r["images"]} images'),
    ('prompts', 'prompt learning (2 phases)',
     lambda r: 'coarse seed mIoU ' + _fmt(r.get('coarse_seed_mIoU')) +
     ', fg ' + _pct(r.get('coarse_seed_fg_fraction')) + ', last CAL loss ' +
     _fmt_loss(r.get('phase2_cal_loss_last'))),
    ('seeds', 'fine seeds (train)', _seed_text),
    ('stage2', 'stage 2: DeepLabV3+ (tiny)',
     lambda r: f'{r.get("iterations", "?")} iterations'),
    ('test', 'test (val)', lambda r: f'mIoU {_fmt(r.get("val_mIoU"))}'),
    ('test_sams', 'test + SAMS TTA (val)',
     lambda r: f'mIoU {_fmt(r.get("val_mIoU"))}, SAMS changed '
     f'{_pct(r.get("tta_changed_fraction"))} of the pixels'),
]

#: The rows :data:`TABLE_ROWS` shows otherwise for ``method='weclip-plus'``:
#: the ``prompts`` stage trains WeCLIP+, ``seeds`` writes its online pseudo
#: labels.
WECLIP_ROWS: Dict[str, Tuple[str, Callable[[dict], str]]] = dict(
    prompts=('WeCLIP+ training (single stage)',
             lambda r: f'{r.get("iterations", "?")} iterations, last loss ' +
             _fmt_loss(r.get('loss_last'))),
    seeds=('online pseudo labels (train)', _seed_text))


class _LogSink(io.TextIOBase):
    """Collects a tool's output, writes it to its log and shows the
    progress lines (:data:`SHOWN`)."""

    def __init__(self, file) -> None:
        self.file, self.lines, self._part = file, [], ''

    def write(self, text: str) -> int:
        if self.file is None:  # the tool is done: a stray logger write
            return sys.__stdout__.write(text)
        self.file.write(text)
        lines = (self._part + text).split('\n')
        self._part = lines.pop()
        for line in lines:
            self.lines.append(line + '\n')
            if not line.lstrip().startswith(
                ("'", '"')) and any(k in line for k in SHOWN):
                sys.__stdout__.write('    ' + line.rstrip()[-150:] + '\n')
        return len(text)


def _child_env() -> dict:
    """The environment of a stage's child process: this mmwsss first on
    the path (a clone's or an installed one, whichever runs here)."""
    import mmwsss
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env.setdefault('OMP_NUM_THREADS', '1')
    root = osp.dirname(osp.dirname(osp.abspath(mmwsss.__file__)))
    env['PYTHONPATH'] = os.pathsep.join(
        [root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return env


def _run_subprocess(python: str, stage: str, kwargs: dict, sink: '_LogSink',
                    tmp_dir: str) -> dict:
    """Run a stage function in a child process; its results come back as
    a JSON file (:mod:`.child`)."""
    args_file = osp.join(tmp_dir, f'{stage}_kwargs.json')
    out_file = osp.join(tmp_dir, f'{stage}_results.json')
    with open(args_file, 'w') as f:
        json.dump(kwargs, f)
    cmd = [python, '-m', 'mmwsss.apis.child', stage, args_file, out_file]
    with subprocess.Popen(
            cmd,
            env=_child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent if os.name == 'posix' else None) \
            as proc:
        for line in proc.stdout:
            sink.write(line)
        proc.wait()
    if proc.returncode != 0 or not osp.isfile(out_file):
        raise RuntimeError(f'exit code {proc.returncode}')
    with open(out_file) as f:
        return json.load(f)


def _run_in_process(stage: str, kwargs: dict, sink: '_LogSink') -> dict:
    """Run a stage function in this process (tests: no interpreter start
    per stage), its output into the log."""
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            return call_stage(stage, kwargs)
        except Exception:
            sink.write(traceback.format_exc())
            raise


def _prompt_stats(runner: 'PipelineRunner', res: dict) -> dict:
    """Foreground share of the coarse seeds D_C and the last logged CAL
    loss of phase 2 (0 for either means phase 2 learned nothing): the
    stage's own figure, else mmengine's ``scalars.json``."""
    wd = osp.join(runner.work, 'prompts')
    if runner.weclip:  # one loss, no coarse seeds
        try:
            return dict(loss_last=last_logged_loss(wd, key='loss'))
        except (FileNotFoundError, KeyError):
            return dict(loss_last=None)
    cal = res.get('phase2_cal_loss_last')
    if cal is None:
        try:
            cal = last_logged_loss(wd)
        except (FileNotFoundError, KeyError):
            cal = None
    return dict(
        coarse_seed_fg_fraction=seed_fg_fraction(
            osp.join(wd, 'coarse_seeds')),
        phase2_cal_loss_last=cal)


def _seed_stats(runner: 'PipelineRunner', res: dict) -> dict:
    """Foreground share of the fine seeds."""
    return dict(seed_fg_fraction=seed_fg_fraction(runner.seeds))


def _tta_stats(runner: 'PipelineRunner', res: dict) -> dict:
    """Share of the test pixels whose label SAMS TTA changes."""
    plain = runner.results.get('test', {}).get('prediction_dir')
    if plain is None or res.get('prediction_dir') is None:
        return {}
    return dict(
        tta_changed_fraction=changed_fraction(plain, res['prediction_dir']))


#: Extra results per stage: functions ``(runner, stage_result) -> dict``
#: called after the stage ran, whose dicts are merged into its result
#: (e.g. a seed statistic read from ``runner.seeds``). Append to add one.
STAGE_METRICS: Dict[str, List[Callable[['PipelineRunner', dict], dict]]] = {
    s: []
    for s in STAGES
}
STAGE_METRICS['prompts'].append(_prompt_stats)
STAGE_METRICS['seeds'].append(_seed_stats)
STAGE_METRICS['test_sams'].append(_tta_stats)

#: The folders in the work dir each stage writes. ``--force STAGE`` moves
#: those of STAGE and every later stage to ``superseded/<time>/`` first,
#: so the redo starts afresh (no training resumed from the old
#: checkpoint, no finished seed kept) and nothing written is lost.
STAGE_OUTPUTS: Dict[str, Tuple[str, ...]] = dict(
    sam_masks=('sam_masks', 'sam_masks_log'),
    prompts=('prompts', ),
    seeds=('seeds', 'overlays', 'seeds_log'),
    stage2=('stage2', ),
    test=('predictions', ),
    test_sams=('predictions_sams', ))

#: The first stage a change of each recorded input invalidates (the later
#: stages follow): a rerun with other inputs must ``--force`` it.
INPUT_FIRST_STAGE = dict(
    data_dirs='sam_masks',
    files='sam_masks',
    sam_weights='sam_masks',
    mask_generator='sam_masks',
    classes='prompts',
    clip_weights='prompts',
    prompt_iters='prompts',
    method='prompts',
    weclip_iters='prompts',
    stage2_iters='stage2')


def weights_banner(weights: Weights,
                   mask_generator: Optional[str] = None) -> str:
    """Which weights the run uses, loudly when they are random.

    Args:
        weights (Weights): The run's weights.
        mask_generator (str, optional): The quasi-superpixel config (default
            :func:`~mmwsss.apis.stage_configs.default_mask_generator`).
    """
    gen = mask_generator or default_mask_generator(weights)
    clip = (f'{weights.clip} ({weights.clip_pretrained})'
            if weights.real_clip else None)
    sam = (f'{weights.sam_type} ({weights.sam_checkpoint})'
           if weights.real_sam else None)
    if 'felzenszwalb' in osp.basename(gen):
        masks = (f'weight-free Felzenszwalb quasi-superpixels ({gen}); '
                 'NOT the paper\'s SAM')
    else:
        masks = f'{sam or "tiny SAM with RANDOM weights"} ({gen})'
    lines = [
        f'CLIP:  {clip or "mmwsss-tiny-ViT-16 with RANDOM weights"}',
        f'masks: {masks}',
    ]
    if not (clip and sam):
        lines += [
            '', '!' * 72,
            '!! RANDOM WEIGHTS: every number below only shows that the '
            'stages run.', '!! They say nothing about FMA-WSSS. Set '
            'MMWSSS_CLIP/_PRETRAINED and', '!! MMWSSS_SAM_TYPE/_CHECKPOINT '
            'for real CLIP and SAM (see README).', '!' * 72
        ]
    return '\n'.join(lines)


class PipelineRunner:
    """Runs the stages on one data folder and records what they produced.

    Args:
        spec (DataSpec): The data.
        work_dir (str): Output folder.
        weights (Weights): Real weights, or none (tiny random models).
        configs (BaseConfigs): Base configs of the stages.
        force (str, optional): Redo this stage and every later one.
        prompt_iters (tuple[int, int], optional): Phase-1 / phase-2
            iterations; default the prompt config's.
        weclip_iters (int, optional): WeCLIP+ training iterations
            (``configs.method='weclip-plus'``); default the config's.
        stage2_iters (int, optional): Default the stage-2 config's.
        results_name (str): File of finished stages in ``work_dir``.
        title (str, optional): Heading of the final table.
        python (str): Interpreter of the stages' child processes.
        in_process (bool): Run the stage functions in this process instead
            of child processes (tests; saves an interpreter start per
            stage).
    """

    def __init__(self,
                 spec: DataSpec,
                 work_dir: str,
                 weights: Weights = Weights(),
                 configs: BaseConfigs = BaseConfigs(),
                 force: Optional[str] = None,
                 prompt_iters: Optional[Tuple[int, int]] = None,
                 stage2_iters: Optional[int] = None,
                 weclip_iters: Optional[int] = None,
                 results_name: str = 'pipeline_results.json',
                 title: Optional[str] = None,
                 python: str = sys.executable,
                 in_process: bool = False) -> None:
        self.in_process = in_process
        self.spec, self.weights, self.configs = spec, weights, configs
        self.weclip_iters = weclip_iters
        self.title = title or (f'WeCLIP+ pipeline on {spec.name}'
                               if self.weclip else
                               f'FMA-WSSS pipeline on {spec.name}')
        self.prompt_iters, self.stage2_iters = prompt_iters, stage2_iters
        self.python = python
        self.work = osp.abspath(work_dir)
        self.masks = osp.join(self.work, 'sam_masks')
        self.seeds = seed_outputs(self.work)['seed_dir']
        self.results_file = osp.join(self.work, results_name)
        self.force = force
        check_writable(self.work)
        self.results: Dict[str, dict] = {}
        if osp.isfile(self.results_file):
            with open(self.results_file) as f:
                self.results = json.load(f)
        if force:
            for s in STAGES[STAGES.index(force):]:
                self.results.pop(s, None)

    # ---------------------------------------------------------- plumbing
    @property
    def weclip(self) -> bool:
        """WeCLIP+ trains in the ``prompts`` stage (``--method``)."""
        return self.configs.method == 'weclip-plus'

    def save(self) -> None:
        tmp = self.results_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.results, f, indent=2)
        os.replace(tmp, self.results_file)

    def config_path(self, stage: str) -> str:
        return osp.join(self.work, 'configs', f'{stage}.py')

    def base(self, name: str) -> str:
        """A base config as a file: ``mmwsss::`` names from the installed
        package, paths as they are, relative ones from the current folder
        when they exist there, else from the package's configs' root
        (``configs/...``: the names of a clone)."""
        path = getattr(self.configs, name)
        if path is None and name == 'mask_generator':
            path = default_mask_generator(self.weights)
        return resolve_config(path)

    def call(self, stage: str, log: str, **kwargs) -> dict:
        """Run the stage function ``stage`` (:data:`.stages.STAGE_FUNCTIONS`)
        with progress lines shown and the full output in ``logs/<log>``.

        Returns:
            dict: The stage's results (data, never read from the log).

        Raises:
            SystemExit: The stage failed (naming it and its log).
        """
        log_path = osp.join(self.work, 'logs', log)
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        def short(value):  # paths in the work dir relative to it
            inside = isinstance(value, str) and value.startswith(self.work)
            return osp.relpath(value, self.work) if inside else value

        shown = ', '.join(f'{k}={short(v)}' for k, v in kwargs.items())
        print(f'  $ mmwsss.apis.{stage}({shown})', flush=True)
        with open(log_path, 'w') as f:
            sink = _LogSink(f)
            try:
                if self.in_process:
                    res = _run_in_process(stage, kwargs, sink)
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        res = _run_subprocess(self.python, stage, kwargs,
                                              sink, tmp)
                error = None
            except Exception as err:  # reported below, naming the log
                res, error = None, err
            finally:
                sink.file = None
        if error is not None:
            sys.stdout.write(''.join(sink.lines[-40:]))
            raise SystemExit(f'stage failed ({stage}: '
                             f'{type(error).__name__}: {error}); '
                             f'full log: {log_path}') from error
        return res

    def _resume(self, work_dir: str) -> bool:
        return osp.isfile(osp.join(work_dir, 'last_checkpoint'))

    # ------------------------------------------------------------ stages
    def sam_masks(self) -> dict:
        cfg = sam_config(
            self.base('mask_generator'), self.spec, self.masks, self.weights)
        path = dump_config(cfg, self.config_path('sam_masks'))
        res = self.call(
            'sam_masks',
            'sam_masks.log',
            config=path,
            work_dir=osp.join(self.work, 'sam_masks_log'))
        if res.get('exit_code'):
            raise SystemExit(
                'stage failed (sam_masks: ' +
                (res.get('refused') or f'{res.get("failed")} images failed: '
                 f'{res.get("failed_images")}') + '); full log: ' +
                osp.join(self.work, 'logs', 'sam_masks.log'))
        n = len([f for f in os.listdir(self.masks) if f.endswith('.npz')])
        return dict(
            images=n,
            config=path,
            results_file=osp.join(res['work_dir'], 'sam_masks_results.json'))

    def _train_in(self, name: str, function: str, cfg) -> Tuple[dict, str]:
        """Dump ``cfg`` as ``configs/<name>.py`` and run the training stage
        function ``function`` in ``<work_dir>/<name>``, resuming its last
        checkpoint; its log is ``logs/<name>.log``.

        Returns:
            tuple[dict, str]: The stage's results and the config path.
        """
        path = dump_config(cfg, self.config_path(name))
        wd = osp.join(self.work, name)
        res = self.call(
            function,
            f'{name}.log',
            config=path,
            work_dir=wd,
            resume=self._resume(wd))
        return res, path

    def prompts(self) -> dict:
        if self.weclip:  # WeCLIP+ in place of the prompts: one training run
            cfg = weclip_config(self.base('weclip'), self.spec, self.weights)
            if self.weclip_iters:
                set_weclip_iters(cfg, self.weclip_iters)
            res, path = self._train_in('prompts', 'train', cfg)
            return dict(
                checkpoint=res['checkpoint'],
                iterations=res['iterations'],
                config=path,
                results_file=osp.join(self.work, 'prompts',
                                      'train_results.json'))
        cfg = prompt_config(
            self.base('prompts'), self.spec, self.masks, self.weights)
        if self.prompt_iters:
            set_prompt_iters(cfg, *self.prompt_iters)
        res, path = self._train_in('prompts', 'prompt_learning', cfg)
        return dict(
            checkpoint=res['checkpoint'],
            coarse_seed_mIoU=res['coarse_seed_mIoU'],
            phase2_cal_loss_last=res['phase2_cal_loss_last'],
            config=path,
            results_file=osp.join(self.work, 'prompts',
                                  'prompts_results.json'))

    def seeds_stage(self) -> dict:
        if self.weclip:
            cfg = weclip_seed_config(self.results['prompts']['config'],
                                     self.spec, self.work)
        else:
            cfg = seed_config(self.base('seeds'), self.spec, self.masks,
                              self.weights, self.work)
        path = dump_config(cfg, self.config_path('seeds'))
        wd = osp.join(self.work, 'seeds_log')
        res = self.call(
            'seeds',
            'seeds.log',
            config=path,
            checkpoint=self.results['prompts']['checkpoint'],
            work_dir=wd)
        return dict(
            seed_mIoU=res['seed_mIoU'],
            seed_dir=self.seeds,
            overlay_dir=osp.join(self.work, 'overlays'),
            config=path,
            results_file=osp.join(wd, 'seeds_results.json'))

    def stage2(self) -> dict:
        classes = getattr(self.spec, 'classes', None)
        cfg = stage2_config(
            self.base('stage2'), self.spec, self.masks, self.seeds,
            None if classes is None else len(classes) + 1,
            osp.join(self.work, 'predictions'))
        if self.stage2_iters:
            set_stage2_iters(cfg, self.stage2_iters)
        res, path = self._train_in('stage2', 'train', cfg)
        out = dict(
            checkpoint=res['checkpoint'],
            iterations=res['iterations'],
            config=path,
            results_file=osp.join(self.work, 'stage2', 'train_results.json'))
        if cfg.test_evaluator.get('format_only'):  # no GT: predictions
            out['prediction_dir'] = cfg.test_evaluator.output_dir
        return out

    def _test(self, log: str, pred_dir: str, tta: bool) -> dict:
        """Test the stage-2 model; label PNGs of its predictions go to
        ``pred_dir`` (mmseg's ``--out``)."""
        wd = osp.join(self.work, 'stage2')
        res = self.call(
            'test',
            log,
            config=self.results['stage2']['config'],
            checkpoint=self.results['stage2']['checkpoint'],
            work_dir=wd,
            out=pred_dir,
            tta=tta)
        return dict(
            val_mIoU=res['metrics'].get('mIoU'),
            prediction_dir=pred_dir,
            results_file=osp.join(
                wd, 'test_tta_results.json' if tta else 'test_results.json'))

    def test(self) -> dict:
        return self._test('test.log', osp.join(self.work, 'predictions'),
                          False)

    def test_sams(self) -> dict:
        return self._test('test_sams.log',
                          osp.join(self.work, 'predictions_sams'), True)

    # --------------------------------------------------------------- run
    def run(self) -> Dict[str, dict]:
        """Run the unfinished stages in order; print the final table.

        Returns:
            dict[str, dict]: The results of every stage.
        """
        with WorkDirLock(self.work):
            return self._run()

    def inputs(self) -> Dict[str, Any]:
        """What this run is made from, as recorded in the work dir
        (:func:`~mmwsss.apis.run_guard.check_inputs`)."""
        return dict(
            data_dirs=self.spec.folders(),
            files=self.spec.files(),
            classes=list(getattr(self.spec, 'classes', None) or []),
            clip_weights=[self.weights.clip, self.weights.clip_pretrained],
            sam_weights=[self.weights.sam_type, self.weights.sam_checkpoint],
            mask_generator=self.configs.mask_generator,
            prompt_iters=list(self.prompt_iters or []),
            stage2_iters=self.stage2_iters,
            # recorded only for WeCLIP+, so FMA-WSSS work dirs made before
            # the option existed still resume
            **(dict(method=self.configs.method,
                    weclip_iters=self.weclip_iters) if self.weclip else {}))

    def _run(self) -> Dict[str, dict]:
        print(weights_banner(self.weights, self.configs.mask_generator),
              flush=True)
        print(self.spec.check(), flush=True)
        dump_json_atomic(
            dict(dropped_images={
                k: dict(count=len(v), first=v[:20])
                for k, v in self.spec.dropped_images.items()
            }), osp.join(self.work, 'data_check.json'))
        check_inputs(self.work, self.inputs(), INPUT_FIRST_STAGE, self.force,
                     STAGES)
        self._supersede_forced()
        funcs = dict(
            sam_masks=self.sam_masks,
            prompts=self.prompts,
            seeds=self.seeds_stage,
            stage2=self.stage2,
            test=self.test,
            test_sams=self.test_sams)
        for i, stage in enumerate(STAGES, 1):
            if stage in self.results:
                print(
                    f'\n[{i}/{len(STAGES)}] {stage}: done before '
                    f'({self.results[stage]["seconds"]:.1f} s), skipped',
                    flush=True)
                continue
            print(f'\n[{i}/{len(STAGES)}] {stage}', flush=True)
            t0 = time.time()
            res = funcs[stage]()
            for metric in STAGE_METRICS[stage]:
                res.update(metric(self, res))
            res['seconds'] = round(time.time() - t0, 1)
            self.results[stage] = write_results(res, None)
            self.save()
        print('\n' + self.table(), flush=True)
        print('\n' + weights_banner(self.weights, self.configs.mask_generator).split('\n\n')[0])
        print(f'Outputs in {self.work}: configs/ (the config of each stage),'
              ' seeds/, overlays/, stage2/, logs/')
        return self.results

    def _supersede_forced(self) -> None:
        """Move the outputs of the forced stages (:data:`STAGE_OUTPUTS`)
        to ``<work_dir>/superseded/<time>/`` and say so."""
        if not self.force:
            return
        stamp = time.strftime('%Y%m%d-%H%M%S')
        dest = osp.join(self.work, 'superseded', stamp)
        moved = []
        for stage in STAGES[STAGES.index(self.force):]:
            for name in STAGE_OUTPUTS[stage]:
                src = osp.join(self.work, name)
                if osp.exists(src):
                    os.makedirs(dest, exist_ok=True)
                    os.replace(src, osp.join(dest, name))
                    moved.append(name)
        if moved:
            print(f'--force {self.force}: moved {", ".join(moved)} to '
                  f'{osp.relpath(dest, self.work)}/ (redone from scratch)',
                  flush=True)

    def table(self) -> str:
        """The results as a markdown table with wall times."""
        rows = []
        for s, label, text in TABLE_ROWS:
            if s in self.results:
                if self.weclip and s in WECLIP_ROWS:
                    label, text = WECLIP_ROWS[s]
                rows.append((label, text(self.results[s]),
                             self.results[s]['seconds']))
        w = max(len(a) for a, _, _ in rows)
        v = max(len(b) for _, b, _ in rows)
        lines = [
            f'| {"stage":<{w}} | {"result":<{v}} | wall s |',
            f'|{"-" * (w + 2)}|{"-" * (v + 2)}|--------|'
        ]
        lines += [f'| {a:<{w}} | {b:<{v}} | {c:6.1f} |' for a, b, c in rows]
        total = sum(x[2] for x in rows)
        lines.append(f'| {"total":<{w}} | {"":<{v}} | {total:6.1f} |')
        return self.title + '\n' + '\n'.join(lines)
