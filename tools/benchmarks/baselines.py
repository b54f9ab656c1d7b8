# Copyright (c) mmwsss contributors. All rights reserved.
"""Benchmark: per-image time and peak memory of the baseline pipelines.

``python tools/benchmarks/baselines.py [--images N] [--pipelines cam
sam_text zero_shot] [--arch tiny|real] [--device DEV] [--threads T]
[weights...]``

Each pipeline runs its config's model on the first N bundled VOC images
(data/voc_mini; train images for ``cam`` and ``sam_text``, val images for
``zero_shot``) in its own fresh process, so peak memories do not mix:

- ``cam``: classic CAM (configs/cam): CAMs of the labelled classes +
  threshold seeds;
- ``sam_text``: Grounding DINO boxes of the image's classes -> SAM masks ->
  seed (configs/sam_text/sam-text_gdino-swin-t_sam-vit-h_voc12aug.py);
- ``zero_shot``: CLIP tags -> classes -> the same
  (sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py).

``--arch tiny`` (default) uses the CPU smoke models of the tests (random
tiny ResNet, shrunk Grounding DINO, tiny BERT / SAM / CLIP; the tagger's
threshold is 0 there, so that the random CLIP's top-5 tags reach the
detector). ``--arch real``
uses the real architectures (ResNet-50 with IRN's 4 scales + flips, Grounding
DINO Swin-T with BERT-base, SAM ``--sam-type``, CLIP ViT-B/16), with the
weights given (``--cam-checkpoint``, ``--detector-checkpoint``, ``--bert``,
``--sam-checkpoint``, ``--clip-pretrained``) or random weights of the same
shapes, which time the same as the real ones (seeds are then meaningless).

Time: mean wall time of ``model.test_step`` per image (decoded images in
memory; preprocessing, all networks and seed painting included), after one
warm-up image; synchronised on GPU. Memory: the peak resident set size of
the worker process during the timed runs on CPU (model weights and
libraries included; ``above_base`` is the part above the level before
them), ``torch.cuda.max_memory_allocated`` on GPU (weights included;
``above_base`` the part above the level before the timed runs). Shared
CPUs make wall times noisy. One line per pipeline::

    pipeline=<name> per_image_ms=<x> peak_mib=<y>
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from bench_utils import REPO, PeakMemory, add_device_argument  # noqa: E402
from bench_utils import emit_result, is_cuda, resolve_device  # noqa: E402
from bench_utils import spawn_worker  # noqa: E402

PIPELINES = ('cam', 'sam_text', 'zero_shot')
_MIB = float(1 << 20)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--pipelines', nargs='+', choices=PIPELINES, default=list(PIPELINES))
    parser.add_argument('--images', type=int, default=3)
    parser.add_argument('--arch', choices=('tiny', 'real'), default='tiny')
    add_device_argument(parser)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data', 'voc_mini'))
    parser.add_argument('--cam-checkpoint', help='CAMClassifier weights')
    parser.add_argument(
        '--detector-checkpoint',
        help='groundingdino_swint_ogc_mmdet-822d7e9d.pth')
    parser.add_argument('--bert', help='local bert-base-uncased folder')
    parser.add_argument('--sam-type', default='vit_h')
    parser.add_argument('--sam-checkpoint', help='e.g. sam_vit_h_4b8939.pth')
    parser.add_argument(
        '--clip-pretrained',
        help="open_clip tag or local file (e.g. 'openai')")
    parser.add_argument('--worker', choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument('--scratch', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _tiny_parts(Config):
    return Config.fromfile(
        osp.join(REPO, 'configs', 'sam_text',
                 'sam-text_tiny_voc-mini.py')).model


def pipeline_config(name: str, args: argparse.Namespace):
    """The pipeline's config, shrunk or with real architectures."""
    from mmengine.config import Config
    cfgs = osp.join(REPO, 'configs')
    if name == 'cam':
        if args.arch == 'tiny':
            cfg = Config.fromfile(osp.join(
                cfgs, 'cam', 'cam_r18-tiny_1xb2-20iter_voc-mini-128x128.py'))
        else:
            cfg = Config.fromfile(osp.join(
                cfgs, 'cam', 'cam_r50_1xb16-3310iter_voc12aug-512x512.py'))
            cfg.model.backbone.init_cfg = None
        split = 'train'
    else:
        base = ('sam-text_gdino-swin-t_sam-vit-h_voc12aug.py'
                if name == 'sam_text' else
                'sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py')
        cfg = Config.fromfile(osp.join(cfgs, 'sam_text', base))
        if args.arch == 'tiny':
            for key, value in _tiny_parts(Config).items():
                cfg.model[key] = value
            cfg.model.detector.language_model.name = osp.join(
                args.scratch, 'tiny_bert')
            if name == 'zero_shot':  # random CLIP: no tag reaches 0.1
                cfg.model.tagger.clip.update(
                    model_name='mmwsss-tiny-ViT-16', pretrained=None)
                cfg.model.tagger.threshold = 0.
        else:
            m = cfg.model
            m.detector_checkpoint = args.detector_checkpoint
            m.detector_random_init = args.detector_checkpoint is None
            if args.bert is None:
                from mmwsss.class_names import get_dataset_info
                from mmwsss.testing import write_tiny_bert
                info = get_dataset_info('voc')
                args.bert = write_tiny_bert(
                    osp.join(args.scratch, 'bert_base_random'),
                    info['text_names'] + info['tag_vocabulary'],
                    hidden_size=768,
                    num_layers=12,
                    num_heads=12)
            m.detector.language_model.name = args.bert
            m.sam = dict(
                model_type=args.sam_type,
                checkpoint=args.sam_checkpoint,
                random_init=args.sam_checkpoint is None)
            if name == 'zero_shot':
                m.tagger.clip.pretrained = args.clip_pretrained
        split = 'train' if name == 'sam_text' else 'val'
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.update(
        data_root=args.data_root,
        label_cache=None,
        ann_file=f'ImageSets/Segmentation/{split}.txt',
        seg_map_fallback=[],
        indices=args.images)
    return cfg


def run_worker(args: argparse.Namespace) -> Dict:
    """Build one pipeline, time it image by image, return the numbers."""
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import load_checkpoint

    import mmwsss.registration  # noqa: F401  (stack additions + registries)
    from mmseg.registry import MODELS

    torch.set_num_threads(args.threads)
    init_default_scope('mmseg')
    cfg = pipeline_config(args.worker, args)
    model = MODELS.build(cfg.model)
    if args.worker == 'cam':
        if args.cam_checkpoint:
            load_checkpoint(model, args.cam_checkpoint, map_location='cpu')
        else:
            model.init_weights()
    model = model.to(args.device).eval()
    batches = list(Runner.build_dataloader(cfg.test_dataloader))
    cuda = is_cuda(args.device)

    def step(batch):
        with torch.no_grad():
            model.test_step(batch)
        if cuda:
            torch.cuda.synchronize(args.device)

    step(batches[0])  # warm-up
    times: List[float] = []
    with PeakMemory(args.device) as mem:
        for batch in batches:
            start = time.perf_counter()
            step(batch)
            times.append(time.perf_counter() - start)
            print(
                f'[{args.worker}] image {len(times)}/{len(batches)}: '
                f'{times[-1] * 1e3:.0f} ms',
                file=sys.stderr,
                flush=True)
    return dict(
        pipeline=args.worker,
        images=len(times),
        per_image_ms=1e3 * sum(times) / len(times),
        peak_mib=mem.total_mib if cuda else mem.rss.peak / _MIB,
        above_base_mib=mem.mib,
        arch=args.arch,
        device=args.device)


def spawn(args: argparse.Namespace, name: str) -> Dict:
    """Run one pipeline in a fresh process and parse its JSON line."""
    argv = args.argv + ['--worker', name, '--scratch', args.scratch]
    return spawn_worker(
        osp.abspath(__file__), argv, name, threads=args.threads)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    """Run the chosen pipelines; print one summary line each."""
    args = parse_args(argv)
    if args.worker is not None:
        emit_result(run_worker(args))
        return []
    results = []
    with tempfile.TemporaryDirectory(prefix='mmwsss_bench_') as scratch:
        args.scratch = scratch
        for name in args.pipelines:
            res = spawn(args, name)
            results.append(res)
            print(
                f'pipeline={name} per_image_ms={res["per_image_ms"]:.1f} '
                f'peak_mib={res["peak_mib"]:.0f}',
                flush=True)
    return results


if __name__ == '__main__':
    main()
