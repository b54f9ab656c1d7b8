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

from .coco import COCOImageLabelDataset  # noqa: E402
from .folder import ImageLabelFolderDataset, read_class_names  # noqa: E402
from .image_label import (BaseImageLabelDataset,  # noqa: E402
                          label_components, load_label_file)
from .pseudo_label import PseudoLabelDataset  # noqa: E402
from .transforms import PackWSSSInputs  # noqa: E402
from .voc import VOCImageLabelDataset  # noqa: E402

__all__ = [
    'BaseImageLabelDataset', 'VOCImageLabelDataset', 'COCOImageLabelDataset',
    'ImageLabelFolderDataset', 'PseudoLabelDataset', 'PackWSSSInputs',
    'read_class_names', 'load_label_file', 'label_components'
]
