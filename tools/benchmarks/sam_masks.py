# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: FMA-WSSS quasi-superpixel generation vs the stock AMG, for
each mask generator family.

``python tools/benchmarks/sam_masks.py [--generator sam|sam_hq|sam2|sam3|
felzenszwalb]
[--image PATH] [--model-type T] [--points-per-side N] [--crop-n-layers 1]
[--repeats R] [--device DEV] [--no-stock] [--no-warmup]``

``--generator`` picks the family (default ``sam``); ``--model-type``
defaults to ``vit_b`` for SAM and to the size its config uses for the others
(SAM-HQ ``vit_h``, SAM 2 ``sam2.1_hiera_l``, SAM 3 ``sam3``). Ours and the
family's stock automatic mask generator (segment-anything's, HQ-SAM's,
SAM 2's; SAM 3 has none: it is always ``--no-stock``) run the same
architecture with the same random weights (``random_init``, seed 0; no
checkpoint needed) on the same image with the same AMG parameters; ours adds
FMA-WSSS's three changes (level-wise IoU offset, whole-first NMS, whole >
part > sub-part filter). SAM 3 runs its concept vocabulary (the 20 VOC class
names + 25 background names on one image embedding) twice: one
grounding pass per prompt (``--prompt-batch-size 1``, the path before
batching) and all prompts batched (``--prompt-batch-size``, default the
generator's); the vocabulary's text features (cached once per dataset) are
computed before the timed runs. ``felzenszwalb`` is the weight-free CPU
generator of ``configs/sams/felzenszwalb.py`` (no model, no stock, no image
encoder). Each generator runs in its own fresh process (``--worker``), so
the peak memory of one is not polluted by the other:

- time: mean wall time of ``repeats`` full generations of the image
  (``generate_record`` for ours, ``generate`` with uncompressed RLE output
  for stock), after a warm-up (one image embedding + one prompt batch);
  the image-encoder share (``set_image``) is reported separately. On GPU
  this is wall time (synchronised); on CPU it is the process's CPU time
  (all threads), because on a shared machine other jobs inflate wall time
  by tens of percent, differently for the two runs (wall time is printed
  too);
- memory: peak CUDA memory allocated during the timed runs on GPU; on CPU
  the peak resident set size above the level before the timed runs
  (sampled every 10 ms).

Random weights give masks unlike real SAM's: predicted IoUs near 0 and mask
logits near 0 (noisy masks, stability 0 at the default logit offset 1.0).
So that masks pass the filters and every stage (thresholds, NMS,
post-processing, our level filter) does real work, BOTH generators use
``pred_iou_thresh=0.02``, ``stability_score_thresh=0.8`` and
``stability_score_offset=0.01`` instead of 0.86 / 0.92 / 1.0; everything
else is the paper's configuration. Even so, random masks are noise that
spans the image, so NMS leaves about one mask per image: the level filter
is therefore also timed alone on 120 synthetic masks (about what real SAM
keeps on a VOC image). On CPU the prompt grid defaults to 8 per side (the
paper: 32) because one ViT-B embedding already takes ~25 s there; the
output says so. Timings on a shared CPU are noisy: compare runs taken on an
idle machine (or a GPU).

``--no-warmup`` skips the warm-up (on CPU at the real sizes it costs one
more image embedding of up to minutes).

The last two lines are ``ours_peak_mib=<float> stock_peak_mib=<float>``
(CUDA peak on a GPU, RSS peak on the CPU) and ``ours_s=<float>
stock_s=<float> ratio=<float>``; with ``--no-stock`` the last line is
``ours_s=<float> rss_peak_mib=<float>`` (plus ``cuda_peak_mib=<float>`` on
a GPU). For ``sam3`` the last two lines are ``per_prompt_peak_mib=<float>
batched_peak_mib=<float>`` and ``per_prompt_s=<float> batched_s=<float>
speedup=<float>`` (seconds per image, image encoder included).
"""
import argparse
import json
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import REPO, resolve_device, spawn_worker  # noqa: E402

DEFAULT_IMAGE = osp.join(REPO, 'data', 'voc_mini', 'JPEGImages',
                         '2007_000032.jpg')

#: family -> (registered generator, default model_type)
GENERATORS = {
    'sam': ('SAMQuasiSuperpixelGenerator', 'vit_b'),
    'sam_hq': ('SAMHQQuasiSuperpixelGenerator', 'vit_h'),
    'sam2': ('SAM2QuasiSuperpixelGenerator', 'sam2.1_hiera_l'),
    'sam3': ('SAM3QuasiSuperpixelGenerator', 'sam3'),
    'felzenszwalb': ('FelzenszwalbQuasiSuperpixelGenerator', 'none'),
}
#: The weight-free generator's settings (its config's ``sam_generator``).
FELZENSZWALB_CONFIG = osp.join(REPO, 'configs', 'sams', 'felzenszwalb.py')

# The same for both generators (see the module docstring).
LOWERED = dict(
    pred_iou_thresh=0.02,
    stability_score_thresh=0.8,
    stability_score_offset=0.01)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--generator', choices=list(GENERATORS), default='sam')
    parser.add_argument('--image', default=DEFAULT_IMAGE)
    parser.add_argument(
        '--model-type', default=None, help='default: see the docstring')
    parser.add_argument(
        '--device',
        default='auto',
        help='cpu, cuda[:N] or auto (default: cuda if available)')
    parser.add_argument(
        '--points-per-side',
        type=int,
        default=None,
        help='default: 32 on GPU, 8 on CPU')
    parser.add_argument('--points-per-batch', type=int, default=64)
    parser.add_argument('--crop-n-layers', type=int, default=1)
    parser.add_argument(
        '--repeats', type=int, default=None, help='default: 3 GPU, 1 CPU')
    parser.add_argument(
        '--no-stock',
        action='store_true',
        help='time ours only (always for sam3)')
    parser.add_argument(
        '--no-warmup', action='store_true', help='skip the warm-up')
    parser.add_argument(
        '--prompt-batch-size',
        type=int,
        default=None,
        help='sam3: prompts per batched pass (default: the generator\'s)')
    parser.add_argument(
        '--worker', choices=['ours', 'stock'], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.model_type is None:
        args.model_type = GENERATORS[args.generator][1]
    if args.generator in ('sam3', 'felzenszwalb'):
        args.no_stock = True
    return args


def build_ours(args: argparse.Namespace, params: Dict) -> object:
    """Our generator of ``args.generator`` with random weights."""
    from mmseg.registry import MODELS
    if args.generator == 'felzenszwalb':
        from mmengine.config import Config
        cfg = Config.fromfile(FELZENSZWALB_CONFIG).sam_generator.to_dict()
        return MODELS.build(cfg)
    cfg = dict(
        type=GENERATORS[args.generator][0],
        model_type=args.model_type,
        random_init=True,
        seed=0,
        device=args.device)
    if args.generator == 'sam3':
        cfg.update(min_mask_region_area=params['min_mask_region_area'])
        if args.prompt_batch_size is not None:
            cfg.update(prompt_batch_size=args.prompt_batch_size)
    else:
        cfg.update(params)  # the paper's offsets and t_r = 0.3 by default
    return MODELS.build(cfg)


def build_stock(args: argparse.Namespace, ours: object, params: Dict):
    """The family's own automatic mask generator on ours' model."""
    model = ours.predictor.model
    if args.generator == 'sam':
        from segment_anything import SamAutomaticMaskGenerator as AMG
    elif args.generator == 'sam_hq':
        from segment_anything_hq import SamAutomaticMaskGenerator as AMG
    else:
        from sam2.automatic_mask_generator import \
            SAM2AutomaticMaskGenerator as AMG
    stock = AMG(model, output_mode='uncompressed_rle', **params)
    if args.generator == 'sam2':
        stock.predictor._bb_feat_sizes = ours.predictor._bb_feat_sizes
    return stock


def embed_hook(gen: object, ours: bool) -> Optional[tuple]:
    """(owner, attribute name) of the image-embedding call to time (None
    for a generator without one: the weight-free one)."""
    if not hasattr(gen, 'segmenter') and not hasattr(gen, '_embed') and \
            not hasattr(gen, 'predictor'):
        return None
    if hasattr(gen, 'segmenter'):
        return gen.segmenter, 'embed'
    return (gen, '_embed') if ours else (gen.predictor, 'set_image')


def warm_up(gen: object, ours: bool, image, points_per_batch: int) -> None:
    """One image embedding and one prompt batch (or one text prompt)."""
    import numpy as np
    if embed_hook(gen, ours) is None:
        gen.generate_record(image)
        return
    if hasattr(gen, 'segmenter'):
        gen.segmenter.segment(gen.segmenter.embed(image), gen.prompts[0])
        return
    owner, name = embed_hook(gen, ours)
    getattr(owner, name)(image)
    size = image.shape[:2]
    points = gen.point_grids[0][:points_per_batch] * np.array(
        image.shape[1::-1])[None]
    box = [0, 0, image.shape[1], image.shape[0]]
    if ours:
        gen._predict_levels(points, size)
        gen._release()
    else:
        gen._process_batch(points, size, box, size)
        reset = getattr(gen.predictor, 'reset_image', None) or \
            gen.predictor.reset_predictor
        reset()


def amg_params(args: argparse.Namespace) -> Dict:
    """The mask-generator settings both generators get."""
    return dict(
        points_per_side=args.points_per_side,
        points_per_batch=args.points_per_batch,
        box_nms_thresh=0.7,
        crop_n_layers=args.crop_n_layers,
        crop_nms_thresh=0.7,
        crop_overlap_ratio=512 / 1500,
        crop_n_points_downscale_factor=2,
        min_mask_region_area=100,
        **LOWERED)


def make_clock(device) -> Callable[[], float]:
    """The clock of the timings on ``device`` (a torch.device).

    GPU: wall time after a sync; CPU: this process's CPU time, which other
    jobs on a shared machine do not inflate the way they do wall time.
    """
    import torch
    cuda = device.type == 'cuda'

    def clock() -> float:
        if cuda:
            torch.cuda.synchronize(device)
            return time.perf_counter()
        return time.process_time()

    return clock


def time_image_encoder(gen: object, ours: bool,
                       clock: Callable[[], float]) -> List[float]:
    """Wrap the image-embedding call of ``gen`` (see :func:`embed_hook`)
    so that the seconds of each call are appended to the returned list."""
    encoder_s: List[float] = []
    hook = embed_hook(gen, ours)
    if hook is None:
        return encoder_s
    owner, name = hook
    embed = getattr(owner, name)

    def timed_embed(image, *a, **k):
        t0 = clock()
        out = embed(image, *a, **k)
        encoder_s.append(clock() - t0)
        return out

    setattr(owner, name, timed_embed)
    return encoder_s


def timed_runs(run: Callable, image, repeats: int, device,
               clock: Callable[[], float],
               encoder_s: List[float]) -> Tuple[Dict[str, float], object]:
    """Run ``run(image)`` ``repeats`` times under the memory probes.

    Returns:
        tuple: The numbers (mean ``time_s`` / ``wall_s`` / ``encoder_s``
        per image, ``masks``, ``rss_peak_mib`` and on CUDA
        ``cuda_peak_mib``) and the last output.
    """
    import numpy as np
    import torch

    from mmwsss.utils.profiling import RSSPeak
    cuda = device.type == 'cuda'
    times, walls, n_masks = [], [], 0
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base_mem = torch.cuda.memory_allocated(device)
    with RSSPeak() as rss:
        for _ in range(repeats):
            w0, t0 = time.perf_counter(), clock()
            out = run(image)
            times.append(clock() - t0)
            walls.append(time.perf_counter() - w0)
            n_masks = len(out)
    result = dict(
        time_s=float(np.mean(times)),
        wall_s=float(np.mean(walls)),
        encoder_s=float(np.sum(encoder_s) / repeats),
        masks=n_masks,
        rss_peak_mib=(rss.peak - rss.base) / 2**20)
    if cuda:
        result['cuda_peak_mib'] = (torch.cuda.max_memory_allocated(device) -
                                   base_mem) / 2**20
    return result, out


def worker(args: argparse.Namespace) -> Dict[str, float]:
    """Time one generator (in this fresh process); returns the numbers."""
    import mmcv
    import numpy as np
    import torch

    import mmwsss.registration  # noqa: F401  (stack additions + registries)

    params = amg_params(args)
    ours = build_ours(args, params)
    if args.worker == 'ours':
        gen, run = ours, ours.generate_record
    else:
        gen = build_stock(args, ours, params)
        run = gen.generate
    device = torch.device(ours.device)
    clock = make_clock(device)
    # time the image encoder separately
    encoder_s = time_image_encoder(gen, args.worker == 'ours', clock)

    image = mmcv.imread(args.image, channel_order='rgb')
    if hasattr(gen, 'segmenter'):  # text features: once per vocabulary
        gen.segmenter.text_features(gen.prompts)
    if not args.no_warmup:
        with torch.no_grad():
            warm_up(gen, args.worker == 'ours', image, args.points_per_batch)
    encoder_s.clear()

    result, out = timed_runs(run, image, args.repeats, device, clock,
                             encoder_s)
    if args.worker == 'ours':
        levels = np.bincount(out.levels.astype(np.int64), minlength=3)[:3]
        result['levels'] = levels.tolist()
    return result


def filter_benchmark(n_masks: int = 120,
                     size: tuple = (375, 500),
                     repeats: int = 5) -> Dict[str, float]:
    """Time the level filter (ours' only non-trivial extra stage) alone.

    Random weights leave few masks after NMS, so this measures the filter
    (RLE decode + occupation products) on ``n_masks`` synthetic ellipses, a
    third per level, about what real SAM keeps on a VOC image.

    Returns:
        dict: ``filter_ms`` (mean over ``repeats``) and ``kept``.
    """
    import cv2
    import numpy as np
    import torch
    from segment_anything.utils.amg import MaskData, mask_to_rle_pytorch

    from mmwsss.models.sams import SAMQuasiSuperpixelGenerator
    rng = np.random.default_rng(0)
    h, w = size
    masks = np.zeros((n_masks, h, w), np.uint8)
    levels = np.arange(n_masks) % 3
    for i in range(n_masks):
        scale = (0.3, 0.15, 0.07)[2 - levels[i]]  # wholes are larger
        axes = (int(w * scale * rng.uniform(0.3, 1)),
                int(h * scale * rng.uniform(0.3, 1)))
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.ellipse(masks[i], centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    1, -1)
    rles = mask_to_rle_pytorch(torch.from_numpy(masks.astype(bool)))
    gen = SAMQuasiSuperpixelGenerator(model_type='tiny', device='cpu')
    times = []
    for _ in range(repeats + 1):  # the first run is a warm-up
        data = MaskData(rles=list(rles), levels=levels.copy())
        t0 = time.perf_counter()
        data = gen.filter_levels(data)
        times.append(time.perf_counter() - t0)
    return dict(
        filter_ms=1000 * float(np.mean(times[1:])), kept=len(data['rles']))


def worker_arguments(args: argparse.Namespace) -> List[str]:
    """The command-line options both workers get."""
    return [
        '--generator', args.generator, '--image', args.image, '--model-type',
        args.model_type, '--device', args.device, '--points-per-side',
        str(args.points_per_side), '--points-per-batch',
        str(args.points_per_batch), '--crop-n-layers',
        str(args.crop_n_layers), '--repeats',
        str(args.repeats)
    ] + (['--no-warmup'] if args.no_warmup else []) + ([
        '--prompt-batch-size',
        str(args.prompt_batch_size)
    ] if args.prompt_batch_size is not None else [])


def setup_line(args: argparse.Namespace) -> str:
    """The first output line: generator, device, image and settings."""
    if args.generator == 'felzenszwalb':
        setup = f'weight-free, the settings of {FELZENSZWALB_CONFIG}'
    elif args.generator == 'sam3':
        setup = ('the VOC concept vocabulary (45 text prompts), '
                 'min_mask_region_area 100')
    else:
        setup = (f'points_per_side {args.points_per_side}'
                 f'{"" if args.points_per_side == 32 else " (paper: 32)"}'
                 f', points_per_batch {args.points_per_batch}, crop_n_layers'
                 f' {args.crop_n_layers}, min_mask_region_area 100; '
                 'thresholds lowered for random weights, identically for '
                 f'both: {LOWERED}')
    model = ('' if args.generator == 'felzenszwalb' else
             f' {args.model_type} (random weights, seed 0)')
    return (f'{args.generator}{model} '
            f'on {args.device}; image {args.image}; {setup}; {args.repeats} '
            f'timed run(s){"" if args.no_warmup else " after a warm-up"}.')


def result_line(name: str, r: Dict, unit: str) -> str:
    """One worker's numbers as an output line."""
    mem = (f'cuda peak +{r["cuda_peak_mib"]:.0f} MiB, '
           if 'cuda_peak_mib' in r else '')
    levels = (f' (sub-part/part/whole {r["levels"]})' if 'levels' in r else '')
    rest_s = r['time_s'] - r['encoder_s']
    return (f'{name:>5}: {r["time_s"]:.2f} {unit}/image (wall '
            f'{r["wall_s"]:.2f} s; image encoder {r["encoder_s"]:.2f}, '
            f'rest {rest_s:.2f}), {mem}RSS peak '
            f'+{r["rss_peak_mib"]:.0f} MiB, {r["masks"]} masks{levels}')


def print_comparison(results: Dict[str, Dict]) -> None:
    """The ratio without the image encoder, the level filter alone and the
    summary lines (peaks, times, ratio) of ours vs stock."""
    ours = results['ours']
    ours_s, stock_s = ours['time_s'], results['stock']['time_s']
    rest = ((ours_s - ours['encoder_s']) /
            max(stock_s - results['stock']['encoder_s'], 1e-9))
    print(f'without the image encoder: ratio {rest:.3f}')
    fb = filter_benchmark()
    print(f'level filter alone (CPU, 120 synthetic masks of 375x500, '
          f'{fb["kept"]} kept): {fb["filter_ms"]:.1f} ms/image')
    peak = {
        n: r.get('cuda_peak_mib', r['rss_peak_mib'])
        for n, r in results.items()
    }
    print(f'ours_peak_mib={peak["ours"]:.1f} '
          f'stock_peak_mib={peak["stock"]:.1f}')
    print(f'ours_s={ours_s:.4f} stock_s={stock_s:.4f} '
          f'ratio={ours_s / stock_s:.4f}')


def compare_prompt_batching(args: argparse.Namespace, unit: str) -> None:
    """SAM 3: one pass per prompt vs the prompts batched, each worker in
    its own process; prints both and the summary lines."""
    results = {}
    batched = args.prompt_batch_size
    for name, size in (('per_prompt', 1), ('batched', batched)):
        wargs = argparse.Namespace(**vars(args))
        wargs.prompt_batch_size = size
        results[name] = spawn_worker(
            osp.abspath(__file__),
            ['--worker', 'ours'] + worker_arguments(wargs),
            name,
            quiet=True)
        label = 'one pass per prompt' if size == 1 else (
            f'batched ({size or "default"} per pass)')
        print(f'{label}: ' + result_line('ours', results[name], unit))
    per, bat = results['per_prompt'], results['batched']
    rest = ((per['time_s'] - per['encoder_s']) /
            max(bat['time_s'] - bat['encoder_s'], 1e-9))
    print(f'without the image encoder: speedup {rest:.2f}')
    peak = {
        n: r.get('cuda_peak_mib', r['rss_peak_mib'])
        for n, r in results.items()
    }
    print(f'per_prompt_peak_mib={peak["per_prompt"]:.1f} '
          f'batched_peak_mib={peak["batched"]:.1f}')
    print(f'per_prompt_s={per["time_s"]:.4f} batched_s={bat["time_s"]:.4f} '
          f'speedup={per["time_s"] / max(bat["time_s"], 1e-9):.2f}')


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run both workers and print the comparison."""
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    on_gpu = args.device != 'cpu'
    if args.points_per_side is None:
        args.points_per_side = 32 if on_gpu else 8
    if args.repeats is None:
        args.repeats = 3 if on_gpu else 1

    if args.worker:
        print(json.dumps(worker(args)))
        return

    print(setup_line(args))
    unit = 's' if args.device.startswith('cuda') else 'CPU-s'
    if args.generator == 'sam3':
        compare_prompt_batching(args, unit)
        return
    results = {}
    names = ('ours', ) if args.no_stock else ('stock', 'ours')
    for name in names:
        results[name] = spawn_worker(
            osp.abspath(__file__), ['--worker', name] + worker_arguments(args),
            name,
            quiet=True)
        print(result_line(name, results[name], unit))
    if args.no_stock:
        ours = results['ours']
        cuda = (f' cuda_peak_mib={ours["cuda_peak_mib"]:.1f}'
                if 'cuda_peak_mib' in ours else '')
        print(f'ours_s={ours["time_s"]:.4f} '
              f'rss_peak_mib={ours["rss_peak_mib"]:.1f}{cuda}')
        return
    print_comparison(results)


if __name__ == '__main__':
    main()
