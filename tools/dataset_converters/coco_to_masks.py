# Copyright (c) mmwsss contributors. All rights reserved.
"""COCO instances JSON -> one class-index PNG per image (WSSS ground truth).

Usage::

    python tools/dataset_converters/coco_to_masks.py \\
        data/coco2014/annotations/instances_train2014.json \\
        data/coco2014/SegmentationClass/train2014 --nproc 8
    python tools/dataset_converters/coco_to_masks.py \\
        data/coco2014/annotations/instances_val2014.json \\
        data/coco2014/SegmentationClass/val2014 --nproc 8

Each image gets ``<out_dir>/<image stem>.png``: a palette PNG (VOC colour
map) whose pixel values are 0 = background, 1..80 = the COCO classes in the
order of ``mmwsss.class_names.COCO_CLASSES``, 255 = ignore. The rule
(:mod:`mmwsss.datasets.coco_masks`): instances are painted from the largest
to the smallest (smaller objects in front); crowd regions not covered by an
instance are 255 (``--crowd-as-label``: their class); ``--ignore-overlap``
sets pixels where instances of different classes overlap to 255. Images
without annotations get an all-background PNG (the dataset skips them by
default).

Writes are atomic (temporary file + rename); existing PNGs are skipped, so
an interrupted run resumes where it stopped (``--overwrite`` redoes all).
"""
import argparse
import multiprocessing
import os
import os.path as osp
import sys
from functools import partial
from typing import List, Optional, Sequence, Tuple

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


from mmwsss.datasets.coco_masks import coco_semantic_mask  # noqa: E402
from mmwsss.io import is_done, write_seed_png  # noqa: E402
from mmwsss.utils.progress import Progress  # noqa: E402

Task = Tuple[str, int, int, list]


def convert_one(task: Task, out_dir: str, ignore_overlap: bool,
                crowd_as_label: bool, overwrite: bool) -> bool:
    """Rasterise and write one image's mask.

    Args:
        task (tuple): ``(file_name, height, width, annotations)``.
        out_dir (str): Output folder.
        ignore_overlap (bool): See :func:`coco_semantic_mask`.
        crowd_as_label (bool): See :func:`coco_semantic_mask`.
        overwrite (bool): Replace an existing PNG.

    Returns:
        bool: True if written, False if skipped.
    """
    file_name, h, w, anns = task
    path = osp.join(out_dir, osp.splitext(osp.basename(file_name))[0] + '.png')
    if not overwrite and is_done(path):
        return False
    try:
        mask = coco_semantic_mask(
            h, w, anns, ignore_overlap=ignore_overlap,
            crowd_as_label=crowd_as_label)
    except Exception as e:
        raise RuntimeError(f'{file_name}: {e}') from e
    return write_seed_png(path, mask, overwrite=overwrite)


def build_tasks(ann_file: str, out_dir: str,
                overwrite: bool) -> Tuple[List[Task], int]:
    """Per-image tasks, leaving out images whose PNG exists.

    Args:
        ann_file (str): COCO instances JSON.
        out_dir (str): Output folder.
        overwrite (bool): Keep finished images in the task list.

    Returns:
        tuple[list, int]: The tasks and the number of images in the file.
    """
    from pycocotools.coco import COCO
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    coco = COCO(ann_file)
    tasks = []
    for img_id in sorted(coco.imgs):
        img = coco.imgs[img_id]
        stem = osp.splitext(osp.basename(img['file_name']))[0]
        if not overwrite and is_done(osp.join(out_dir, stem + '.png')):
            continue
        tasks.append((img['file_name'], int(img['height']),
                      int(img['width']), coco.imgToAnns.get(img_id, [])))
    return tasks, len(coco.imgs)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='COCO instances JSON -> semantic class-index PNGs '
        '(0 background, 1..80, 255 ignore)')
    parser.add_argument('ann_file', help='instances_*.json')
    parser.add_argument('out_dir', help='output folder of PNGs')
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes')
    parser.add_argument(
        '--overwrite', action='store_true', help='redo existing PNGs')
    parser.add_argument(
        '--ignore-overlap',
        action='store_true',
        help='255 where instances of different classes overlap (default: '
        'the smaller instance wins)')
    parser.add_argument(
        '--crowd-as-label',
        action='store_true',
        help='paint crowd regions with their class (default: 255)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the conversion.

    Args:
        argv (Sequence[str], optional): Arguments (default: ``sys.argv``).

    Returns:
        int: Exit code (0).
    """
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    tasks, total = build_tasks(args.ann_file, args.out_dir, args.overwrite)
    func = partial(
        convert_one,
        out_dir=args.out_dir,
        ignore_overlap=args.ignore_overlap,
        crowd_as_label=args.crowd_as_label,
        overwrite=args.overwrite)
    written = 0
    if tasks:
        with Progress(len(tasks), 'masks') as progress:
            if args.nproc > 1:
                with multiprocessing.Pool(args.nproc) as pool:
                    for r in pool.imap(func, tasks, chunksize=8):
                        written += bool(r)
                        progress.update()
            else:
                for task in tasks:
                    written += bool(func(task))
                    progress.update()
    print(f'{total} images in {args.ann_file}: {written} masks written, '
          f'{total - written} skipped (already done); output: {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
