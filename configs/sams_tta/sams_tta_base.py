# SAMS test-time refinement as a base for ANY MMSegmentation model config,
# from any folder once mmwsss is installed (pip install mmwsss / the repo):
#
#   _base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py',
#             'mmwsss::sams_tta/sams_tta_base.py']
#   tta_model = _base_.sams_tta_model          # SAMS instead of SegTTAModel
#   sams_tta_model.update(mask_dir='work_dirs/sam_masks/voc_val')  # optional
#
#   mmwsss-gen-masks mmwsss::sams/voc_val.py   # the SAM masks, once
#   mmwsss-test my_config.py CHECKPOINT --tta
#
# The model config keeps its own multi-scale + flip `tta_pipeline`; its
# `tta_model` is replaced by the one below (a separate name here, because
# two bases may not set the same key: mmseg's default_runtime.py sets
# tta_model). See sams_tta/README.md for the options.
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

sams_tta_model = dict(
    type='SAMSTTAModel',
    # <mask_dir>/<image stem>.npz from mmwsss-gen-masks
    mask_dir='work_dirs/sam_masks/val',
    alpha=1.0,  # > 1: more foreground
    scoring='prob',  # or 'eq8'
    uncovered='pred',  # or 'background'
    background_index=0,  # VOC / COCO; None for datasets without one
    fingerprint=None)  # set to the SAM fingerprint to check the cache
