"""The whole FMA-WSSS pipeline on a data folder, resumable, stage by stage.

Stages (:data:`STAGES`), each a subprocess of the repository's own tools on
a config written into ``<work_dir>/configs/<stage>.py`` first:

1. ``sam_masks``  quasi-superpixels of every image (tools/gen_sam_masks.py)
2. ``prompts``    prompt learning, phase 1 -> coarse seeds -> phase 2
3. ``seeds``      fine seeds of the training images (+ seed mIoU, overlays)
4. ``stage2``     a segmentor (DeepLabV3+, shrunk) trained on the seeds
5. ``test``       its mIoU on the test images (or predictions without GT)
6. ``test_sams``  the same with multi-scale + flip + SAMS refinement

``<work_dir>/<results_name>`` records finished stages (a rerun resumes;
``force`` redoes a stage and every later one); the tools themselves skip
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
import re
import runpy
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

from mmwsss.evaluation.pipeline_stats import (changed_fraction,
                                              last_logged_loss,
                                              seed_fg_fraction)
from .data_spec import DataSpec
from .stage_configs import (BaseConfigs, Weights, default_mask_generator,
                            dump_config, prompt_config,
                            sam_config, seed_config, set_prompt_iters,
                            set_stage2_iters, stage2_config)

__all__ = ['STAGES', 'TABLE_ROWS', 'PipelineRunner', 'weights_banner', 'REPO']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGES = ('sam_masks', 'prompts', 'seeds', 'stage2', 'test', 'test_sams')
MIOU = re.compile(r'mIoU: ([0-9.]+|nan)')
SHOWN = ('Iter(', 'Phase', 'seeds in', 'Seed scores over', 'SAM masks in',
         'RANDOM', 'PseudoLabelDataset:', 'SeedMetric:')


def _fmt(x: Optional[float]) -> str:
    return '-' if x is None else f'{x:.2f}'


def _pct(x: Optional[float]) -> str:
    return '-' if x is None else f'{100 * x:.1f}%'


def _fmt_loss(x: Optional[float]) -> str:
    return '-' if x is None else f'{x:.3g}'


#: (stage, row label, result text from the stage's result dict).
TABLE_ROWS: List[Tuple[str, str, Callable[[dict], str]]] = [
    ('sam_masks', 'SAM quasi-superpixels', lambda r: f'{r["images"]} images'),
    ('prompts', 'prompt learning (2 phases)',
     lambda r: 'coarse seed mIoU ' + _fmt(r.get('coarse_seed_mIoU')) +
     ', fg ' + _pct(r.get('coarse_seed_fg_fraction')) + ', last CAL loss ' +
     _fmt_loss(r.get('phase2_cal_loss_last'))),
    ('seeds', 'fine seeds (train)',
     lambda r: f'seed mIoU {_fmt(r.get("seed_mIoU"))}, fg '
     f'{_pct(r.get("seed_fg_fraction"))}'),
    ('stage2', 'stage 2: DeepLabV3+ (tiny)',
     lambda r: f'{r.get("iterations", "?")} iterations'),
    ('test', 'test (val)', lambda r: f'mIoU {_fmt(r.get("val_mIoU"))}'),
    ('test_sams', 'test + SAMS TTA (val)',
     lambda r: f'mIoU {_fmt(r.get("val_mIoU"))}, SAMS changed '
     f'{_pct(r.get("tta_changed_fraction"))} of the pixels'),
]


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


def _run_subprocess(cmd: List[str], sink: _LogSink) -> int:
    """Run a tool as a subprocess (the default: isolated, like a user)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env.setdefault('OMP_NUM_THREADS', '1')
    with subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True) as proc:
        for line in proc.stdout:
            sink.write(line)
        proc.wait()
    return proc.returncode


def _run_in_process(cmd: List[str], sink: _LogSink) -> int:
    """Run a tool in this process (tests: no interpreter start per stage).
    """
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = cmd[1:]
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            runpy.run_path(cmd[1], run_name='__main__')
        return 0
    except SystemExit as e:
        return 0 if e.code in (None, 0) else (
            e.code if isinstance(e.code, int) else 1)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)


CAL_LOG = re.compile(r'Iter\(train\).*loss_cal_fg: ([0-9.e+-]+)\s+'
                     r'loss_cal_bg: ([0-9.e+-]+)')


def _last_cal_loss(work_dir: str, log_file: str) -> Optional[float]:
    """Last logged CAL loss (fg + bg) of a prompt run: from mmengine's
    ``scalars.json`` (full precision), else from the log lines (4 decimals;
    a tool run in-process may keep an earlier run's visualizer)."""
    try:
        return last_logged_loss(work_dir)
    except FileNotFoundError:
        pass
    with open(log_file) as f:
        found = CAL_LOG.findall(f.read())
    return sum(map(float, found[-1])) if found else None


def _prompt_stats(runner: 'PipelineRunner', res: dict) -> dict:
    """Foreground share of the coarse seeds D_C and the last logged CAL
    loss of phase 2 (0 for either means phase 2 learned nothing)."""
    wd = osp.join(runner.work, 'prompts')
    return dict(
        coarse_seed_fg_fraction=seed_fg_fraction(
            osp.join(wd, 'coarse_seeds')),
        phase2_cal_loss_last=_last_cal_loss(
            wd, osp.join(runner.work, 'logs', 'prompts.log')))


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


def last_miou(text: str) -> Optional[float]:
    """The last ``mIoU: x`` a tool printed; None if none (no GT) or nan."""
    found = MIOU.findall(text)
    if not found or found[-1] == 'nan':
        return None
    return float(found[-1])


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
        stage2_iters (int, optional): Default the stage-2 config's.
        results_name (str): File of finished stages in ``work_dir``.
        title (str, optional): Heading of the final table.
        python (str): Interpreter of the tool subprocesses.
        in_process (bool): Run the tools in this process instead of
            subprocesses (tests; saves an interpreter start per stage).
    """

    def __init__(self,
                 spec: DataSpec,
                 work_dir: str,
                 weights: Weights = Weights(),
                 configs: BaseConfigs = BaseConfigs(),
                 force: Optional[str] = None,
                 prompt_iters: Optional[Tuple[int, int]] = None,
                 stage2_iters: Optional[int] = None,
                 results_name: str = 'pipeline_results.json',
                 title: Optional[str] = None,
                 python: str = sys.executable,
                 in_process: bool = False) -> None:
        self.in_process = in_process
        self.title = title or f'FMA-WSSS pipeline on {spec.name}'
        self.spec, self.weights, self.configs = spec, weights, configs
        self.prompt_iters, self.stage2_iters = prompt_iters, stage2_iters
        self.python = python
        self.work = osp.abspath(work_dir)
        self.masks = osp.join(self.work, 'sam_masks')
        self.seeds = osp.join(self.work, 'seeds')
        self.results_file = osp.join(self.work, results_name)
        os.makedirs(self.work, exist_ok=True)
        self.results: Dict[str, dict] = {}
        if osp.isfile(self.results_file):
            with open(self.results_file) as f:
                self.results = json.load(f)
        if force:
            for s in STAGES[STAGES.index(force):]:
                self.results.pop(s, None)

    # ---------------------------------------------------------- plumbing
    def save(self) -> None:
        tmp = self.results_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.results, f, indent=2)
        os.replace(tmp, self.results_file)

    def config_path(self, stage: str) -> str:
        return osp.join(self.work, 'configs', f'{stage}.py')

    def base(self, name: str) -> str:
        """A base config: absolute, else relative to the current folder
        when it exists there, else to the repository."""
        path = getattr(self.configs, name)
        if path is None and name == 'mask_generator':
            path = default_mask_generator(self.weights)
        if osp.isabs(path) or not osp.isfile(path):
            return osp.join(REPO, path)
        return osp.abspath(path)

    def tool(self, name: str, log: str, *argv: str) -> str:
        """Run tools/<name> with progress lines shown and the full output
        in ``logs/<log>``; return the output."""
        cmd = [self.python, osp.join(REPO, 'tools', name), *argv]
        log_path = osp.join(self.work, 'logs', log)
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        print(
            '  $ ' + ' '.join(
                osp.relpath(c, REPO) if c.startswith(REPO) else c
                for c in cmd[1:]),
            flush=True)
        with open(log_path, 'w') as f:
            sink = _LogSink(f)
            run = _run_in_process if self.in_process else _run_subprocess
            code = run(cmd, sink)
            sink.file = None
        if code != 0:
            sys.stdout.write(''.join(sink.lines[-40:]))
            raise SystemExit(f'stage failed ({name}, exit code {code}); '
                             f'full log: {log_path}')
        return ''.join(sink.lines)

    def _resume(self, work_dir: str) -> List[str]:
        return ['--resume'] if osp.isfile(
            osp.join(work_dir, 'last_checkpoint')) else []

    # ------------------------------------------------------------ stages
    def sam_masks(self) -> dict:
        cfg = sam_config(
            self.base('mask_generator'), self.spec, self.masks, self.weights)
        path = dump_config(cfg, self.config_path('sam_masks'))
        self.tool('gen_sam_masks.py', 'sam_masks.log', path, '--work-dir',
                  osp.join(self.work, 'sam_masks_log'))
        n = len([f for f in os.listdir(self.masks) if f.endswith('.npz')])
        return dict(images=n, config=path)

    def prompts(self) -> dict:
        cfg = prompt_config(
            self.base('prompts'), self.spec, self.masks, self.weights)
        if self.prompt_iters:
            set_prompt_iters(cfg, *self.prompt_iters)
        path = dump_config(cfg, self.config_path('prompts'))
        wd = osp.join(self.work, 'prompts')
        text = self.tool('train.py', 'prompts.log', path, '--work-dir', wd,
                         *self._resume(wd))
        coarse = re.findall(r'cls seeds in .*: mIoU ([0-9.]+)', text)
        iters = cfg.train_cfg.cls_iters + cfg.train_cfg.seg_iters
        return dict(
            checkpoint=osp.join(wd, f'iter_{iters}.pth'),
            coarse_seed_mIoU=float(coarse[-1]) if coarse else None,
            config=path)

    def seeds_stage(self) -> dict:
        cfg = seed_config(
            self.base('seeds'), self.spec, self.masks, self.weights, self.work)
        path = dump_config(cfg, self.config_path('seeds'))
        text = self.tool('test.py', 'seeds.log', path,
                         self.results['prompts']['checkpoint'], '--work-dir',
                         osp.join(self.work, 'seeds_log'))
        return dict(
            seed_mIoU=last_miou(text),
            seed_dir=self.seeds,
            overlay_dir=osp.join(self.work, 'overlays'),
            config=path)

    def stage2(self) -> dict:
        classes = getattr(self.spec, 'classes', None)
        cfg = stage2_config(
            self.base('stage2'), self.spec, self.masks, self.seeds,
            None if classes is None else len(classes) + 1,
            osp.join(self.work, 'predictions'))
        if self.stage2_iters:
            set_stage2_iters(cfg, self.stage2_iters)
        path = dump_config(cfg, self.config_path('stage2'))
        wd = osp.join(self.work, 'stage2')
        self.tool('train.py', 'stage2.log', path, '--work-dir', wd,
                  *self._resume(wd))
        iters = cfg.train_cfg.max_iters
        out = dict(
            checkpoint=osp.join(wd, f'iter_{iters}.pth'),
            iterations=iters,
            config=path)
        if cfg.test_evaluator.get('format_only'):  # no GT: predictions
            out['prediction_dir'] = cfg.test_evaluator.output_dir
        return out

    def _test(self, log: str, pred_dir: str, *extra: str) -> dict:
        """Test the stage-2 model; label PNGs of its predictions go to
        ``pred_dir`` (mmseg's ``--out``)."""
        text = self.tool('test.py', log, self.results['stage2']['config'],
                         self.results['stage2']['checkpoint'], '--work-dir',
                         osp.join(self.work, 'stage2'), '--out', pred_dir,
                         *extra)
        return dict(val_mIoU=last_miou(text), prediction_dir=pred_dir)

    def test(self) -> dict:
        return self._test('test.log', osp.join(self.work, 'predictions'))

    def test_sams(self) -> dict:
        return self._test('test_sams.log',
                          osp.join(self.work, 'predictions_sams'), '--tta')

    # --------------------------------------------------------------- run
    def run(self) -> Dict[str, dict]:
        """Run the unfinished stages in order; print the final table.

        Returns:
            dict[str, dict]: The results of every stage.
        """
        print(weights_banner(self.weights, self.configs.mask_generator), flush=True)
        print(self.spec.check(), flush=True)
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
            self.results[stage] = res
            self.save()
        print('\n' + self.table(), flush=True)
        print('\n' + weights_banner(self.weights, self.configs.mask_generator).split('\n\n')[0])
        print(f'Outputs in {self.work}: configs/ (the config of each stage),'
              ' seeds/, overlays/, stage2/, logs/')
        return self.results

    def table(self) -> str:
        """The results as a markdown table with wall times."""
        rows = [(label, text(self.results[s]), self.results[s]['seconds'])
                for s, label, text in TABLE_ROWS if s in self.results]
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
