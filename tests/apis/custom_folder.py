"""A 3-class image folder made from the bundled VOC images (tests only)."""
import json
import os
import os.path as osp
from typing import Dict, List

import numpy as np
from PIL import Image

#: Our classes, in an order unlike VOC's, with their VOC class ids.
CLASSES = {'person': 15, 'car': 7, 'plane': 1}
TRAIN = ('2007_000032', '2007_000033', 'dlv3p_3597d9a_0417',
         'dlv3p_c516a72_0294', 'dlv3p_d1182fc_0582')
VAL = ('dlv3p_977985f_0001', 'dlv3p_c516a72_0166')


def _remap(gt: np.ndarray) -> np.ndarray:
    out = np.where(gt == 255, 255, 0).astype(np.uint8)
    for i, voc in enumerate(CLASSES.values(), 1):
        out[gt == voc] = i
    return out


def make_folder(voc_root: str, out: str, ids, with_masks=None,
                max_side: int = 160) -> Dict[str, List[str]]:
    """Write images/, masks/ (for ``with_masks``), labels.json,
    classes.txt; images shrunk to ``max_side``. Returns the labels."""
    os.makedirs(osp.join(out, 'images'), exist_ok=True)
    os.makedirs(osp.join(out, 'masks'), exist_ok=True)
    names = list(CLASSES)
    labels = {}
    for i in ids:
        img = Image.open(osp.join(voc_root, 'JPEGImages', i + '.jpg'))
        gt = _remap(np.array(
            Image.open(osp.join(voc_root, 'SegmentationClass', i + '.png'))))
        f = max_side / max(img.size)
        size = (round(img.size[0] * f), round(img.size[1] * f))
        img.convert('RGB').resize(size, Image.BILINEAR).save(
            osp.join(out, 'images', i + '.jpg'))
        mask = Image.fromarray(gt).resize(size, Image.NEAREST)
        if with_masks is None or i in with_masks:
            mask.save(osp.join(out, 'masks', i + '.png'))
        present = sorted(set(np.unique(np.array(mask))) - {0, 255})
        labels[i] = [names[c - 1] for c in present]
    with open(osp.join(out, 'labels.json'), 'w') as f:
        json.dump(labels, f)
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    return labels
