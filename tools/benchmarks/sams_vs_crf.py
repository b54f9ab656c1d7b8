# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: SAMS seeding vs dense CRF on the bundled real VOC images.

``python tools/benchmarks/sams_vs_crf.py [--images N] [--repeats R]
[--device cpu|cuda|auto] [--threads T] [--alpha A] [--max-masks M]``

Both methods get the same inputs per image (data/voc_mini, real VOC photos):

- class maps: CAM-like maps of the image's ground-truth classes, built
  deterministically: the GT one-hot of each present class, area-downsampled
  to a ViT-B/16 patch grid (ceil(H/16) x ceil(W/16)), Gaussian-blurred
  (sigma 1 cell), plus N(0, 0.1) noise (numpy seed ``--seed`` + image index),
  clamped at 0 and min-max normalised per class. Both methods resize them
  bilinearly to the image inside the timed call.
- quasi-superpixels (SAMS only), built deterministically and stored as a
  ``SAMMaskRecord`` (RLE, the cache format): wholes (level 2) = connected
  components (>= 100 px) of each GT label, parts (level 1) = the quadrants of
  each whole's box intersected with it plus 10 random boxes, sub-parts
  (level 0) = the cells of an 8 x 8 image grid split by GT label (>= 100 px),
  subsampled so that an image has at most ``--max-masks`` masks (~50-100).

Timed calls, each after one warm-up, median of ``--repeats``:

- SAMS: ``sams_seed_from_record(maps, record, fg_cls, alpha)`` = RLE
  decoding to flat indices + resize + mask means + scores + painting
  (alpha 0.7, VOC fine seeds), on ``--device``;
- CRF: ``crf_seed(image, maps, fg_cls)`` = resize + background
  ``(1 - max)^1`` + pydensecrf2 with CLIP-ES's parameters (10 iterations),
  always on the CPU (pydensecrf has no GPU path), single-threaded.

Each method runs in its own fresh process (``--worker``), so peak memory is
its own: on CPU the peak resident set size above the level after the inputs
were built (sampled every 5 ms), on CUDA ``torch.cuda.max_memory_allocated``
for SAMS. ``--threads`` (default 1) sets torch's intra-op threads for SAMS,
matching the single-threaded CRF. The mIoU columns (against the real GT) are
a sanity check, not a result: the masks come from the GT, which flatters
SAMS.

The last two lines are ``sams_peak_mib=<float> crf_peak_mib=<float>`` (SAMS:
CUDA peak on CUDA, else RSS; CRF: RSS) and ``sams_ms=<float> crf_ms=<float>
speedup=<float>``: the medians over the images of the per-image median
times, and their ratio.
"""
import argparse
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import REPO, PeakMemory, add_device_argument  # noqa: E402
from bench_utils import emit_result, resolve_device, spawn_worker  # noqa: E402

VOC_MINI = osp.join(REPO, 'data', 'voc_mini')
NUM_CLASSES = 21
PATCH = 16


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default=VOC_MINI)
    parser.add_argument(
        '--images', type=int, default=None, help='first N images (all)')
    parser.add_argument('--repeats', type=int, default=5)
    add_device_argument(parser)  # SAMS's device (CRF is CPU only)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--alpha', type=float, default=0.7)
    parser.add_argument('--max-masks', type=int, default=80)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--worker', choices=['sams', 'crf'], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    return args


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------
def image_ids(data_root: str) -> List[str]:
    """Ids of all images with a GT mask (train + val lists), sorted."""
    ids = set()
    for split in ('train', 'val'):
        path = osp.join(data_root, 'ImageSets', 'Segmentation',
                        split + '.txt')
        if osp.isfile(path):
            ids.update(open(path).read().split())
    if not ids:
        raise FileNotFoundError(
            f'no ImageSets/Segmentation/{{train,val}}.txt under {data_root}')
    return sorted(ids)


def load_pair(data_root: str, stem: str) -> Tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB image and (H, W) uint8 GT (255 = ignore)."""
    import cv2
    from PIL import Image
    img = cv2.imread(osp.join(data_root, 'JPEGImages', stem + '.jpg'))
    if img is None:
        raise FileNotFoundError(f'{data_root}/JPEGImages/{stem}.jpg')
    gt = np.asarray(
        Image.open(osp.join(data_root, 'SegmentationClass', stem + '.png')))
    return np.ascontiguousarray(img[..., ::-1]), gt


def class_maps(gt: np.ndarray, rng: np.random.Generator
               ) -> Tuple[np.ndarray, np.ndarray]:
    """CAM-like (P, h, w) float32 maps of the GT classes and their 0-based
    ids (see the module docstring)."""
    import cv2
    fg_cls = np.array([c for c in np.unique(gt) if 0 < c < NUM_CLASSES],
                      np.int64) - 1
    h, w = gt.shape
    ch, cw = -(-h // PATCH), -(-w // PATCH)
    maps = []
    for c in fg_cls:
        onehot = (gt == c + 1).astype(np.float32)
        small = cv2.resize(onehot, (cw, ch), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), 1.0)
        small = np.maximum(small + rng.normal(0, 0.1, small.shape), 0)
        rng_ = small.max() - small.min()
        maps.append((small - small.min()) / (rng_ + 1e-7))
    maps = np.stack(maps).astype(np.float32) if maps else np.zeros(
        (0, ch, cw), np.float32)
    return maps, fg_cls


def quasi_superpixels(gt: np.ndarray, rng: np.random.Generator,
                      max_masks: int) -> Tuple[np.ndarray, np.ndarray]:
    """Deterministic SAM-like masks (S, H, W) bool and levels (S,)."""
    from mmwsss.datasets import label_components
    h, w = gt.shape
    wholes, parts, subs = [], [], []
    for m in label_components(gt, 100):
        wholes.append(m)
        ys, xs = np.nonzero(m)
        ym, xm = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
        for y_sl in (slice(0, ym), slice(ym, h)):
            for x_sl in (slice(0, xm), slice(xm, w)):
                q = np.zeros_like(m)
                q[y_sl, x_sl] = m[y_sl, x_sl]
                if q.sum() >= 100:
                    parts.append(q)
    for _ in range(10):  # boxes that ignore object boundaries
        bh, bw = rng.integers(h // 8, h // 2), rng.integers(w // 8, w // 2)
        y0, x0 = rng.integers(0, h - bh), rng.integers(0, w - bw)
        b = np.zeros((h, w), bool)
        b[y0:y0 + bh, x0:x0 + bw] = True
        parts.append(b)
    ys = np.linspace(0, h, 9).astype(int)
    xs = np.linspace(0, w, 9).astype(int)
    for i in range(8):
        for j in range(8):
            cell = gt[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
            for k in np.unique(cell):
                if k == 255:
                    continue
                m = np.zeros((h, w), bool)
                m[ys[i]:ys[i + 1], xs[j]:xs[j + 1]] = cell == k
                if m.sum() >= 100:
                    subs.append(m)
    room = max(max_masks - len(wholes) - len(parts), 0)
    if len(subs) > room:
        keep = np.sort(rng.choice(len(subs), room, replace=False))
        subs = [subs[i] for i in keep]
    masks = wholes + parts + subs
    levels = [2] * len(wholes) + [1] * len(parts) + [0] * len(subs)
    order = rng.permutation(len(masks))  # SAM's output order is mixed
    return np.stack([masks[i] for i in order]), np.asarray(levels)[order]


def build_inputs(args: argparse.Namespace) -> List[Dict]:
    """Per image: stem, image, GT, class maps, fg classes, mask record."""
    from mmwsss.io.mask_cache import SAMMaskRecord
    stems = image_ids(args.data_root)[:args.images]
    out = []
    for i, stem in enumerate(stems):
        rng = np.random.default_rng(args.seed + i)
        image, gt = load_pair(args.data_root, stem)
        maps, fg_cls = class_maps(gt, rng)
        masks, levels = quasi_superpixels(gt, rng, args.max_masks)
        out.append(
            dict(
                stem=stem,
                image=image,
                gt=gt,
                maps=maps,
                fg_cls=fg_cls,
                record=SAMMaskRecord.from_dense(masks, levels),
                levels=levels))
    return out


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------
def confusion(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(C, C) confusion counts, GT 255 ignored."""
    valid = gt != 255
    idx = gt[valid].astype(np.int64) * NUM_CLASSES + pred[valid]
    return np.bincount(
        idx, minlength=NUM_CLASSES**2).reshape(NUM_CLASSES, NUM_CLASSES)


def miou(conf: np.ndarray) -> float:
    """Mean IoU (%) over the classes present in GT or prediction."""
    inter = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - inter
    seen = union > 0
    return float((inter[seen] / union[seen]).mean() * 100)


def run_worker(args: argparse.Namespace) -> Dict:
    """Time one method over all images in this process."""
    import torch
    torch.set_num_threads(args.threads)
    inputs = build_inputs(args)
    if args.worker == 'sams':
        from mmwsss.functional.sams import sams_seed_from_record
        device = torch.device(args.device)
        for item in inputs:
            item['maps'] = torch.as_tensor(item['maps'], device=device)

        def call(item):
            res = sams_seed_from_record(item['maps'], item['record'],
                                        item['fg_cls'], alpha=args.alpha)
            if device.type == 'cuda':
                torch.cuda.synchronize()
            return res.seed.cpu().numpy()
    else:
        from mmwsss.functional.crf import crf_seed
        device = torch.device('cpu')

        def call(item):
            return crf_seed(item['image'], item['maps'],
                            item['fg_cls']).seed

    per_image, conf = [], np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    raw_conf = np.zeros_like(conf)
    with PeakMemory(device) as mem:
        for item in inputs:
            call(item)  # warm-up
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                seed = call(item)
                times.append((time.perf_counter() - t0) * 1e3)
            print(f'{args.worker} {len(per_image) + 1}/{len(inputs)} '
                  f'{item["stem"]}: {np.median(times):.1f} ms',
                  file=sys.stderr, flush=True)
            conf += confusion(item['gt'], seed)
            raw_conf += confusion(item['gt'], raw_argmax(item))
            per_image.append(
                dict(
                    stem=item['stem'],
                    size=list(item['gt'].shape),
                    classes=int(len(item['fg_cls'])),
                    masks=int(len(item['levels'])),
                    levels=np.bincount(item['levels'],
                                       minlength=3).tolist(),
                    ms=float(np.median(times))))
    peak = dict(rss_mb=mem.rss_mib)
    if mem.cuda:
        peak['cuda_mb'] = mem.mib
    return dict(
        method=args.worker,
        device=str(device),
        threads=args.threads,
        images=per_image,
        peak=peak,
        miou=miou(conf),
        raw_miou=miou(raw_conf))


def raw_argmax(item: Dict) -> np.ndarray:
    """The maps' plain per-pixel argmax with bg = (1 - max)^alpha_raw=1."""
    import torch
    import torch.nn.functional as F
    maps = torch.as_tensor(item['maps']).float().cpu()
    h, w = item['gt'].shape
    if maps.shape[0] == 0:
        return np.zeros((h, w), np.uint8)
    up = F.interpolate(maps[None], (h, w), mode='bilinear',
                       align_corners=False)[0]
    scores = torch.cat([(1 - up.max(0, keepdim=True).values).clamp(min=0),
                        up])
    lut = np.concatenate([[0], item['fg_cls'] + 1])
    return lut[scores.argmax(0).numpy()].astype(np.uint8)


def spawn(args: argparse.Namespace, method: str) -> Dict:
    """Run one method in a fresh process and parse its JSON line."""
    argv = [
        '--worker', method, '--data-root', args.data_root, '--repeats',
        args.repeats, '--device', args.device, '--threads', args.threads,
        '--alpha', args.alpha, '--max-masks', args.max_masks, '--seed',
        args.seed
    ]
    if args.images is not None:
        argv += ['--images', args.images]
    return spawn_worker(
        osp.abspath(__file__), argv, method, threads=args.threads)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run both workers, print the table and the summary line."""
    args = parse_args(argv)
    if args.worker:
        emit_result(run_worker(args))
        return
    sams, crf = spawn(args, 'sams'), spawn(args, 'crf')
    print(f'SAMS on {sams["device"]} ({sams["threads"]} thread(s)), '
          f'alpha {args.alpha}; dense CRF (pydensecrf2, CLIP-ES '
          'parameters) on cpu, 1 thread. Median of '
          f'{args.repeats} runs per image after a warm-up.')
    head = (f'{"image":<22}{"H x W":>10}{"P":>3}{"S":>4}{"(w/p/s)":>11}'
            f'{"sams_ms":>10}{"crf_ms":>10}{"speedup":>9}')
    print(head)
    print('-' * len(head))
    for a, b in zip(sams['images'], crf['images']):
        lv = a['levels']
        print(f'{a["stem"]:<22}{a["size"][0]:>5}x{a["size"][1]:<4}'
              f'{a["classes"]:>3}{a["masks"]:>4}'
              f'{f"({lv[2]}/{lv[1]}/{lv[0]})":>11}'
              f'{a["ms"]:>10.2f}{b["ms"]:>10.1f}{b["ms"] / a["ms"]:>9.1f}')
    sams_ms = float(np.median([r['ms'] for r in sams['images']]))
    crf_ms = float(np.median([r['ms'] for r in crf['images']]))
    print('-' * len(head))
    print(f'peak memory above inputs: SAMS {sams["peak"]["rss_mb"]:.1f} MB '
          'RSS' + (f', {sams["peak"]["cuda_mb"]:.1f} MB CUDA'
                   if 'cuda_mb' in sams['peak'] else '') +
          f'; CRF {crf["peak"]["rss_mb"]:.1f} MB RSS')
    print(f'mIoU vs GT (sanity only, masks built from GT): raw argmax '
          f'{sams["raw_miou"]:.1f}, SAMS {sams["miou"]:.1f}, '
          f'CRF {crf["miou"]:.1f}')
    sams_peak = sams['peak'].get('cuda_mb', sams['peak']['rss_mb'])
    print(f'sams_peak_mib={sams_peak:.1f} '
          f'crf_peak_mib={crf["peak"]["rss_mb"]:.1f}')
    print(f'sams_ms={sams_ms:.3f} crf_ms={crf_ms:.3f} '
          f'speedup={crf_ms / sams_ms:.1f}')


if __name__ == '__main__':
    main()
