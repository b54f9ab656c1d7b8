# Copyright (c) mmwsss contributors. All rights reserved.
"""Check a GPU machine in one command: ``make gpu-check`` (this script).

``python tools/gpu_check.py [--device cuda|cpu] [--work-dir DIR]
[--only NAME ...] [--skip NAME ...]``

1. ``pipeline``: every stage of the pipeline with the tiny random models on
   ``data/voc_mini`` (SAM masks, prompt learning, seeds, stage 2, test,
   test + SAMS), through the pipeline driver's own command line
   (``tools/demo.py`` on ``data/voc_mini``, i.e. ``mmwsss-pipeline``)
   with a fresh work dir under ``--work-dir``. The tools pick CUDA when it
   is visible (mmengine's runner, ``gen_sam_masks.py``); ``--device cpu``
   hides it (``CUDA_VISIBLE_DEVICES=''``).
2. every benchmark of ``tools/benchmarks`` with ``--device``: on ``cuda``
   at the real architectures' sizes (ViT-B/16 seed CAMs at VOC image size,
   a prompt-training step of each phase at batch 16, SAM ViT-H mask
   generation on one image with the paper's 32 x 32 points, SAMS vs dense
   CRF, DeepLabV3+ R101 (batch 16) and Mask2Former Swin-L (batch 4)
   training steps at 512 x 512, the survey baselines with real shapes);
   on ``cpu`` with the tiny models only (what CI runs). All weights are
   random: the timings do not depend on them.
3. one table: stage, time per image / step / stage, peak memory (CUDA
   ``max_memory_allocated`` on a GPU, resident set size on the CPU; above
   the model for the benchmarks that say so) and the FMA-WSSS Table S1
   figure beside it where the paper has one (:data:`TABLE_S1`; RTX 3090,
   VOC trainaug, 10,582 images).

Logs of every step go to ``<work-dir>/logs``; the table also to
``<work-dir>/gpu_check.md``. Exit status 1 if any step failed (the table
still shows the others). On one modern GPU the whole check is meant to take
under 10 minutes; the total is printed.
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
# the pipeline driver on the bundled images: demo.py (run_pipeline.py needs a
# data folder argument, which the check does not pass)
PIPELINE_SCRIPTS = ('demo.py', 'run_pipeline.py')
TINY_CLIP = 'mmwsss-tiny-ViT-16'

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
BENCH_ARGS = dict(
    cuda=dict(
        cam_speed=['--model-name', 'ViT-B-16', '--images', '5'],
        prompt_step=['--batch-size', '16', '--steps', '3'],
        sam_masks=['--model-type', 'vit_h', '--repeats', '1'],
        sams_vs_crf=['--images', '5', '--repeats', '3'],
        stage2_step=['--arch', 'real', '--steps', '3'],
        baselines=['--arch', 'real', '--images', '2']),
    cpu=dict(
        cam_speed=['--model-name', TINY_CLIP, '--images', '2'],
        prompt_step=[
            '--model-name', TINY_CLIP, '--batch-size', '2', '--steps', '1',
            '--warmup', '0'
        ],
        sam_masks=[
            '--model-type', 'tiny', '--points-per-side', '8',
            '--crop-n-layers', '0', '--repeats', '1'
        ],
        sams_vs_crf=['--images', '2', '--repeats', '1'],
        stage2_step=['--arch', 'tiny', '--steps', '1'],
        baselines=['--arch', 'tiny', '--images', '1']))
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


def rows_sam_masks(lines, arch: str) -> List[Row]:
    d = _merged(lines)
    return [
        ('SAM quasi-superpixels (ours)', arch, _f(d, 'ours_s'), 's/image',
         _f(d, 'ours_peak_mib'), 'not in S1 (once per dataset)'),
        ('SAM AMG (stock)', arch, _f(d, 'stock_s'), 's/image',
         _f(d, 'stock_peak_mib'), ''),
    ]


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


ROWS: Dict[str, Callable] = dict(
    cam_speed=rows_cam_speed,
    prompt_step=rows_prompt_step,
    sam_masks=rows_sam_masks,
    sams_vs_crf=rows_sams_vs_crf,
    stage2_step=rows_stage2_step,
    baselines=rows_baselines)
ARCH = dict(
    cuda=dict(
        cam_speed='ViT-B/16, VOC size',
        prompt_step='ViT-B/16, batch 16, 224',
        sam_masks='ViT-H, 32x32 points',
        sams_vs_crf='5 VOC images',
        stage2_step='real, 512x512',
        baselines='real shapes'),
    cpu=dict(
        cam_speed='tiny CLIP',
        prompt_step='tiny CLIP, batch 2',
        sam_masks='tiny SAM, 8x8 points',
        sams_vs_crf='2 VOC images',
        stage2_step='tiny, 64x64',
        baselines='tiny'))

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
    p.add_argument('--python', default=sys.executable)
    args = p.parse_args(argv)
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
        total = torch.cuda.get_device_properties(0).total_memory / 2**30
        return (f'{name} ({total:.0f} GiB), torch {torch.__version__}, CUDA '
                f'{torch.version.cuda}')

    def run(self, name: str, cmd: List[str]) -> Optional[str]:
        """Run one command; its output goes to ``logs/<name>.log``.

        Returns:
            str | None: The stdout, or None when the command failed.
        """
        log = osp.join(self.logs, name + '.log')
        print(
            f'\n== {name}: ' + ' '.join(
                osp.relpath(c, REPO) if c.startswith(REPO) else c
                for c in cmd[1:]),
            flush=True)
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
        took = time.time() - t0
        if proc.returncode != 0:
            print(
                f'   FAILED (exit {proc.returncode}) after {took:.0f} s; '
                f'see {log}',
                flush=True)
            self.failed.append(name)
            return None
        print(f'   done in {took:.0f} s', flush=True)
        return proc.stdout

    def pipeline(self) -> None:
        """Every pipeline stage with the tiny models (fresh work dir)."""
        script = next((osp.join(REPO, 'tools', s) for s in PIPELINE_SCRIPTS
                       if osp.isfile(osp.join(REPO, 'tools', s))), None)
        if script is None:
            print(f'no pipeline driver (tools/{PIPELINE_SCRIPTS})')
            self.failed.append('pipeline')
            return
        wd = osp.join(self.work, 'pipeline')
        shutil.rmtree(wd, ignore_errors=True)
        t0 = time.time()
        out = self.run('pipeline',
                       [self.args.python, script, '--work-dir', wd])
        if out is None:
            return
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
            self.rows.append(('pipeline: all stages', 'tiny, voc_mini',
                              time.time() - t0, 's', None, ''))

    def benchmark(self, name: str) -> None:
        """One benchmark with ``--device``; its summary lines -> rows."""
        dev = self.args.device
        out = self.run(
            name,
            [self.args.python,
             osp.join(BENCH, name + '.py'), '--device', dev] +
            BENCH_ARGS[dev][name])
        if out is None:
            return
        try:
            rows = ROWS[name](summary_lines(out), ARCH[dev][name])
        except (KeyError, ValueError) as e:
            print(f'   no summary in the output of {name}: {e!r}')
            self.failed.append(name)
            return
        self.rows.extend(rows)

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
        for step in self.args.steps:
            if step == 'pipeline':
                self.pipeline()
            else:
                self.benchmark(step)
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
