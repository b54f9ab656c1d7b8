"""mmwsss.datasets: image-level-label datasets, the pseudo-label dataset and
their transforms, registered in mmseg's DATASETS / TRANSFORMS.

- :class:`VOCImageLabelDataset`: PASCAL VOC 2012 / SBD trainaug;
- :class:`COCOImageLabelDataset`: MS COCO 2014 (81 classes);
- :class:`ImageLabelFolderDataset`: any image folder + JSON/CSV labels;
- :class:`PseudoLabelDataset`: any image dataset + seed PNGs as GT;
- :class:`PackWSSSInputs`: PackSegInputs + ``img_labels`` / ``img_id``.
"""
from mmwsss.compat import apply_all

apply_all()  # before mmseg: its imports reach mmcv's compiled ops (compat)

from .coco import COCOImageLabelDataset, load_coco_image_labels  # noqa: E402
from .coco_masks import (COCO_CAT_TO_LABEL, coco_image_labels,  # noqa: E402
                         coco_semantic_mask)
from .folder import (ImageLabelFolderDataset, read_class_names,  # noqa: E402
                     read_label_entries)
from .image_label import (BaseImageLabelDataset, derive_mask_labels,  # noqa: E402
                          label_components, labels_from_mask,
                          load_label_file, read_id_list)
from .pseudo_label import PseudoLabelDataset  # noqa: E402
from .transforms import PackWSSSInputs  # noqa: E402
from .voc import VOCImageLabelDataset  # noqa: E402

__all__ = [
    'BaseImageLabelDataset', 'VOCImageLabelDataset', 'COCOImageLabelDataset',
    'ImageLabelFolderDataset', 'PseudoLabelDataset', 'PackWSSSInputs',
    'load_label_file', 'labels_from_mask', 'derive_mask_labels',
    'read_id_list', 'load_coco_image_labels', 'coco_semantic_mask',
    'coco_image_labels', 'COCO_CAT_TO_LABEL', 'read_class_names',
    'read_label_entries', 'label_components'
]
