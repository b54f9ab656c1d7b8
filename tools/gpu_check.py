# Copyright (c) mmwsss contributors. All rights reserved.
"""Check a GPU machine in one command: ``make gpu-check`` (this script).

``python tools/gpu_check.py [--device cuda|cpu] [--work-dir DIR]
[--only NAME ...] [--skip NAME ...] [--quick]``

1. ``pipeline``: every stage of the pipeline with the tiny random models on
   the bundled folder ``data/voc_mini`` (SAM masks, prompt learning, seeds,
   stage 2, test, test + SAMS), through the pipeline driver's own command
   line (``tools/run_pipeline.py data/voc_mini``) with a fresh work dir
   under ``--work-dir``; ``--quick`` (what CI runs) gives each training
   stage one iteration. The tools pick CUDA when it is visible (mmengine's
   runner, ``gen_sam_masks.py``); ``--device cpu`` hides it
   (``CUDA_VISIBLE_DEVICES=''``).
2. every benchmark of ``tools/benchmarks`` with ``--device``: on ``cuda``
   at the real architectures' sizes (ViT-B/16 seed CAMs at VOC image size,
   a prompt-training step of each phase at batch 16, mask generation on
   one image by each generator: SAM ViT-H with the paper's 32 x 32 points
   (and the stock AMG), SAM-HQ ViT-H, SAM 2.1 Hiera-L, SAM 3 with the 45
   VOC concept prompts (one pass per prompt and batched), the weight-free
   Felzenszwalb generator; SAMS vs dense CRF, DeepLabV3+ R101 (batch 16)
   and Mask2Former Swin-L (batch 4) training steps at 512 x 512, the survey
   baselines with real shapes); on ``cpu`` with the tiny models only (what
   CI runs: ``--quick`` also shrinks the mask benchmarks). All weights are
   random: the timings do not depend on them.
3. one table: stage, time per image / step / stage, peak memory (CUDA
   ``max_memory_allocated`` on a GPU, resident set size on the CPU; above
   the model for the benchmarks that say so) and the FMA-WSSS Table S1
   figure beside it where the paper has one (:data:`TABLE_S1`; RTX 3090,
   VOC trainaug, 10,582 images). Below the measured rows, the projected
   hours (:func:`projected_rows`), computed only from times measured in
   this run on this device: each mask generator's seconds per image x
   10,582 (VOC trainaug) and x 82,081 (COCO train), and the FMA-WSSS VOC
   pipeline as Table S1 counts it (prompt schedule + seed CAMs with CAA +
   SAMS) beside its 2.3 h, also with each generator's masks added.

Logs of every step go to ``<work-dir>/logs``; a step that fails prints the
last lines of its log (``--log-lines``), the others still run, and the
table shows the steps that passed and names the failed ones. The table also
goes to ``<work-dir>/gpu_check.md``. Exit status 1 if any step failed. On
one modern GPU the whole check is meant to take under 10 minutes; the total
is printed.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BENCH = osp.join(REPO, 'tools', 'benchmarks')
# the pipeline driver (it takes the data folder as its first argument)
PIPELINE_SCRIPT = 'run_pipeline.py'
TINY_CLIP = 'mmwsss-tiny-ViT-16'
#: The tiny WeCLIP+ config of the weclip step's CPU form.
WECLIP_TINY = osp.join('configs', 'weclip', 'weclip-plus_tiny-clip-tiny-'
                       'dinov2_1xb2-2iter_voc-mini-64x64.py')

# FMA-WSSS suppl. Table S1 ("Ours" row; CRF from the CLIP-ES row): hours on
# PASCAL VOC 2012 trainaug (10,582 images), one RTX 3090 (suppl. sec. G).
# SAM quasi-superpixels and stage 2 are not in the table.
S1_IMAGES = 10582
TABLE_S1 = dict(
    cam_train_h=1.9,  # prompt learning, both phases
    cam_inference_h=0.4,  # GradCAMs of the seeds
    caa_h=0.01,
    sams_h=0.01,
    crf_h=0.2)  # CLIP-ES's dense CRF


def s1_per_image(key: str) -> str:
    """A Table S1 figure per image, with the hours it comes from."""
    hours = TABLE_S1[key]
    return f'{hours * 3.6e6 / S1_IMAGES:.1f} ms ({hours} h / {S1_IMAGES:,})'


Row = Tuple[str, str, Optional[float], str, Optional[float], str]
# (stage, setting, time, unit, peak MiB, Table S1)

# --------------------------------------------------------------------------
# benchmarks: arguments per device, and the rows of their summary lines
# --------------------------------------------------------------------------
#: Mask-generator steps: step -> (family for sam_masks.py --generator,
#: name in the table). ``sam_masks`` is SAM itself (ours vs stock AMG).
MASK_STEPS = dict(
    sam_masks=('sam', 'SAM'),
    sam_hq_masks=('sam_hq', 'SAM-HQ'),
    sam2_masks=('sam2', 'SAM 2'),
    sam3_masks=('sam3', 'SAM 3 concepts'),
    weight_free_masks=('felzenszwalb', 'weight-free (Felzenszwalb)'))
#: Script of tools/benchmarks each step runs (default: the step's name).
SCRIPTS = {step: 'sam_masks' for step in MASK_STEPS}
_TINY_AMG = ['--points-per-side', '8', '--crop-n-layers', '0']
BENCH_ARGS = dict(
    cuda=dict(
        cam_speed=['--model-name', 'ViT-B-16', '--images', '5'],
        prompt_step=['--batch-size', '16', '--steps', '3'],
        sam_masks=['--model-type', 'vit_h', '--repeats', '1'],
        sam_hq_masks=[
            '--generator', 'sam_hq', '--model-type', 'vit_h', '--repeats', '1',
            '--no-stock'
        ],
        sam2_masks=['--generator', 'sam2', '--repeats', '1', '--no-stock'],
        sam3_masks=['--generator', 'sam3', '--repeats', '1'],
        weight_free_masks=['--generator', 'felzenszwalb', '--repeats', '3'],
        sams_vs_crf=['--images', '5', '--repeats', '3'],
        stage2_step=['--arch', 'real', '--steps', '3'],
        baselines=['--arch', 'real', '--images', '2'],
        weclip=['--steps', '3', '--images', '5', '--parts', 'train', 'test']),
    cpu=dict(
        cam_speed=['--model-name', TINY_CLIP, '--images', '2'],
        prompt_step=[
            '--model-name', TINY_CLIP, '--batch-size', '2', '--steps', '1',
            '--warmup', '0'
        ],
        sam_masks=['--model-type', 'tiny', '--repeats', '1'] + _TINY_AMG,
        sam_hq_masks=[
            '--generator', 'sam_hq', '--model-type', 'tiny', '--repeats', '1',
            '--no-stock'
        ] + _TINY_AMG,
        sam2_masks=[
            '--generator', 'sam2', '--model-type', 'tiny', '--repeats', '1',
            '--no-stock'
        ] + _TINY_AMG,
        sam3_masks=[
            '--generator', 'sam3', '--model-type', 'tiny', '--repeats', '1'
        ],
        weight_free_masks=['--generator', 'felzenszwalb', '--repeats', '1'],
        sams_vs_crf=['--images', '2', '--repeats', '1'],
        stage2_step=['--arch', 'tiny', '--steps', '1'],
        baselines=['--arch', 'tiny', '--images', '1'],
        weclip=[
            '--config', WECLIP_TINY, '--batch-size', '2', '--steps', '1',
            '--warmup', '0', '--images', '1', '--parts', 'train', 'test'
        ]))
#: ``--quick`` (CI): arguments appended to a step's (later ones win): the
#: mask benchmarks with 4x4 points, no warm-up and (SAM) no stock AMG.
_QUICK_MASKS = ['--points-per-side', '4', '--no-warmup']
QUICK_ARGS = dict(
    sam_masks=_QUICK_MASKS + ['--no-stock'],
    sam_hq_masks=_QUICK_MASKS,
    sam2_masks=_QUICK_MASKS,
    sam3_masks=_QUICK_MASKS,
    sams_vs_crf=['--images', '1'])
#: The pipeline step: tools/run_pipeline.py on the bundled folder; with
#: ``--quick`` one iteration per training stage (what CI runs).
PIPELINE_DATA = osp.join('data', 'voc_mini')
QUICK_PIPELINE_ARGS = ['--prompt-iters', '1', '1', '--stage2-iters', '1']
BENCHMARKS = tuple(BENCH_ARGS['cuda'])
STEPS = ('pipeline', ) + BENCHMARKS
SUMMARY = re.compile(r'^(\w+=\S+)(\s+\w+=\S+)*$')


def summary_lines(text: str) -> List[Dict[str, str]]:
    """The ``key=value ...`` lines of a benchmark's output, as dicts."""
    return [
        dict(tok.split('=', 1) for tok in line.split())
        for line in text.splitlines() if SUMMARY.match(line.strip())
    ]


def _f(d: Dict[str, str], key: str) -> Optional[float]:
    return float(d[key]) if key in d else None


def _merged(lines: List[Dict[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for d in lines:
        out.update(d)
    return out


def rows_cam_speed(lines, arch: str) -> List[Row]:
    d = _merged(lines)
    return [
        ('seed CAMs: GradCAM + CAA', arch, _f(d, 'cam_ms'), 'ms/image',
         _f(d, 'peak_mib'), s1_per_image('cam_inference_h')),
        ('  of which CAA', arch, _f(d, 'caa_ms'), 'ms/image', None,
         s1_per_image('caa_h')),
    ]


def rows_prompt_step(lines, arch: str) -> List[Row]:
    rows: List[Row] = []
    for d in lines:
        if 'phase' in d:
            rows.append((f'prompt training step, {d["phase"]} phase', arch,
                         _f(d, 'step_s'), 's/step', _f(d, 'peak_mib'), ''))
    d = _merged(lines)
    if 'schedule_h' in d:
        rows.append(('prompt training, VOC schedule (est.)',
                     f'{arch}; 1,800 + 17,000 steps', _f(d, 'schedule_h'), 'h',
                     None, f'{TABLE_S1["cam_train_h"]} h'))
    return rows


def mask_time(d: Dict[str, str]) -> Optional[float]:
    """A mask generator's seconds per image in a sam_masks.py summary: the
    batched pass for SAM 3 (its default), else ours."""
    return _f(d, 'batched_s') if 'batched_s' in d else _f(d, 'ours_s')


def rows_mask_step(step: str) -> Callable:
    """The rows function of a mask-generator step (see :data:`MASK_STEPS`)."""
    label = MASK_STEPS[step][1]

    def rows(lines, arch: str, unit: str = 's/image') -> List[Row]:
        d = _merged(lines)
        t = mask_time(d)
        if t is None:
            raise KeyError('ours_s')
        peak = next((_f(d, k)
                     for k in ('batched_peak_mib', 'ours_peak_mib',
                               'cuda_peak_mib', 'rss_peak_mib') if k in d),
                    None)
        name = ('SAM quasi-superpixels (ours)'
                if step == 'sam_masks' else f'masks: {label}')
        out = [(name, arch, t, unit, peak, 'not in S1 (once per dataset)')]
        if 'per_prompt_s' in d:
            out.append(('  one pass per prompt (before)', arch,
                        _f(d, 'per_prompt_s'), unit, None, ''))
        if 'stock_s' in d:
            out.append(('SAM AMG (stock)', arch, _f(d, 'stock_s'), unit,
                        _f(d, 'stock_peak_mib'), ''))
        return out

    return rows


rows_sam_masks = rows_mask_step('sam_masks')


def rows_sams_vs_crf(lines, arch: str) -> List[Row]:
    d = _merged(lines)
    return [
        ('SAMS seeding', arch, _f(d, 'sams_ms'), 'ms/image',
         _f(d, 'sams_peak_mib'), s1_per_image('sams_h')),
        ('dense CRF (CPU, CLIP-ES)', arch, _f(d, 'crf_ms'), 'ms/image',
         _f(d, 'crf_peak_mib'), s1_per_image('crf_h')),
    ]


def rows_stage2_step(lines, arch: str) -> List[Row]:
    return [(f'stage 2 training step: {d["model"]}', arch, _f(d, 'step_s'),
             's/step', _f(d, 'peak_mib'), 'not in S1') for d in lines
            if 'model' in d]


def rows_baselines(lines, arch: str) -> List[Row]:
    return [(f'baseline seeds: {d["pipeline"]}', arch, _f(d, 'per_image_ms'),
             'ms/image', _f(d, 'peak_mib'), '') for d in lines
            if 'pipeline' in d]


def rows_weclip(lines, arch: str) -> List[Row]:
    names = dict(train='WeCLIP+ training step', test='WeCLIP+ test')
    return [(names[d['part']], arch, _f(d, 'per_image_s'), 's/image',
             _f(d, 'peak_mib'), 'not in S1 (single stage)') for d in lines
            if d.get('part') in names]


ROWS: Dict[str, Callable] = dict(
    cam_speed=rows_cam_speed,
    prompt_step=rows_prompt_step,
    **{step: rows_mask_step(step)
       for step in MASK_STEPS},
    sams_vs_crf=rows_sams_vs_crf,
    stage2_step=rows_stage2_step,
    baselines=rows_baselines,
    weclip=rows_weclip)
ARCH = dict(
    cuda=dict(
        cam_speed='ViT-B/16, VOC size',
        prompt_step='ViT-B/16, batch 16, 224',
        sam_masks='ViT-H, 32x32 points',
        sam_hq_masks='HQ ViT-H, 32x32 points',
        sam2_masks='Hiera-L, 32x32 points',
        sam3_masks='SAM 3, 45 prompts',
        weight_free_masks='3 scales, 256 px',
        sams_vs_crf='5 VOC images',
        stage2_step='real, 512x512',
        baselines='real shapes',
        weclip='ViT-B/16 + ViT-S/14; train 4 x 320, test 512 msc + flip'),
    cpu=dict(
        cam_speed='tiny CLIP',
        prompt_step='tiny CLIP, batch 2',
        sam_masks='tiny SAM, 8x8 points',
        sam_hq_masks='tiny SAM-HQ, 8x8 points',
        sam2_masks='tiny SAM 2, 8x8 points',
        sam3_masks='tiny SAM 3, 45 prompts',
        weight_free_masks='3 scales, 256 px',
        sams_vs_crf='2 VOC images',
        stage2_step='tiny, 64x64',
        baselines='tiny',
        weclip='tiny CLIP + tiny DINOv2'))

#: Datasets of the projected mask hours: name -> images.
PROJECTED = (('VOC trainaug', S1_IMAGES), ('COCO train', 82081))
TABLE_S1_TOTAL_H = 2.3  # Table S1 "Ours": the whole pipeline, VOC


def projected_rows(summaries: Dict[str, Dict[str, str]], device: str,
                   arch: Dict[str, str]) -> List[Row]:
    """Hours projected from the measured per-image / per-step times.

    For every mask generator measured: its seconds per image x the images of
    VOC trainaug (10,582) and COCO train (82,081). With prompt training,
    seed CAMs and SAMS all measured: the FMA-WSSS VOC pipeline as Table S1
    counts it (prompt schedule + CAMs with CAA + SAMS over 10,582 images)
    beside its 2.3 h, and the same plus each generator's VOC masks.
    Nothing is projected from a step that was not measured.

    Args:
        summaries (dict): Step -> its merged ``key=value`` summary.
        device (str): The device the steps ran on (named in every row).
        arch (dict): Step -> its setting (:data:`ARCH` of the device).

    Returns:
        list[Row]: The rows (time unit ``h``).
    """
    rows: List[Row] = []
    masks_h: Dict[str, float] = {}
    unit = 'CPU-s' if device == 'CPU' else 's'  # sam_masks.py's clock
    for step, (_, label) in MASK_STEPS.items():
        t = mask_time(summaries.get(step, {}))
        if t is None:
            continue
        for dataset, n in PROJECTED:
            hours = t * n / 3600
            if dataset == 'VOC trainaug':
                masks_h[label] = hours
            rows.append((f'masks for {dataset} ({n:,} images): {label}',
                         f'{arch[step]}; {fmt_time(t)} {unit}/image on '
                         f'{device}', hours, 'h', None,
                         'not in S1 (once per dataset)'))
    sched = _f(summaries.get('prompt_step', {}), 'schedule_h')
    cam_ms = _f(summaries.get('cam_speed', {}), 'cam_ms')
    sams_ms = _f(summaries.get('sams_vs_crf', {}), 'sams_ms')
    if None not in (sched, cam_ms, sams_ms):
        total = sched + (cam_ms + sams_ms) * S1_IMAGES / 3.6e6
        setting = (f'prompts ({arch["prompt_step"]}) + CAMs ('
                   f'{arch["cam_speed"]}) + SAMS; on {device}')
        rows.append(('FMA-WSSS VOC pipeline, S1 stages (projected)', setting,
                     total, 'h', None, f'{TABLE_S1_TOTAL_H} h'))
        for label, hours in masks_h.items():
            rows.append((f'  + masks: {label}', setting, total + hours, 'h',
                         None, 'not in S1'))
    return rows


MEMORY_NOTE = (
    'Peak memory: above the model and inputs, except the baselines (the '
    'whole process: weights included); pipeline stages run in their own '
    'tools and are timed only. Table S1 per image = its hours / 10,582 '
    'images.')


def fmt_time(t: float) -> str:
    """A time with three significant digits, without exponents."""
    return f'{t:,.0f}' if t >= 100 else f'{t:.3g}'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument(
        '--device',
        choices=('cuda', 'cpu'),
        default='cuda',
        help='cuda: real sizes on the GPU; cpu: tiny models only (CI)')
    p.add_argument('--work-dir', default='work_dirs/gpu_check')
    p.add_argument(
        '--only', nargs='+', choices=STEPS, help='run these steps only')
    p.add_argument(
        '--skip', nargs='+', choices=STEPS, default=[], help='skip these')
    p.add_argument(
        '--quick',
        action='store_true',
        help='pipeline step with one iteration per training stage (CI)')
    p.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='steps run at once (CPU form only: on a GPU they would '
        'compete and spoil the timings)')
    p.add_argument(
        '--log-lines',
        type=int,
        default=25,
        help="last lines of a failed step's log to print")
    p.add_argument('--python', default=sys.executable)
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    if args.jobs > 1 and args.device != 'cpu':
        p.error('--jobs N > 1 is for --device cpu (timings on a GPU need '
                'the steps one at a time)')
    args.steps = [
        s for s in STEPS
        if (args.only is None or s in args.only) and s not in args.skip
    ]
    return args


class GPUCheck:
    """Runs the steps as subprocesses, collects the rows, prints the table.

    Args:
        args (argparse.Namespace): :func:`parse_args`'s result.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = osp.abspath(args.work_dir)
        self.logs = osp.join(self.work, 'logs')
        os.makedirs(self.logs, exist_ok=True)
        self.rows: List[Row] = []
        self.failed: List[str] = []
        self.summaries: Dict[str, Dict[str, str]] = {}
        self.device_name = 'CPU'
        self.env = dict(os.environ, PYTHONUNBUFFERED='1')
        self.env.setdefault('OMP_NUM_THREADS', '1')
        if args.device == 'cpu':
            self.env['CUDA_VISIBLE_DEVICES'] = ''

    def device_banner(self) -> str:
        """The device the check runs on (fails early without CUDA)."""
        import torch
        if self.args.device == 'cpu':
            return f'CPU (torch {torch.__version__}), tiny models only'
        if not torch.cuda.is_available():
            raise SystemExit(
                f'gpu-check: torch {torch.__version__} sees no CUDA device '
                '(run `make gpu-check DEVICE=cpu` for the CPU form)')
        name = torch.cuda.get_device_name(0)
        self.device_name = name
        total = torch.cuda.get_device_properties(0).total_memory / 2**30
        return (f'{name} ({total:.0f} GiB), torch {torch.__version__}, CUDA '
                f'{torch.version.cuda}')

    def command(self, step: str) -> List[str]:
        """The command line of a step (the pipeline gets a fresh work
        dir)."""
        if step == 'pipeline':
            wd = osp.join(self.work, 'pipeline')
            shutil.rmtree(wd, ignore_errors=True)
            return [
                self.args.python,
                osp.join(REPO, 'tools', PIPELINE_SCRIPT),
                osp.join(REPO, PIPELINE_DATA), '--work-dir', wd
            ] + (
                QUICK_PIPELINE_ARGS if self.args.quick else [])
        dev = self.args.device
        script = SCRIPTS.get(step, step)
        return ([
            self.args.python,
            osp.join(BENCH, script + '.py'), '--device', dev
        ] + BENCH_ARGS[dev][step] +
                (QUICK_ARGS.get(step, []) if self.args.quick else []))

    def header(self, name: str, cmd: List[str]) -> None:
        """Print the step's name and command line."""
        print(
            f'\n== {name}: ' + ' '.join(
                osp.relpath(c, REPO) if c.startswith(REPO) else c
                for c in cmd[1:]),
            flush=True)

    def execute(self, name: str, cmd: List[str]) -> Tuple[int, str, float]:
        """Run one command; its stderr and stdout go to
        ``logs/<name>.log``.

        Returns:
            tuple: Exit status, stdout and seconds.
        """
        log = osp.join(self.logs, name + '.log')
        t0 = time.time()
        with open(log, 'w') as f:
            proc = subprocess.run(
                cmd,
                cwd=REPO,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=f,
                text=True)
            f.write(proc.stdout)
        return proc.returncode, proc.stdout, time.time() - t0

    def report(self, name: str, result: Tuple[int, str,
                                              float]) -> Optional[str]:
        """Say how a step ended (a failed one: its log's last lines).

        Returns:
            str | None: The stdout, or None when the command failed.
        """
        code, out, took = result
        log = osp.join(self.logs, name + '.log')
        if code != 0:
            print(
                f'   FAILED (exit {code}) after {took:.0f} s; see {log}',
                flush=True)
            self.print_log_tail(log)
            self.failed.append(name)
            return None
        print(f'   done in {took:.0f} s', flush=True)
        return out

    def print_log_tail(self, log: str) -> None:
        """Print the last ``--log-lines`` lines of a failed step's log."""
        try:
            with open(log, errors='replace') as f:
                lines = f.read().splitlines()
        except OSError as e:
            print(f'   (cannot read {log}: {e})')
            return
        tail = lines[-self.args.log_lines:]
        print(f'   --- last {len(tail)} lines of {log} ---')
        for line in tail:
            print('   | ' + line)
        print('   ---', flush=True)

    def collect(self, name: str, out: str, took: float) -> None:
        """The rows of a step that passed."""
        if name == 'pipeline':
            self.collect_pipeline(took)
        else:
            self.collect_benchmark(name, out)

    def collect_pipeline(self, took: float) -> None:
        """Rows of the pipeline step: the seconds of each stage."""
        wd = osp.join(self.work, 'pipeline')
        stages = {}
        for path in glob.glob(osp.join(wd, '*results.json')):
            with open(path) as f:
                stages.update(json.load(f))
        for stage, res in stages.items():
            if isinstance(res, dict) and 'seconds' in res:
                self.rows.append(
                    (f'pipeline: {stage}', 'tiny, voc_mini',
                     float(res['seconds']), 's (stage)', None, ''))
        if not stages:
            self.rows.append(('pipeline: all stages', 'tiny, voc_mini', took,
                              's', None, ''))

    def collect_benchmark(self, name: str, out: str) -> None:
        """A benchmark's summary lines -> rows."""
        dev = self.args.device
        lines = summary_lines(out)
        kwargs = {}
        if name in MASK_STEPS and dev == 'cpu':
            kwargs['unit'] = 'CPU-s/image'  # sam_masks.py: process time
        try:
            rows = ROWS[name](lines, ARCH[dev][name], **kwargs)
        except (KeyError, ValueError) as e:
            print(f'   no summary in the output of {name}: {e!r}')
            self.print_log_tail(osp.join(self.logs, name + '.log'))
            self.failed.append(name)
            return
        self.summaries[name] = _merged(lines)
        self.rows.extend(rows)

    def run_steps(self) -> None:
        """Run the steps (``--jobs`` at a time), then collect their rows in
        the steps' order; a step that raises fails alone."""
        steps = self.args.steps
        cmds = {step: self.command(step) for step in steps}
        if self.args.jobs > 1:
            from concurrent.futures import ThreadPoolExecutor
            print(f'{self.args.jobs} steps at a time', flush=True)
            pool = ThreadPoolExecutor(self.args.jobs)
            futures = {s: pool.submit(self.execute, s, cmds[s]) for s in steps}
        for step in steps:
            try:
                self.header(step, cmds[step])
                result = (
                    futures[step].result()
                    if self.args.jobs > 1 else self.execute(step, cmds[step]))
                out = self.report(step, result)
                if out is not None:
                    self.collect(step, out, result[2])
            except Exception as e:  # one broken step must not hide the rest
                print(f'   FAILED: {e!r}', flush=True)
                self.failed.append(step)
        if self.args.jobs > 1:
            pool.shutdown()

    def table(self) -> str:
        """The results as a Markdown table."""
        mem = 'peak GPU MiB' if self.args.device == 'cuda' else 'peak RSS MiB'
        head = ('stage', 'setting', 'time', 'unit', mem,
                'FMA-WSSS Table S1 (RTX 3090)')
        body = [(a, b, '-' if t is None else fmt_time(t), u,
                 '-' if m is None else f'{m:.0f}', s)
                for a, b, t, u, m, s in self.rows]
        widths = [
            max(len(r[i]) for r in [head] + body) for i in range(len(head))
        ]

        def line(cells):
            return '| ' + ' | '.join(
                c.ljust(w) for c, w in zip(cells, widths)) + ' |'

        lines = [
            line(head), '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
        ]
        lines += [line(r) for r in body]
        lines += [
            f'| {name} | FAILED, see logs/{name}.log |' for name in self.failed
        ]
        return '\n'.join(lines) + '\n\n' + MEMORY_NOTE

    def main(self) -> int:
        """Run the steps; print and save the table. Returns the exit
        status (1 if a step failed)."""
        banner = self.device_banner()
        print(
            f'gpu-check on {banner}; steps: {", ".join(self.args.steps)}',
            flush=True)
        t0 = time.time()
        self.run_steps()
        self.rows.extend(
            projected_rows(self.summaries, self.device_name,
                           ARCH[self.args.device]))
        total = time.time() - t0
        text = (f'gpu-check on {banner}: {total / 60:.1f} min in all '
                '(random weights)\n\n' + self.table())
        with open(osp.join(self.work, 'gpu_check.md'), 'w') as f:
            f.write(text + '\n')
        print('\n' + text, flush=True)
        if self.args.device == 'cuda' and total > 600:
            print(f'WARNING: the check took {total / 60:.1f} min (target: '
                  'under 10)')
        return 1 if self.failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    return GPUCheck(parse_args(argv)).main()


if __name__ == '__main__':
    sys.exit(main())
