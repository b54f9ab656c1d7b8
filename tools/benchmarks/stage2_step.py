# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: one stage-2 training step (DeepLabV3+, Mask2Former).

``python tools/benchmarks/stage2_step.py [--models deeplabv3plus
mask2former] [--arch real|tiny] [--batch-size B] [--crop C] [--steps S]
[--warmup W] [--device cpu|cuda|auto] [--amp] [--threads T]``

The models are the stage-2 configs' (``--arch real``, default):

- ``deeplabv3plus``: ``configs/deeplabv3plus/deeplabv3plus_r101-d8_voc-
  pseudo.py`` (ResNet-101-D8, SGD lr 0.01), batch 16 (the paper's), crop
  512 x 512;
- ``mask2former``: ``configs/mask2former/mask2former_swin-l-in22k-384x384-pre_2xb2-80k_voc12aug-pseudo-512x512.py``
  (Swin-L, AdamW, grad clip), batch 4 (the paper's), crop 512 x 512;

with RANDOM weights (the pre-trained backbones are not loaded: they do not
change the amount of work). ``--arch tiny`` uses the CPU smoke models: the
demo's ResNet-18-tiny DeepLabV3+
(``..._r18-tiny_1xb4-800iter_voc-mini-pseudo-64x64.py``)
and a Mask2Former with a 1-block-per-stage Swin of width 32 and one
pixel-decoder / transformer-decoder layer (:data:`TINY_MASK2FORMER`), batch
2, crop 64. One step = ``model.train_step`` with the config's optim wrapper
(``--amp``: ``DeviceAmpOptimWrapper``, as ``tools/train.py --amp``: float16
+ dynamic loss scale on CUDA, bfloat16 on the CPU).

Inputs: the bundled ``data/voc_mini`` training images and their VOC ground
truth (standing in for the seeds), resized to the crop (bilinear / nearest),
cycled to fill the batches; built before the timed steps. Each model runs
in its own fresh process (``--worker``). Times: mean of ``--steps`` steps
after ``--warmup`` untimed ones; wall time on CUDA (synchronised), process
CPU time on the CPU. Peak memory above the level after the model, optimizer
and batches were built: ``max_memory_allocated`` on CUDA, RSS on the CPU.

One line per model, last: ``model=<name> step_s=<x> per_image_ms=<y>
peak_mib=<z>``.
"""
import argparse
import glob
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import REPO, time_train_steps  # noqa: E402
from bench_utils import add_train_step_arguments, emit_result  # noqa: E402
from bench_utils import is_cuda, resolve_device, spawn_worker  # noqa: E402

VOC_MINI = osp.join(REPO, 'data', 'voc_mini')
MODELS_ = ('deeplabv3plus', 'mask2former')
CONFIGS = dict(
    real=dict(
        deeplabv3plus='configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-80k_'
        'voc12aug-pseudo-512x512.py',
        mask2former='configs/mask2former/mask2former_swin-l-in22k-384x384-'
        'pre_2xb2-80k_voc12aug-pseudo-512x512.py'),
    tiny=dict(
        deeplabv3plus='configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb4-'
        '800iter_voc-mini-pseudo-64x64.py',
        mask2former='configs/mask2former/mask2former_swin-l-in22k-384x384-'
        'pre_2xb2-80k_voc12aug-pseudo-512x512.py'))
# the paper's batch sizes (suppl.: DeepLabV3+ 16, Mask2Former 4)
BATCH = dict(
    real=dict(deeplabv3plus=16, mask2former=4),
    tiny=dict(deeplabv3plus=2, mask2former=2))
CROP = dict(real=512, tiny=64)
# --arch tiny: the Swin-L Mask2Former config shrunk to a CPU smoke model
TINY_MASK2FORMER = {
    'backbone.embed_dims':
    32,
    'backbone.depths': [1, 1, 1, 1],
    'backbone.num_heads': [1, 2, 4, 8],
    'backbone.pretrain_img_size':
    64,
    'decode_head.in_channels': [32, 64, 128, 256],
    'decode_head.feat_channels':
    32,
    'decode_head.out_channels':
    32,
    'decode_head.num_queries':
    10,
    'decode_head.pixel_decoder.encoder.num_layers':
    1,
    'decode_head.pixel_decoder.encoder.layer_cfg.self_attn_cfg.embed_dims':
    32,
    'decode_head.pixel_decoder.encoder.layer_cfg.ffn_cfg.embed_dims':
    32,
    'decode_head.pixel_decoder.encoder.layer_cfg.ffn_cfg.'
    'feedforward_channels':
    64,
    'decode_head.pixel_decoder.positional_encoding.num_feats':
    16,
    'decode_head.positional_encoding.num_feats':
    16,
    'decode_head.transformer_decoder.num_layers':
    1,
    'decode_head.transformer_decoder.layer_cfg.self_attn_cfg.embed_dims':
    32,
    'decode_head.transformer_decoder.layer_cfg.cross_attn_cfg.embed_dims':
    32,
    'decode_head.transformer_decoder.layer_cfg.ffn_cfg.embed_dims':
    32,
    'decode_head.transformer_decoder.layer_cfg.ffn_cfg.'
    'feedforward_channels':
    64,
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models', nargs='+', choices=MODELS_, default=list(MODELS_))
    parser.add_argument('--arch', choices=('real', 'tiny'), default='real')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='default: the paper\'s (16 DeepLabV3+, 4 Mask2Former); tiny 2')
    parser.add_argument(
        '--crop', type=int, default=None, help='default: 512 (tiny: 64)')
    add_train_step_arguments(parser)
    parser.add_argument('--data-root', default=VOC_MINI)
    parser.add_argument('--worker', choices=MODELS_, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    if args.steps < 1:
        parser.error('--steps must be >= 1')
    return args


def build(args: argparse.Namespace):
    """Model (train mode, random weights) and optim wrapper of
    ``args.worker``."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmwsss.apis.mm_tools import AMP_WRAPPER
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[args.arch][args.worker]))
    model_cfg = cfg.model
    model_cfg.pretrained = None
    model_cfg.backbone.init_cfg = None
    if args.arch == 'tiny' and args.worker == 'mask2former':
        tiny = Config(dict(model=model_cfg))
        tiny.merge_from_dict({
            f'model.{k}': v
            for k, v in TINY_MASK2FORMER.items()
        })
        model_cfg = tiny.model
    crop = (args.crop, args.crop)
    model_cfg.data_preprocessor.size = crop
    model = MODELS.build(model_cfg).to(args.device)
    model.train()
    wrapper = dict(cfg.optim_wrapper)
    if args.amp:
        wrapper['type'] = AMP_WRAPPER
    return model, build_optim_wrapper(model, wrapper)


def make_batches(args: argparse.Namespace, n: int) -> List[Dict]:
    """``n`` batches of the training images and GT resized to the crop."""
    import mmcv
    import numpy as np
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    from PIL import Image
    gts = sorted(
        glob.glob(osp.join(args.data_root, 'SegmentationClass', '*.png')))
    if not gts:
        raise FileNotFoundError(
            f'no ground-truth PNGs in {args.data_root}/SegmentationClass')
    size = (args.crop, args.crop)
    samples = []
    for gt_file in gts:
        stem = osp.splitext(osp.basename(gt_file))[0]
        img = mmcv.imread(
            osp.join(args.data_root, 'JPEGImages', stem + '.jpg'))
        gt = np.array(Image.open(gt_file))  # palette PNG: class indices
        img = mmcv.imresize(img, size)
        gt = mmcv.imresize(gt, size, interpolation='nearest')
        samples.append((torch.from_numpy(img.transpose(2, 0, 1).copy()),
                        torch.from_numpy(gt.astype(np.int64))[None]))
    batches, k = [], 0
    for _ in range(n):
        inputs, data_samples = [], []
        for _ in range(args.batch_size):
            img, gt = samples[k % len(samples)]
            k += 1
            ds = SegDataSample(
                metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size))
            ds.gt_sem_seg = PixelData(data=gt.clone())
            inputs.append(img.clone())
            data_samples.append(ds)
        batches.append(dict(inputs=inputs, data_samples=data_samples))
    return batches


def run_worker(args: argparse.Namespace) -> Dict:
    """Time ``args.steps`` training steps of ``args.worker``."""
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, optim_wrapper = build(args)
    batches = make_batches(args, args.warmup + args.steps)
    walls, cpus, losses, mem = time_train_steps(model, optim_wrapper,
                                                batches, args.warmup, device,
                                                args.worker)
    step_s = float(np.mean(walls if mem.cuda else cpus))
    return dict(
        model=args.worker,
        device=str(device),
        batch_size=args.batch_size,
        crop=args.crop,
        wall_s=float(np.mean(walls)),
        cpu_s=float(np.mean(cpus)),
        step_s=step_s,
        per_image_ms=1e3 * step_s / args.batch_size,
        peak_mib=mem.mib,
        total_mib=mem.total_mib,
        losses=losses,
        params=sum(p.numel() for p in model.parameters()))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict]:
    """Run each model's worker; print one summary line per model.

    Returns:
        dict: ``{model: result}`` (``step_s``, ``per_image_ms``,
        ``peak_mib``, ...).
    """
    args = parse_args(argv)
    if args.crop is None:
        args.crop = CROP[args.arch]
    if args.worker:
        if args.batch_size is None:
            args.batch_size = BATCH[args.arch][args.worker]
        emit_result(run_worker(args))
        return {}
    cuda = is_cuda(args.device)
    print(f'stage-2 training steps, {args.arch} architectures with RANDOM '
          f'weights (the step time does not depend on them), on '
          f'{args.device} ({args.threads} thread(s))'
          f'{", --amp" if args.amp else ""}; crop {args.crop}; '
          f'{args.steps} timed step(s) after {args.warmup} warm-up(s).')
    results = {}
    for name in args.models:
        batch = args.batch_size or BATCH[args.arch][name]
        argv_w = [
            '--worker', name, '--arch', args.arch, '--batch-size', batch,
            '--crop', args.crop, '--steps', args.steps, '--warmup',
            args.warmup, '--device', args.device, '--threads', args.threads,
            '--data-root', args.data_root
        ] + (['--amp'] if args.amp else [])
        r = spawn_worker(
            osp.abspath(__file__), argv_w, name, threads=args.threads)
        results[name] = r
        print(f'{name}: batch {r["batch_size"]}, {r["params"] / 1e6:.1f} M '
              f'parameters: {r["wall_s"]:.2f} s wall, {r["cpu_s"]:.2f} s '
              f'CPU per step; peak {"CUDA" if cuda else "RSS"} '
              f'+{r["peak_mib"]:.0f} MiB; losses '
              f'{", ".join(f"{v:.3g}" for v in r["losses"])}')
    for name, r in results.items():
        print(f'model={name} step_s={r["step_s"]:.3f} '
              f'per_image_ms={r["per_image_ms"]:.1f} '
              f'peak_mib={r["peak_mib"]:.0f}')
    return results


if __name__ == '__main__':
    main()
