# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: one FMA-WSSS prompt-learning training step of each phase.

``python tools/benchmarks/prompt_step.py [--config CFG] [--model-name NAME]
[--batch-size B] [--steps S] [--warmup W] [--device cpu|cuda|auto] [--amp]
[--threads T]``

The model, optimizer and augmentation are ``--config``'s (default
``configs/fma/voc_prompts.py``: CLIP ViT-B/16, cls prompts with a unified
context, class-specific seg prompts, SGD lr 1e-3 momentum 0.9 weight decay
5e-4, 224 crops of images rescaled to a long side of 288-480, flip, colour
jitter), with ``model.clip`` = ``--model-name`` with RANDOM weights (they do
not change the amount of work) and the batch size ``--batch-size`` (the
paper's 16). One step = ``model.train_step`` as mmengine's train loop calls
it: data preprocessor, forward, losses, backward, SGD step of the prompts
(``OptimWrapper``; for ``--amp`` ``DeviceAmpOptimWrapper``, as
``tools/train.py --amp`` sets it: float16 with dynamic loss scale on CUDA,
bfloat16 on the CPU):

- phase ``cls``: MCL loss on the logits of the cls prompts (the image side
  without graph, the backward through the text encoder only);
- phase ``seg``: CAL loss on the Softmax-GradCAMs of the seg prompts, made
  differentiable w.r.t. the prompts (second-order GradCAM through the last
  ViT block and the text encoder), against coarse seed labels D_C.

Inputs are real images: crops of the bundled ``data/voc_mini`` training
images through the config's train pipelines (``train_pipeline`` for cls,
``seg_train_pipeline`` for seg), sampled with replacement (numpy seed 0),
the VOC ground truth standing in for the coarse seeds D_C of phase 2 (it
has the same form: per-pixel class indices of the image's labelled
classes, 255 ignored). Batches are built before the timed steps.

Each phase runs in its own fresh process (``--worker``), so the peak memory
of one is not hidden by what the other left allocated. Times: the mean of
``--steps`` steps after ``--warmup`` untimed ones; on CUDA wall time
(synchronised), on CPU the process's CPU time (all threads; robust to other
jobs on a shared machine; ``--threads`` default 1 so that it equals wall
time on an idle machine), wall time printed too. Peak memory: CUDA
``max_memory_allocated`` above the level after the model and the batches
were built; on CPU the peak resident set size above that level, sampled
every 10 ms (warm-up steps included).

Then come ``phase=cls step_s=<x> peak_mib=<y>``,
``phase=seg step_s=<x> peak_mib=<y>``, ``schedule_h=<h>`` and, last,
``step_s=<x> peak_mib=<int>``: the mean step of the schedule (weighted by
the iterations of each phase, 1,800 cls + 17,000 seg) and the larger peak.
``schedule_h`` is the
estimated time of the VOC schedule, 1,800 cls + 17,000 seg iterations, at
these step times (data loading, coarse seed generation and logging not
included).

Measured 2026-11-23 on this project's CPU machine (2 cores, shared with
other jobs; no GPU), ViT-B/16 random weights, batch 16 (the paper's),
1 thread: ``python tools/benchmarks/prompt_step.py --steps 2``::

    phase=cls step_s=9.551 peak_mib=597
    phase=seg step_s=14.492 peak_mib=1756
    schedule_h=73.21
    step_s=14.019 peak_mib=1756

(before ``FrozenCLIP.encode_text`` stopped at the last EOT token, i.e. with
the text transformer on all 77 positions: cls 15.62 s, seg 22.29 s,
113 h). Per step on this CPU about 7.6 s are the image side of 16 crops.
CPU training is not practical: on a GPU run it with
``--device cuda [--amp]``.
"""
import argparse
import os.path as osp
import random
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import REPO, time_train_steps  # noqa: E402
from bench_utils import add_train_step_arguments, emit_result  # noqa: E402
from bench_utils import is_cuda, resolve_device, spawn_worker  # noqa: E402

DEFAULT_CONFIG = osp.join(REPO, 'configs', 'fma', 'voc_prompts.py')
VOC_MINI = osp.join(REPO, 'data', 'voc_mini')
PHASES = ('cls', 'seg')
# The VOC schedule (configs/_base_/schedules/fma_two_phase.py).
SCHEDULE = dict(cls=1800, seg=17000)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--model-name', default='ViT-B-16')
    parser.add_argument('--data-root', default=VOC_MINI)
    parser.add_argument('--batch-size', type=int, default=16)
    add_train_step_arguments(parser)
    parser.add_argument(
        '--phases', nargs='+', choices=PHASES, default=list(PHASES))
    parser.add_argument('--worker', choices=PHASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    if args.steps < 1 or args.batch_size < 1:
        parser.error('--steps and --batch-size must be >= 1')
    return args


def build(args: argparse.Namespace):
    """Model (train mode, phase ``args.worker``), optim wrapper, config."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    cfg.model.clip.model_name = args.model_name
    cfg.model.clip.pretrained = None
    cfg.model.phase = args.worker
    # seeders are not used by the cls / seg training steps
    cfg.model.seeder = dict(
        cls=dict(type='ThresholdSeeder'), seg=dict(type='ThresholdSeeder'))
    model = MODELS.build(cfg.model).to(args.device)
    model.train()
    wrapper = dict(cfg.optim_wrapper)
    if args.amp:  # what tools/train.py --amp does
        from mmwsss.apis.mm_tools import AMP_WRAPPER
        wrapper.update(type=AMP_WRAPPER)
    return model, build_optim_wrapper(model, wrapper), cfg


def make_batches(args: argparse.Namespace, cfg, n: int) -> List[Dict]:
    """``n`` batches of augmented crops of the training images."""
    import numpy as np
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS
    pipeline = cfg.train_pipeline if args.worker == 'cls' else \
        cfg.seg_train_pipeline
    ds = DATASETS.build(
        dict(
            type='VOCImageLabelDataset',
            data_root=args.data_root,
            ann_file=osp.join('ImageSets', 'Segmentation', 'train.txt'),
            label_cache=None,
            pipeline=pipeline))
    rng = np.random.default_rng(0)
    np.random.seed(0)  # the pipeline's random transforms
    random.seed(0)
    return [
        pseudo_collate(
            [ds[int(i)] for i in rng.integers(0, len(ds), args.batch_size)])
        for _ in range(n)
    ]


def run_worker(args: argparse.Namespace) -> Dict:
    """Time ``args.steps`` training steps of phase ``args.worker``."""
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, optim_wrapper, cfg = build(args)
    batches = make_batches(args, cfg, args.warmup + args.steps)

    def pairs(batch) -> str:  # (crop, class) pairs CAL trains
        if args.worker != 'seg':
            return ''
        n = sum(
            len(set(ds.gt_sem_seg.data.unique().tolist()) - {0, 255})
            for ds in batch['data_samples'])
        return f', {n} (crop, class) pairs'

    walls, cpus, losses, mem = time_train_steps(model, optim_wrapper,
                                                batches, args.warmup, device,
                                                args.worker, pairs)
    res = dict(
        phase=args.worker,
        device=str(device),
        wall_s=float(np.mean(walls)),
        cpu_s=float(np.mean(cpus)),
        losses=losses,
        rss_mib=mem.rss_mib,
        prompt_params=model.num_trainable_params())
    if mem.cuda:
        res['cuda_mib'] = mem.mib
    return res


def spawn(args: argparse.Namespace, phase: str) -> Dict:
    """Run one phase in a fresh process and parse its JSON line."""
    argv = [
        '--worker', phase, '--config', args.config, '--model-name',
        args.model_name, '--data-root', args.data_root, '--batch-size',
        args.batch_size, '--steps', args.steps, '--warmup', args.warmup,
        '--device', args.device, '--threads', args.threads
    ] + (['--amp'] if args.amp else [])
    return spawn_worker(
        osp.abspath(__file__), argv, phase, threads=args.threads)


def amp_label(args: argparse.Namespace) -> str:
    """What ``--amp`` means on the device of ``args``."""
    return (', AMP float16 + dynamic loss scale'
            if is_cuda(args.device) else ', AMP bfloat16')


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Run the phases' workers, print the summary lines.

    Returns:
        dict: ``{phase: {'step_s', 'peak_mib', ...}}`` and ``schedule_h``
        (None unless both phases ran).
    """
    args = parse_args(argv)
    if args.worker:
        emit_result(run_worker(args))
        return {}
    cuda = is_cuda(args.device)
    print(f'CLIP {args.model_name} with RANDOM weights (the step time does '
          f'not depend on them) on {args.device} ({args.threads} thread(s))'
          f'{amp_label(args) if args.amp else ""}; batch {args.batch_size} '
          f'(paper: 16); {args.steps} timed step(s) after {args.warmup} '
          'warm-up(s) per phase.')
    results: Dict = {}
    for phase in args.phases:
        r = spawn(args, phase)
        r['step_s'] = r['wall_s'] if cuda else r['cpu_s']
        r['peak_mib'] = r['cuda_mib'] if cuda else r['rss_mib']
        results[phase] = r
        print(f'{phase}: {r["wall_s"]:.2f} s wall, {r["cpu_s"]:.2f} s CPU '
              f'per step; peak {"CUDA" if cuda else "RSS"} '
              f'+{r["peak_mib"]:.0f} MiB; losses '
              f'{", ".join(f"{v:.3g}" for v in r["losses"])}; '
              f'{r["prompt_params"]:,} trainable parameters')
    for phase, r in results.items():
        print(f'phase={phase} step_s={r["step_s"]:.3f} '
              f'peak_mib={r["peak_mib"]:.0f}')
    schedule_h = None
    if all(p in results for p in PHASES):
        schedule_h = sum(SCHEDULE[p] * results[p]['step_s']
                         for p in PHASES) / 3600
        print(f'schedule_h={schedule_h:.2f}')
    results['schedule_h'] = schedule_h
    # last line: one step of the schedule (iteration-weighted over the
    # phases that ran) and the larger memory peak
    ran = [p for p in PHASES if p in results]
    iters = sum(SCHEDULE[p] for p in ran)
    step_s = sum(SCHEDULE[p] * results[p]['step_s'] for p in ran) / iters
    peak = max(results[p]['peak_mib'] for p in ran)
    results['step_s'], results['peak_mib'] = step_s, int(round(peak))
    print(f'step_s={step_s:.3f} peak_mib={int(round(peak))}')
    return results


if __name__ == '__main__':
    main()
