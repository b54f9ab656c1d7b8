# SAMS for your model: any MMSegmentation config gets SAM-based test-time
# refinement by adding the two settings below (FMA-WSSS Table 3 / S6).
#
#   python tools/gen_sam_masks.py configs/sams/voc_val.py  # masks, once
#   python tools/test.py \
#       configs/sams_tta/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_sams-tta.py \
#       CHECKPOINT --tta
#
# `--tta` runs the inherited multi-scale + flip `tta_pipeline` (scales
# 0.5-1.75), averages the softmax like SegTTAModel, then SAMSTTAModel
# re-labels each SAM quasi-superpixel from the merged probabilities
# (scoring='prob': mask means of [p_bg, p_c...] with the background mean
# raised to alpha, argmax; wholes painted over parts; pixels no mask covers
# keep the merged argmax). `seg_logits` of the results hold the merged
# probabilities, `pred_sem_seg` the refined labels.
# Here: stock DeepLabV3+ R101 on VOC 2012 aug (fully supervised); the WSSS
# stage-2 configs in configs/deeplabv3plus/ do the same on seed-trained
# models.
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py'
]
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

tta_model = dict(
    type='SAMSTTAModel',
    # <mask_dir>/<image stem>.npz from tools/gen_sam_masks.py
    mask_dir='work_dirs/sam_masks/voc',
    alpha=1.0,  # > 1: more foreground (the authors tried 1-5)
    scoring='prob',  # or 'eq8': min-max over masks + (1 - max)^alpha
    uncovered='pred',  # or 'background' (the seed-generation rule)
    background_index=0,  # VOC / COCO; None for datasets without one
    fingerprint=None)  # set to the SAM fingerprint to check the cache
