# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: per-image cost of FMA-WSSS seed CAMs at full image resolution.

``python tools/benchmarks/cam_speed.py [--config CFG] [--model-name NAME]
[--pretrained TAG|PATH] [--task seg|cls] [--images N] [--warmup W]
[--repeats R] [--device cpu|cuda|auto] [--threads T] [--mask-dir DIR]``

The model is ``--config``'s (default ``configs/fma/voc_prompts.py``, the VOC
prompt-learning config: CLIP ViT-B/16 with patch-mean pooling, cls and seg
prompt learners, CAA per task, SAMS seeders) with ``model.clip`` set to
``--model-name`` / ``--pretrained`` (default None: random weights of the
real architecture, which do not change the amount of work, so timings hold
for the OpenAI weights too). Each image of ``data/voc_mini`` (train then
val list, the first ``--images``) goes through the config's test pipeline
and data preprocessor, and then through the steps of
``SeedPredictor.image_cams`` as the seed stage runs them, timed
separately:

- ``clip``: the reference, one CLIP image forward + backward with the graph
  of every block (what a GradCAM costs when nothing is kept out of the
  graph) of the image with each side rounded up to a multiple of 16 (PIL
  bicubic, the authors' CAM input);
- ``gradcam``: ``compute_cams``: blocks 1..L-1 without graph, the forward
  of the last block with the GradCAM target (its ``ln_1`` output) and the
  attention of the last 8 blocks, the Softmax-GradCAM backward of all
  labelled classes at once through the last block only, the CAMs (text
  features are cached in eval mode: their one-off cost is printed apart);
- ``caa``: ``refine``: CAA (attention merge, Sinkhorn, matrix power, box
  masks, propagation) of the ``--task`` (``seg``: threshold 0.5 on the CAM,
  fine seeds; ``cls``: 0.4 on the score, coarse seeds);
- ``cam`` = ``gradcam`` + ``caa``: our CAM pipeline;
- ``sams`` (only with ``--mask-dir``, a ``tools/gen_sam_masks.py`` cache
  holding the images' masks): the task's SAMS seeder at the original size,
  mask file loading included.

Times: on CUDA wall time (synchronised); on CPU the process's CPU time (all
threads), which other jobs on a shared machine do not inflate the way they
inflate wall time; wall time is printed too. ``--threads`` (default 1) sets
torch's intra-op threads, so on an idle CPU the two agree. Each step runs
``--repeats`` times per image (mean), after ``--warmup`` untimed passes of
the whole chain on the first image. Peak memory: CUDA
``max_memory_allocated`` above the level after model and inputs were built;
on CPU the peak resident set size above that level, sampled every 10 ms
(warm-up included, since the allocator keeps what the warm-up freed).

The last two lines are ``gradcam_ms=<g> caa_ms=<c> [sams_ms=<s>]
peak_mib=<m>`` and, last, exactly ``clip_ms=<x> cam_ms=<y> ratio=<y/x>``
(means over the images).

Measured 2026-11-23 on this project's CPU machine (2 cores; no GPU),
ViT-B/16 random weights, seg task, 1 thread, the first 5 images (1 of
281x500 -> 288x496, 4 of 513x513 -> 512x512, 1-2 classes each):
``python tools/benchmarks/cam_speed.py``::

    mean per image, wall / CPU ms: clip 6259 / 6220, gradcam 3310 / 3321,
    caa 31 / 32, cam 3341 / 3353
    gradcam_ms=3321.3 caa_ms=31.7 peak_mib=753
    clip_ms=6220.1 cam_ms=3353.0 ratio=0.54

i.e. a seed CAM of all labelled classes, CAA included, costs about half a
plain CLIP forward + backward (target <= 0.8); CAA is ~1 % of it. SAMS on
a cache of GT-region masks (1 mask per GT class region; real SAM gives
~50-100 per image, so real SAMS costs more) took 7.7 ms per image.
(RSS peaks differ by ~100 MiB between runs: allocator reuse.)
"""
import argparse
import os.path as osp
import sys
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import REPO, Clock, PeakMemory  # noqa: E402
from bench_utils import add_device_argument, resolve_device  # noqa: E402

DEFAULT_CONFIG = osp.join(REPO, 'configs', 'fma', 'voc_prompts.py')
VOC_MINI = osp.join(REPO, 'data', 'voc_mini')
STEPS = ('clip', 'gradcam', 'caa', 'cam', 'sams')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--model-name', default='ViT-B-16')
    parser.add_argument(
        '--pretrained',
        default=None,
        help='open_clip tag or checkpoint; default: random weights')
    parser.add_argument('--task', choices=['seg', 'cls'], default='seg')
    parser.add_argument('--data-root', default=VOC_MINI)
    parser.add_argument('--images', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=1)
    add_device_argument(parser)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--mask-dir', default=None, help='SAM mask cache: also time SAMS')
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    return args


def build_model(args: argparse.Namespace):
    """The config's FMAPromptModel with the CLIP and mask folder asked for,
    in eval mode on ``args.device``; and the config."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    cfg.model.clip.model_name = args.model_name
    cfg.model.clip.pretrained = args.pretrained
    seeder = cfg.model.get('seeder') or {}
    for task in list(seeder):
        if seeder[task] is not None and \
                seeder[task].get('type') == 'SAMSSeeder':
            seeder[task]['mask_dir'] = args.mask_dir
    model = MODELS.build(cfg.model).to(args.device)
    model.eval()
    return model, cfg


def load_samples(args: argparse.Namespace, cfg) -> List[Dict]:
    """The first ``args.images`` images of the train + val lists, through
    the config's test pipeline (original size, GT-derived labels)."""
    from mmseg.registry import DATASETS
    out = []
    for split in ('train', 'val'):
        ann = osp.join('ImageSets', 'Segmentation', split + '.txt')
        if not osp.isfile(osp.join(args.data_root, ann)):
            continue
        ds = DATASETS.build(
            dict(
                type='VOCImageLabelDataset',
                data_root=args.data_root,
                ann_file=ann,
                label_cache=None,
                pipeline=cfg.test_pipeline,
                test_mode=True))
        for i in range(len(ds)):
            if len(out) == args.images:
                return out
            out.append(ds[i])
    if not out:
        raise FileNotFoundError(
            f'no images under {args.data_root} (ImageSets/Segmentation/'
            '{train,val}.txt)')
    return out


def clip_forward_backward(clip, img) -> None:
    """The reference cost: one CLIP image forward with the autograd graph
    of every block, and the backward through all of them (what a GradCAM
    costs when nothing is frozen out of the graph, e.g. CLIP-ES's code).
    Uses FrozenCLIP's own patch embedding, so any input size works."""
    import torch
    from mmwsss.models.clip.vit_ops import native_block_forward
    x = img.detach().requires_grad_(True)
    with torch.enable_grad():
        tokens, _ = clip._embed_patches(x)
        for blk in clip.model.visual.transformer.resblocks:
            tokens = native_block_forward(blk, tokens,
                                          clip._vision_batch_first)
        clip._pool(tokens).sum().backward()


def run_image(model, sample: Dict, task: str, clock: Clock,
              with_sams: bool) -> Dict[str, tuple]:
    """One pass of every step on one image; (wall_s, cpu_s) per step."""
    import torch
    from mmengine.dataset import pseudo_collate
    data = model.data_preprocessor(pseudo_collate([sample]), False)
    inputs, ds = data['inputs'], data['data_samples'][0]
    labels = model.multi_hot([ds])
    fg = torch.nonzero(labels[0]).flatten()
    # sides rounded up to x16
    img = model.cam_extractor.prepare_image(inputs, 0, ds)
    caa = model.seed_predictor.caa_cfg[task]
    last_k = caa.get('last_k', 8) if caa else 0
    times = {}

    @contextmanager
    def timed(name):
        w0, c0 = clock()
        yield
        w1, c1 = clock()
        times[name] = (w1 - w0, c1 - c0)

    with timed('clip'):
        clip_forward_backward(model.clip, img)
    with timed('gradcam'):
        cams, _, out = model.cam_extractor.compute_cams(
            img, labels, task, attn_layers=last_k)
    with timed('caa'):
        refined = model.seed_predictor.refine(cams.detach(),
                                              out.attn[0] if caa else None,
                                              task)
    times['cam'] = tuple(a + b for a, b in zip(times['gradcam'], times['caa']))
    if with_sams:
        ori = tuple(ds.metainfo['ori_shape'][:2])
        with timed('sams'):
            model.seed_predictor.seeders[task](
                refined, fg, ori, data_sample=ds)
    times['meta'] = (tuple(ds.metainfo['ori_shape'][:2]),
                     tuple(img.shape[-2:]), int(fg.numel()))
    return times


def time_text_features(model, task: str, clock: Clock) -> None:
    """Compute (and cache) the ``task`` text features; print their time."""
    import torch
    w0, c0 = clock()
    with torch.no_grad():
        # cached from here on (eval mode)
        model.cam_extractor.text_features(task)
    w1, c1 = clock()
    print(f'{task} text features (once per run, cached): '
          f'{(w1 - w0) * 1e3:.0f} ms wall, {(c1 - c0) * 1e3:.0f} ms CPU')


def image_row(model, sample: Dict, args: argparse.Namespace, clock: Clock,
              with_sams: bool) -> Dict:
    """``args.repeats`` passes of :func:`run_image` on one image: the image
    sizes and class count (``meta``) and each step's mean (wall, CPU) ms."""
    import numpy as np
    runs = [
        run_image(model, sample, args.task, clock, with_sams)
        for _ in range(args.repeats)
    ]
    row = dict(meta=runs[0]['meta'])
    for step in STEPS:
        if step in runs[0]:
            row[step] = np.mean([r[step] for r in runs], axis=0) * 1e3
    return row


def row_line(i: int, num: int, sample: Dict, row: Dict, pick: int,
             unit: str) -> str:
    """The progress line of image ``i`` (0-based) of ``num``."""
    (h, w), (ah, aw), p = row['meta']
    steps = ', '.join(f'{s} {row[s][pick]:.0f}' for s in STEPS if s in row)
    wall = sum(row[s][0] for s in STEPS if s in row and s != 'cam')
    return (f'[{i + 1}/{num}] '
            f'{osp.basename(sample["data_samples"].img_path)} '
            f'{h}x{w} -> {ah}x{aw}, {p} class(es): {steps} {unit} '
            f'(wall {wall:.0f} ms in all)')


def summarize(rows: List[Dict], args: argparse.Namespace, device, peak: float,
              pick: int, with_sams: bool) -> Dict[str, float]:
    """Print the means over the images and the summary lines; return the
    summary numbers."""
    import numpy as np
    if device.type == 'cuda':
        mem = f'CUDA max_memory_allocated above the model: {peak:.0f} MiB'
    else:
        mem = f'RSS peak above the model and inputs: {peak:.0f} MiB'
    mean = {
        s: np.mean([r[s] for r in rows], axis=0)
        for s in STEPS if s in rows[0]
    }
    print(f'{args.model_name} on {device} ({args.threads} thread(s)), '
          f'{args.task} prompts, {len(rows)} image(s), {args.repeats} '
          f'repeat(s) after {args.warmup} warm-up(s); {mem}')
    print('mean per image, wall / CPU ms: ' +
          ', '.join(f'{s} {v[0]:.0f} / {v[1]:.0f}' for s, v in mean.items()))
    res = {f'{s}_ms': float(v[pick]) for s, v in mean.items()}
    res['ratio'] = res['cam_ms'] / res['clip_ms']
    res['peak_mib'] = float(peak)
    extra = (f'gradcam_ms={res["gradcam_ms"]:.1f} '
             f'caa_ms={res["caa_ms"]:.1f} ')
    if with_sams:
        extra += f'sams_ms={res["sams_ms"]:.1f} '
    print(extra + f'peak_mib={res["peak_mib"]:.0f}')
    print(f'clip_ms={res["clip_ms"]:.1f} cam_ms={res["cam_ms"]:.1f} '
          f'ratio={res["ratio"]:.2f}')
    return res


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Time the steps on the images, print progress and the summary line.

    Returns:
        dict: The summary numbers (``clip_ms``, ``cam_ms``, ``caa_ms``,
        ``ratio``, ``peak_mib`` and ``sams_ms`` with ``--mask-dir``).
    """
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with_sams = args.mask_dir is not None

    model, cfg = build_model(args)
    if args.pretrained is None:
        print(f'CLIP {args.model_name} with RANDOM weights (no --pretrained)'
              ': the timings do not depend on the weights')
    samples = load_samples(args, cfg)
    clock = Clock(device)
    time_text_features(model, args.task, clock)

    unit = 'ms' if device.type == 'cuda' else 'CPU-ms'
    pick = 0 if device.type == 'cuda' else 1  # wall on CUDA, CPU on CPU
    rows = []
    with PeakMemory(device) as mem:
        for _ in range(args.warmup):
            run_image(model, samples[0], args.task, clock, with_sams)
        for i, sample in enumerate(samples):
            rows.append(image_row(model, sample, args, clock, with_sams))
            print(
                row_line(i, len(samples), sample, rows[-1], pick, unit),
                flush=True)
    return summarize(rows, args, device, mem.mib, pick, with_sams)


if __name__ == '__main__':
    main()
