# SAMS test-time refinement without a prepared mask cache: the SAM
# quasi-superpixels of each test image are generated on the fly with
# FMA-WSSS's generator (SAM ViT-H, the paper's AMG settings are the
# generator's defaults) and written to mask_dir, so a second run (or a
# resumed one) reads them back. Without mask_dir nothing is written.
#
#   python tools/test.py \
#       configs/sams_tta/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_sams-tta-online.py \
#       CHECKPOINT --tta
_base_ = ['./deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_sams-tta.py']

tta_model = dict(
    mask_dir='work_dirs/sam_masks/voc',  # as configs/sams/voc_*.py
    sam_generator=dict(
        type='SAMQuasiSuperpixelGenerator',
        model_type='vit_h',
        checkpoint='checkpoints/sam_vit_h_4b8939.pth'))
