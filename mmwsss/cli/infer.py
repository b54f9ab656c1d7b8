"""``mmwsss-infer IMG_OR_DIR --classes dog,cat [--config C --checkpoint P]
[--out DIR] [--gt DIR]``: text to semantic mask for any photo
(:class:`mmwsss.apis.inferencer.WSSSInferencer`).

Examples::

    # training-free CLIP-ES (the configured CLIP; the tiny random one
    # without weights, said loudly)
    mmwsss-infer photos/ --classes dog,cat --out masks/
    # a trained FMA-WSSS prompt checkpoint with its seed config
    mmwsss-infer photo.jpg --classes dog,person \\
        --config mmwsss::fma/voc_seeds.py --checkpoint iter_40.pth

Writes ``<out>/<stem>.png`` (class indices: 0 background, 1..C in the
order of ``--classes``) and ``<out>/overlays/<stem>.jpg``; a rerun skips
images whose PNG is there unless ``--overwrite``. With ``--gt DIR``
(``<stem>.png`` masks in the same indices, 255 ignored) it prints mIoU and
the IoU of each class.
"""
import argparse
import os.path as osp
from typing import List, Optional

__all__ = ['parse_args', 'main', 'console']

BANNER = ('!' * 72 + '\n!!! {what}: RANDOM weights (no weights '
          'configured); the masks are\n!!! meaningless -- a smoke test of '
          'the plumbing only.\n' + '!' * 72)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='mmwsss-infer',
        description='Semantic masks of images from class names')
    parser.add_argument('inputs', help='an image or a folder of images')
    parser.add_argument(
        '--classes',
        default=None,
        help='comma-separated class names (output indices 1..C in this '
        'order); an FMA-WSSS checkpoint: default all trained classes')
    parser.add_argument(
        '--labels',
        default=None,
        help='comma-separated classes present in every image (default: '
        'all --classes for CLIP-ES, the cls prompts\' prediction for '
        'FMA-WSSS)')
    parser.add_argument('--threshold', type=float, default=0.5,
                        help='presence threshold of the cls prompts')
    parser.add_argument('--config', default=None,
                        help='FMA-WSSS seed config (none: CLIP-ES)')
    parser.add_argument('--checkpoint', default=None,
                        help='prompt checkpoint of --config')
    parser.add_argument(
        '--route',
        choices=('clip_es', 'sam3', 'sam_text'),
        default=None,
        help='training-free route without --config (default clip_es; '
        'sam3: SAM 3 concept seeds; sam_text: Grounding DINO boxes + SAM; '
        'tiny random models when their weights are not on disk)')
    parser.add_argument(
        '--sam-generator',
        default=None,
        help='quasi-superpixel generator config for the SAMS seed, e.g. '
        'mmwsss::sams/felzenszwalb.py or mmwsss::sams/sam_tiny.py')
    parser.add_argument('--mask-dir', default=None,
                        help='SAM mask cache to use and fill')
    parser.add_argument('--out', default=None, help='output folder')
    parser.add_argument('--overwrite', action='store_true',
                        help='recompute images finished in --out')
    parser.add_argument('--gt', default=None,
                        help='folder of <stem>.png ground-truth masks')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def _names(text: Optional[str]) -> Optional[List[str]]:
    if text is None:
        return None
    return [c.strip() for c in text.split(',') if c.strip()]


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the command.

    Returns:
        dict: ``done``, ``skipped``, ``out`` and, with ``--gt``, ``mIoU``
        and ``IoU`` (percent, by class name).

    Raises:
        InferenceError: Bad input (:func:`console` makes it one line).
    """
    args = parse_args(argv)
    from mmwsss.apis.inferencer import InferenceError, WSSSInferencer
    if not osp.exists(args.inputs):
        raise InferenceError(f'no such image or folder: {args.inputs}')
    if args.gt is not None and not osp.isdir(args.gt):
        raise InferenceError(f'--gt: no such folder: {args.gt}')
    classes = _names(args.classes)
    inf = WSSSInferencer(
        args.config,
        args.checkpoint,
        classes=classes,
        device=args.device,
        sam_generator=args.sam_generator,
        mask_dir=args.mask_dir,
        route=args.route,
        show_progress=True)
    if inf.random_weights:
        what = {'clip_es': 'CLIP-ES route', 'sam3': 'SAM 3 route',
                'sam_text': 'Grounding DINO + SAM route'}.get(
            inf.route, 'FMA-WSSS model')
        print(BANNER.format(what=what), flush=True)
    results = inf(
        args.inputs,
        classes=classes,
        labels=_names(args.labels),
        threshold=args.threshold,
        return_vis=args.out is not None,
        out_dir=args.out,
        overwrite=args.overwrite)
    report = dict(
        done=sum(1 for r in results if not r.get('skipped')),
        skipped=sum(1 for r in results if r.get('skipped')),
        out=args.out)
    print(f'mmwsss-infer: {report["done"]} image(s) done, '
          f'{report["skipped"]} already finished'
          + (f', masks in {args.out}' if args.out else ''))
    if args.gt is not None:
        names = classes or inf.trained_classes
        report.update(_score(results, args.gt, args.out, names))
    return report


def _score(results: list, gt_dir: str, out_dir: Optional[str],
           names: List[str]) -> dict:
    """mIoU and per-class IoU (percent) of the masks against ``gt_dir``."""
    import numpy as np
    from PIL import Image

    from mmwsss.apis.inferencer import InferenceError
    from mmwsss.evaluation.seed_scores import (scores_from_confusion,
                                               seed_confusion)
    classes = ['background'] + list(names)
    conf = np.zeros((len(classes), len(classes) + 1), np.int64)
    for r in results:
        gt_file = osp.join(gt_dir, r['name'] + '.png')
        if not osp.isfile(gt_file):
            raise InferenceError(f'--gt: no mask {gt_file}')
        gt = np.array(Image.open(gt_file))
        if 'mask' in r:
            pred = r['mask']
        else:  # finished earlier: read back
            pred = np.array(Image.open(osp.join(out_dir, r['name'] + '.png')))
        if gt.shape != pred.shape:
            raise InferenceError(f'{gt_file} is {gt.shape[:2]}, the image '
                                 f'{pred.shape[:2]}')
        conf += seed_confusion(pred, gt, len(classes))
    scores = scores_from_confusion(conf)
    iou = {c: float(v) * 100 for c, v in zip(classes, scores['IoU'])}
    miou = float(scores['mIoU']) * 100
    print(f'{"class":<20}{"IoU":>8}')
    for c, v in iou.items():
        print(f'{c:<20}{v:>8.2f}')
    print(f'{"mIoU":<20}{miou:>8.2f}')
    return dict(mIoU=miou, IoU=iou)


def console(argv: Optional[List[str]] = None) -> None:
    """:func:`main` with a bad input ending the process in one line."""
    from mmwsss.apis.inferencer import InferenceError

    from ._mm import one_line_errors
    one_line_errors(main, argv, (InferenceError, FileNotFoundError))


if __name__ == '__main__':
    console()
