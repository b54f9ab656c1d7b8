# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: ``sams_seed`` on dense masks vs the reference's dense form.

``python tools/benchmarks/sams_dense.py [--images N] [--repeats R]
[--device cpu|cuda|auto] [--threads T] [--alpha A] [--max-masks M]``

The input masks arrive dense, as a live generator, SAM 3 or the inferencer
hands them over: per image of data/voc_mini, the quasi-superpixels and
CAM-like maps of ``tools/benchmarks/sams_vs_crf.py`` (same construction,
same seeds), the masks as a C-contiguous (S, H, W) bool tensor and the maps
already resized to the image (bilinear, align_corners=False). Both methods
get exactly these tensors and must give the same seed map (checked on
every image):

- ``reference``: the authors' ``gather_norm_bg_argmax`` as it computes,
  in its dense form (reference_behaviour.md section 1.1, written from that
  specification): ReLU, the (P, S, H, W) product of the maps and the masks
  summed per mask / area, min-max over the masks, background
  ``(1 - max)^alpha``, argmax, a Python ``sorted`` on (level, conf) and the
  masks painted one by one (``seed[mask] = label``);
- ``sams_seed``: :func:`mmwsss.models.sams.sams_seed` on the dense masks
  (runs found in the masks' own layout, then the run-based SAMS).

Timing: on the CPU the process's CPU time of one call (other jobs on a
shared machine inflate wall time, differently for the two methods), on
CUDA wall time after a sync; median of ``--repeats`` after one warm-up, per
image; ``--threads`` (default 1) torch intra-op threads. The last line is
``reference_ms=<float> sams_ms=<float> speedup=<float>``: the medians over the images and their ratio (> 1: faster
than the reference).
"""
import argparse
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import add_device_argument, resolve_device  # noqa: E402
import sams_vs_crf  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=sams_vs_crf.VOC_MINI)
    parser.add_argument(
        '--images', type=int, default=None, help='first N images (all)')
    parser.add_argument('--repeats', type=int, default=5)
    add_device_argument(parser)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--alpha', type=float, default=0.7)
    parser.add_argument('--max-masks', type=int, default=80)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    return args


def reference_dense_seed(cam, masks, levels: Sequence[int], fg_cls,
                         alpha: float):
    """The reference's SAMS on dense tensors (norm_first=True, 'mean',
    bg 'pow', priority ('level_bigger', 'conf_bigger')), step by step as
    reference_behaviour.md section 1.1 states it.

    Args:
        cam (Tensor): (P, H, W) float32 maps at the image size.
        masks (Tensor): (S, H, W) bool masks.
        levels (Sequence[int]): (S,) SAM levels.
        fg_cls (Tensor): (P,) int64 0-based classes.
        alpha (float): Background exponent.

    Returns:
        Tensor: (H, W) uint8 seed.
    """
    import torch
    fg = torch.maximum(cam,
                       torch.tensor(0, dtype=cam.dtype, device=cam.device))
    areas = masks.sum(dim=(1, 2))
    # (P, 1, H, W) * (1, S, H, W) -> (P, S, H, W), summed per mask
    g = (fg[:, None] * masks[None]).sum(dim=(2, 3)) / areas[None]
    lo = g.clamp(min=0).amin(dim=1, keepdim=True)
    hi = g.clamp(min=0).amax(dim=1, keepdim=True)
    s_c = (g.clamp(min=0) - lo) / (hi - lo + 1e-7)
    s_bg = (1 - s_c.amax(dim=0, keepdim=True))**alpha
    scores = torch.cat([s_bg, s_c])  # (P+1, S)
    idx = scores.argmax(dim=0)
    lut = torch.cat([fg_cls.new_zeros(1), fg_cls + 1]).to(torch.uint8)
    labels = lut[idx].tolist()
    conf = scores.gather(0, idx[None])[0].tolist()
    order = sorted(range(len(labels)), key=lambda i: (int(levels[i]), conf[i]))
    seed = torch.zeros(masks.shape[1:], dtype=torch.uint8, device=cam.device)
    for i in order:
        seed[masks[i]] = labels[i]
    return seed


def time_call(fn, repeats: int, cuda: bool) -> float:
    """Median milliseconds of ``fn()`` after one warm-up (CPU: process
    time; CUDA: wall time, synchronised)."""
    import torch
    clock = time.perf_counter if cuda else time.process_time
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = clock()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append((clock() - t0) * 1e3)
    return float(np.median(times))


def run(args: argparse.Namespace) -> List[Dict]:
    """Time both methods on every image; returns the per-image rows.

    Raises:
        AssertionError: The two seed maps differ on an image.
    """
    import torch
    import torch.nn.functional as F

    from mmwsss.functional.sams import sams_seed
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == 'cuda'
    rows = []
    for item in sams_vs_crf.build_inputs(args):
        masks = torch.from_numpy(
            np.ascontiguousarray(
                item['record'].dense().astype(bool))).to(device)
        h, w = masks.shape[1:]
        maps = torch.as_tensor(item['maps'], device=device)
        cam = F.interpolate(
            maps[None], (h, w), mode='bilinear', align_corners=False)[0]
        fg_cls = torch.as_tensor(item['fg_cls'], device=device)
        levels = item['levels']
        ref = reference_dense_seed(cam, masks, levels, fg_cls, args.alpha)
        ours = sams_seed(cam, masks, levels, fg_cls, alpha=args.alpha).seed
        assert torch.equal(ref, ours), f'seed maps differ on {item["stem"]}'
        rows.append(
            dict(
                stem=item['stem'],
                size=(int(h), int(w)),
                classes=int(len(fg_cls)),
                masks=int(masks.shape[0]),
                reference_ms=time_call(
                    lambda: reference_dense_seed(cam, masks, levels, fg_cls,
                                                 args.alpha), args.repeats,
                    cuda),
                sams_ms=time_call(
                    lambda: sams_seed(
                        cam, masks, levels, fg_cls, alpha=args.alpha),
                    args.repeats, cuda)))
        print(
            f'{rows[-1]["stem"]}: reference {rows[-1]["reference_ms"]:.1f}'
            f' ms, sams_seed {rows[-1]["sams_ms"]:.1f} ms',
            file=sys.stderr,
            flush=True)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Print the per-image table and the summary line."""
    args = parse_args(argv)
    rows = run(args)
    clock = 'wall' if args.device.startswith('cuda') else 'CPU'
    print(f'SAMS on dense (S, H, W) masks and image-size maps, {args.device}'
          f' ({args.threads} thread(s), {clock} time), alpha {args.alpha}; '
          'median of '
          f'{args.repeats} runs per image after a warm-up; same seed map '
          'on every image.')
    head = (f'{"image":<22}{"H x W":>10}{"P":>3}{"S":>4}'
            f'{"reference_ms":>14}{"sams_ms":>10}{"speedup":>9}')
    print(head)
    print('-' * len(head))
    for r in rows:
        print(f'{r["stem"]:<22}{r["size"][0]:>5}x{r["size"][1]:<4}'
              f'{r["classes"]:>3}{r["masks"]:>4}{r["reference_ms"]:>14.1f}'
              f'{r["sams_ms"]:>10.1f}'
              f'{r["reference_ms"] / r["sams_ms"]:>9.2f}')
    ref = float(np.median([r['reference_ms'] for r in rows]))
    ours = float(np.median([r['sams_ms'] for r in rows]))
    print(f'reference_ms={ref:.3f} sams_ms={ours:.3f} '
          f'speedup={ref / ours:.2f}')


if __name__ == '__main__':
    main()
