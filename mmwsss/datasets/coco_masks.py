"""COCO instance annotations -> semantic class-index masks and image labels.

No mm imports (numpy + pycocotools). Used by
``tools/dataset_converters/coco_to_masks.py`` (GT PNGs) and by
:class:`mmwsss.datasets.COCOImageLabelDataset` (image-level labels).

**Class indices.** COCO category ids (1..90 with gaps) map to ``1..80`` in
the order of :data:`mmwsss.class_names.COCO_CATEGORY_IDS`; 0 is background.

**Rasterisation rule** (:func:`coco_semantic_mask`):

1. non-crowd instances are painted from the largest to the smallest area
   (COCO's ``area`` field; ties keep annotation order), so a smaller object
   lying on a larger one stays visible (the usual occlusion order);
2. with ``ignore_overlap=True``, pixels covered by non-crowd instances of two
   or more *different* classes become 255 instead (overlaps within one class
   keep that class);
3. crowd regions (``iscrowd=1``) not covered by any non-crowd instance become
   255 (ignore): they hold objects of the class whose extent is unreliable.
   With ``crowd_as_label=True`` they take their class instead (painted below
   the non-crowd instances).

**Image labels** (:func:`coco_image_labels`): every category with at least
one annotation; crowd annotations count by default (a crowd of people means
people are in the image), ``crowd_labels=False`` ignores them.
"""
from typing import Dict, List, Mapping, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from mmwsss.class_names import COCO_CATEGORY_IDS, IGNORE_INDEX

__all__ = [
    'COCO_CAT_TO_LABEL', 'category_label', 'annotation_mask',
    'coco_semantic_mask', 'coco_image_labels'
]

#: COCO category id -> class index 1..80.
COCO_CAT_TO_LABEL: Dict[int, int] = {
    cid: i + 1
    for i, cid in enumerate(COCO_CATEGORY_IDS)
}


def category_label(category_id: int, where: str = '') -> int:
    """Class index 1..80 of a COCO category id.

    Args:
        category_id (int): Official COCO category id.
        where (str): Context for the error message (file, image).

    Returns:
        int: The class index.

    Raises:
        ValueError: If the id is not one of the 80 COCO categories.
    """
    label = COCO_CAT_TO_LABEL.get(int(category_id))
    if label is None:
        raise ValueError(f'{where}: category id {category_id} is not one of '
                         'the 80 COCO categories (mmwsss.class_names.'
                         'COCO_CATEGORY_IDS)')
    return label


def annotation_mask(ann: Mapping, height: int, width: int) -> np.ndarray:
    """Binary mask of one COCO annotation (polygons or RLE).

    Args:
        ann (Mapping): A COCO annotation with ``segmentation``.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: (H, W) bool.
    """
    seg = ann['segmentation']
    if isinstance(seg, list):  # polygons
        polys = [p for p in seg if len(p) >= 6]
        if not polys:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(seg.get('counts'), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(seg, height, width)
    else:  # compressed RLE
        rle = dict(seg)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode('ascii')
    m = mask_utils.decode(rle)
    if m.shape != (height, width):
        raise ValueError(f'annotation {ann.get("id")}: mask shape {m.shape} '
                         f'differs from the image size {(height, width)}')
    return m.astype(bool)


def coco_semantic_mask(height: int,
                       width: int,
                       anns: Sequence[Mapping],
                       ignore_overlap: bool = False,
                       crowd_as_label: bool = False,
                       ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Paint one image's instances into a class-index map.

    See the module docstring for the rule.

    Args:
        height (int): Image height.
        width (int): Image width.
        anns (Sequence[Mapping]): The image's COCO annotations
            (``category_id``, ``segmentation``, optional ``iscrowd``,
            ``area``).
        ignore_overlap (bool): 255 where instances of different classes
            overlap. Defaults to False (smaller instance wins).
        crowd_as_label (bool): Crowd regions take their class instead of
            255. Defaults to False.
        ignore_index (int): The ignore value. Defaults to 255.

    Returns:
        np.ndarray: (H, W) uint8, 0 background, 1..80 classes, 255 ignore.
    """
    out = np.zeros((height, width), dtype=np.uint8)
    crowd = np.zeros((height, width), dtype=bool)
    crowd_anns = [a for a in anns if a.get('iscrowd', 0)]
    things = [a for a in anns if not a.get('iscrowd', 0)]
    where = 'image annotations'
    for a in crowd_anns:
        m = annotation_mask(a, height, width)
        if crowd_as_label:
            out[m] = category_label(a['category_id'], where)
        crowd |= m
    masks = [(annotation_mask(a, height, width),
              category_label(a['category_id'], where)) for a in things]
    areas = [
        float(a['area']) if 'area' in a else float(m.sum())
        for a, (m, _) in zip(things, masks)
    ]
    order = sorted(range(len(things)), key=lambda i: -areas[i])
    thing_cls = np.zeros((height, width), dtype=np.uint8)
    conflict = np.zeros((height, width), dtype=bool)
    for i in order:
        m, c = masks[i]
        if ignore_overlap:
            conflict |= m & (thing_cls > 0) & (thing_cls != c)
        thing_cls[m] = c
    covered = thing_cls > 0
    out[covered] = thing_cls[covered]
    if not crowd_as_label:
        out[crowd & ~covered] = ignore_index
    if ignore_overlap:
        out[conflict] = ignore_index
    return out


def coco_image_labels(anns: Sequence[Mapping],
                      crowd_labels: bool = True,
                      where: str = '') -> List[int]:
    """Image-level labels of one image from its annotations.

    Args:
        anns (Sequence[Mapping]): The image's annotations.
        crowd_labels (bool): Count crowd annotations. Defaults to True.
        where (str): Context for error messages.

    Returns:
        list[int]: Sorted class indices in 1..80.
    """
    return sorted({
        category_label(a['category_id'], where)
        for a in anns if crowd_labels or not a.get('iscrowd', 0)
    })
