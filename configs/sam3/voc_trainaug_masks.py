# SAM 3's instances as quasi-superpixels of VOC 2012 trainaug, for SAMS over
# FMA-WSSS CAMs (./fma_voc_seeds.py): every image is prompted with the 20
# VOC class names and CLIP-ES's 25 background names; every instance with
# score > 0.5 and area >= 100 px becomes a mask (level "whole": SAM 3 has no
# multimask levels), in the SAM mask-cache format.
#   python tools/gen_sam_masks.py configs/sam3/voc_trainaug_masks.py
#   bash tools/dist_gen_sam_masks.sh configs/sam3/voc_trainaug_masks.py 8
# Weights: sam3.pt (see ./voc_concept_seeds.py).
_base_ = ['../sams/voc_trainaug.py']

sam_generator = dict(
    _delete_=True,
    type='SAM3QuasiSuperpixelGenerator',
    model_type='sam3',
    checkpoint='checkpoints/sam3.pt',
    random_init=False,
    seed=0,
    device=None,
    dataset='voc',
    prompts=None,  # None: the dataset's class names (+ background names)
    background_prompts=True,
    confidence_threshold=0.5,
    min_mask_region_area=100)
mask_dir = 'work_dirs/sam_masks/voc_sam3'
