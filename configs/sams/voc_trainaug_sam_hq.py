# SAM-HQ (HQ-SAM ViT-H, segment-anything-hq) quasi-superpixels with the
# paper's generation settings and FMA-WSSS's three changes, applied to each
# of SAM's three multimask levels fused with the HQ mask
# (mmwsss/models/sams/sam_hq_generator.py).
#
#   python tools/gen_sam_masks.py configs/sams/voc_trainaug_sam_hq.py
#
# Weights: download https://huggingface.co/lkeab/hq-sam/resolve/main/
# sam_hq_vit_h.pth to checkpoints/ (vit_l / vit_b: sam_hq_vit_l.pth / _b).
#
# SAM-HQ quasi-superpixels of PASCAL VOC 2012 trainaug (10,582 images); the
# cache goes to its own folder (its fingerprint differs from SAM's).
#   bash tools/dist_gen_sam_masks.sh configs/sams/voc_trainaug_sam_hq.py 8
# Val images (SAMS as test-time refinement): --cfg-options
#   dataset.ann_file=ImageSets/Segmentation/val.txt
# FMA-WSSS on these masks: configs/fma/voc_{prompts,seeds}_sam_hq.py.
_base_ = ['./voc_trainaug.py']

sam_generator = dict(
    type='SAMHQQuasiSuperpixelGenerator',
    model_type='vit_h',
    checkpoint='checkpoints/sam_hq_vit_h.pth')
mask_dir = 'work_dirs/sam_masks/voc_sam_hq'
