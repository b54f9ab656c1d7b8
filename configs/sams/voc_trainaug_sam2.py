# SAM 2.1 Hiera-L quasi-superpixels: SAM 2's automatic mask generator with
# the paper's generation settings and FMA-WSSS's three changes on SAM 2's
# three multimask outputs (mmwsss/models/sams/sam2_generator.py).
#
#   python tools/gen_sam_masks.py configs/sams/voc_trainaug_sam2.py
#
# Weights: download https://dl.fbaipublicfiles.com/segment_anything_2/
# 092824/sam2.1_hiera_large.pt to checkpoints/. Other sizes: model_type
# 'sam2.1_hiera_{t,s,b+}' (or 'sam2_hiera_*' for SAM 2.0), see SAM2_CONFIGS.
#
# SAM 2.1 Hiera-L quasi-superpixels of VOC 2012 trainaug (10,582 images); the
# cache goes to its own folder (its fingerprint differs from SAM's).
#   bash tools/dist_gen_sam_masks.sh configs/sams/voc_trainaug_sam2.py 8
# Val images (SAMS as test-time refinement): --cfg-options
#   dataset.ann_file=ImageSets/Segmentation/val.txt
# FMA-WSSS on these masks: configs/fma/voc_prompts_sam2.py, voc_seeds_sam2.py.
_base_ = ['./voc_trainaug.py']

sam_generator = dict(
    type='SAM2QuasiSuperpixelGenerator',
    model_type='sam2.1_hiera_l',
    checkpoint='checkpoints/sam2.1_hiera_large.pt',
    mask_threshold=0.0)
mask_dir = 'work_dirs/sam_masks/voc_sam2'
