# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: WeCLIP+ training step and test time per image at real size,
beside FMA-WSSS's prompt step and CAM.

``python tools/benchmarks/weclip.py [--config CFG] [--batch-size B]
[--steps S] [--warmup W] [--images N] [--crf] [--device cpu|cuda|auto]
[--amp] [--threads T] [--parts train test fma-step fma-cam]``

The model is ``--config``'s (default the WeCLIP+ VOC config: CLIP ViT-B/16
+ DINOv2 ViT-S/14, SegFormer heads, the 3-block decoder) with RANDOM
weights for both encoders (they do not change the amount of work):

- ``train``: ``model.train_step`` on batches of ``--batch-size`` (the
  authors' 4) 320 crops of the bundled ``data/voc_mini`` training images
  through the config's train pipeline: both encoders, heads, decoder, the
  online pseudo labels (GradCAM of every present class, affinity, PAR),
  the losses, backward and the AdamW step of heads + decoder;
- ``test``: ``model.predict`` per image at the original size with the
  config's ``test_cfg`` (long side 512, scales 1 and 1.5, flips; the CRF
  only with ``--crf``);
- ``fma-step`` / ``fma-cam``: FMA-WSSS's seg prompt step
  (``prompt_step.py --phases seg``, batch 16) and seed CAM
  (``cam_speed.py``), run here with the same device and threads.

Each part runs in a fresh process (peaks are not hidden by another part).
Times: CUDA wall time (synchronised), or on the CPU the process's CPU time
(``--threads`` default 1). Peak memory: CUDA ``max_memory_allocated`` or
the peak resident set size, above the level after the model was built. The
last lines are ``part=<p> per_image_s=<x> peak_mib=<y>``: a training step
divided by its batch size, a test image, an FMA prompt step divided by 16,
an FMA seed CAM (the CLIP forward plus GradCAM and CAA).

Measured on this project's CPU machine (2 cores, no GPU), random weights,
1 thread, all four parts in one run (``python tools/benchmarks/weclip.py
--parts train test fma-step fma-cam``, 3 timed steps, 3 test images)::

    part=train per_image_s=3.208 peak_mib=1234    (12.8 s per batch of 4)
    part=test per_image_s=42.070 peak_mib=2094    (512 long side, 1 + 1.5, flips)
    part=fma-step per_image_s=0.820 peak_mib=1711 (13.1 s per batch of 16)
    part=fma-cam per_image_s=7.655 peak_mib=788   (CLIP 5.09 s + GradCAM/CAA 2.57 s)

The fma-cam figure is this run's ``cam_speed.py`` summary (clip_ms 5085.9 +
cam_ms 2569.6). The WeCLIP+ test runs CLIP's 11 blocks and DINOv2 on two
flipped copies at two
scales (up to 48x48 patches at scale 1.5); on a GPU run it with
``--device cuda``.
"""
import argparse
import os.path as osp
import random
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import (REPO, Clock, PeakMemory,  # noqa: E402
                         add_train_step_arguments, emit_result, is_cuda,
                         resolve_device, spawn_worker, time_train_steps)

DEFAULT_CONFIG = osp.join(
    REPO, 'configs', 'weclip',
    'weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py')
VOC_MINI = osp.join(REPO, 'data', 'voc_mini')
PARTS = ('train', 'test', 'fma-step', 'fma-cam')
FMA_BATCH = 16


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default=VOC_MINI)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--images', type=int, default=3)
    parser.add_argument('--crf', action='store_true')
    add_train_step_arguments(parser)
    parser.add_argument('--parts', nargs='+', choices=PARTS,
                        default=list(PARTS))
    parser.add_argument('--worker', choices=('train', 'test'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    if min(args.steps, args.batch_size, args.images) < 1:
        parser.error('--steps, --batch-size and --images must be >= 1')
    return args


def build(args: argparse.Namespace):
    """The model with random encoder weights, and the config."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    cfg.model.clip.pretrained = None
    if cfg.model.get('dino') is not None:
        cfg.model.dino.pretrained = None
    cfg.model.test_cfg.crf = bool(args.crf)
    return MODELS.build(cfg.model).to(args.device), cfg


def dataset(args: argparse.Namespace, pipeline, split: str):
    from mmseg.registry import DATASETS
    return DATASETS.build(
        dict(
            type='VOCImageLabelDataset',
            data_root=args.data_root,
            ann_file=osp.join('ImageSets', 'Segmentation', split + '.txt'),
            label_cache=None,
            pipeline=pipeline,
            test_mode=split != 'train'))


def run_train(args: argparse.Namespace) -> Dict:
    """Time ``args.steps`` training steps."""
    import numpy as np
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    model, cfg = build(args)
    model.train()
    wrapper = dict(cfg.optim_wrapper)
    if args.amp:  # what tools/train.py --amp does
        from mmwsss.apis.mm_tools import AMP_WRAPPER
        wrapper.update(type=AMP_WRAPPER)
    optim_wrapper = build_optim_wrapper(model, wrapper)
    ds = dataset(args, cfg.train_pipeline, 'train')
    rng = np.random.default_rng(0)
    np.random.seed(0)
    random.seed(0)
    batches = [
        pseudo_collate(
            [ds[int(i)] for i in rng.integers(0, len(ds), args.batch_size)])
        for _ in range(args.warmup + args.steps)
    ]
    walls, cpus, losses, mem = time_train_steps(model, optim_wrapper,
                                                batches, args.warmup,
                                                args.device, 'train')
    return dict(
        wall_s=float(np.mean(walls)),
        cpu_s=float(np.mean(cpus)),
        per=args.batch_size,
        rss_mib=mem.rss_mib,
        cuda_mib=mem.mib if mem.cuda else None)


def run_test(args: argparse.Namespace) -> Dict:
    """Time ``model.test_step`` on ``args.images`` val images."""
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    model, cfg = build(args)
    model.eval()
    ds = dataset(args, cfg.test_pipeline, 'val')
    samples = [ds[i % len(ds)] for i in range(args.warmup + args.images)]
    clock = Clock(args.device)
    walls: List[float] = []
    cpus: List[float] = []
    with PeakMemory(args.device) as mem, torch.no_grad():
        for i, s in enumerate(samples):
            w0, c0 = clock()
            model.test_step(pseudo_collate([s]))
            w1, c1 = clock()
            if i >= args.warmup:
                walls.append(w1 - w0)
                cpus.append(c1 - c0)
            print(f'test image {i + 1}/{len(samples)} '
                  f'{tuple(s["inputs"].shape[1:])}: {w1 - w0:.2f} s wall',
                  file=sys.stderr, flush=True)
    return dict(
        wall_s=float(np.mean(walls)),
        cpu_s=float(np.mean(cpus)),
        per=1,
        rss_mib=mem.rss_mib,
        cuda_mib=mem.mib if mem.cuda else None)


def fma_rows(args: argparse.Namespace) -> Dict[str, Dict]:
    """FMA-WSSS's seg prompt step and seed CAM, same device and threads."""
    out = {}
    common = ['--device', args.device, '--threads', str(args.threads)]
    if 'fma-step' in args.parts:
        import prompt_step
        r = prompt_step.main([
            '--phases', 'seg', '--steps',
            str(args.steps), '--warmup',
            str(args.warmup), '--batch-size',
            str(FMA_BATCH)
        ] + common + (['--amp'] if args.amp else []))
        out['fma-step'] = dict(
            per_image_s=r['seg']['step_s'] / FMA_BATCH,
            peak_mib=r['seg']['peak_mib'])
    if 'fma-cam' in args.parts:
        import cam_speed
        r = cam_speed.main(['--images', str(args.images)] + common)
        # a seed's whole CAM cost: the CLIP forward + GradCAM + CAA
        out['fma-cam'] = dict(
            per_image_s=(r['clip_ms'] + r['cam_ms']) / 1000,
            peak_mib=r['peak_mib'])
    return out


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict]:
    """Run the parts; print one summary line per part.

    Returns:
        dict: ``{part: {'per_image_s', 'peak_mib'}}``.
    """
    args = parse_args(argv)
    if args.worker:
        import torch
        torch.set_num_threads(args.threads)
        emit_result((run_train if args.worker == 'train' else run_test)(args))
        return {}
    cuda = is_cuda(args.device)
    print(f'WeCLIP+ ({osp.basename(args.config)}) with RANDOM encoder '
          f'weights on {args.device} ({args.threads} thread(s)'
          f'{", AMP" if args.amp else ""}); train batch {args.batch_size}, '
          f'{args.steps} step(s) after {args.warmup} warm-up(s); test '
          f'{args.images} image(s){", CRF" if args.crf else ""}.')
    results: Dict[str, Dict] = {}
    for part in ('train', 'test'):
        if part not in args.parts:
            continue
        argv_w = [
            '--worker', part, '--config', args.config, '--data-root',
            args.data_root, '--batch-size', args.batch_size, '--steps',
            args.steps, '--warmup', args.warmup, '--images', args.images,
            '--device', args.device, '--threads', args.threads
        ] + (['--amp'] if args.amp else []) + (['--crf'] if args.crf else [])
        r = spawn_worker(
            osp.abspath(__file__), argv_w, part, threads=args.threads)
        sec = r['wall_s'] if cuda else r['cpu_s']
        results[part] = dict(
            per_image_s=sec / r['per'],
            peak_mib=r['cuda_mib'] if cuda else r['rss_mib'])
    results.update(fma_rows(args))
    for part, r in results.items():
        print(f'part={part} per_image_s={r["per_image_s"]:.3f} '
              f'peak_mib={r["peak_mib"]:.0f}')
    return results


if __name__ == '__main__':
    main()
