"""mmwsss.models.baselines: the WSSS survey's pipelines in mmwsss.

* :class:`CAMClassifier` - classic CAM (ResNet-50, eqs. 1-2), seeds by a
  background threshold or SAMS;
* :class:`SAM3ConceptSeeder` - SAM 3 concept seeds (each labelled class's
  name is a SAM 3 text prompt; instances painted by score);
* :class:`SAMTextSeeder` - SAM with text input (Grounding DINO boxes of the
  image's class names -> SAM masks), and zero-shot with a tagger
  (:class:`CLIPZeroShotTagger`; RAM in the survey) instead of labels.

CLIP-ES reuses the FMA-WSSS components (``configs/clip_es``). Importing this
package registers the classes in ``mmseg.registry.MODELS``; the numeric
parts (:mod:`.cam_ops`, :mod:`.box_seeds`) import nothing from OpenMMLab.
"""
from .box_seeds import (LabelledBoxes, assign_box_entities,
                        paint_masks_by_score, tag_class_table, tags_to_classes)
from .cam_classifier import CAMClassifier
from mmwsss.functional.cam_ops import (class_activation_maps, max_normalize, multi_hot,
                      multilabel_bce)
from .frozen_parts import exclude_from_checkpoint
from .grounding_dino import GroundingDINOBoxes
from .sam3_concepts import SAM3ConceptSeeder
from .sam_text import SAMTextSeeder
from .taggers import CLIPZeroShotTagger

__all__ = [
    'CAMClassifier', 'SAMTextSeeder', 'SAM3ConceptSeeder',
    'CLIPZeroShotTagger', 'GroundingDINOBoxes'
]
