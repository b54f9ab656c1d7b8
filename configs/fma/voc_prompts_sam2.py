# FMA-WSSS stage 1 (./voc_prompts.py) with SAM 2.1 Hiera-L quasi-superpixels
# instead of SAM ViT-H ones: the coarse seeds D_C of phase 2 come from SAMS
# over the masks of configs/sams/voc_trainaug_sam2.py.
#   python tools/gen_sam_masks.py configs/sams/voc_trainaug_sam2.py   # once
#   python tools/train.py configs/fma/voc_prompts_sam2.py
_base_ = ['./voc_prompts.py']

sam_mask_dir = 'work_dirs/sam_masks/voc_sam2'
model = dict(
    seeder=dict(
        cls=dict(mask_dir=sam_mask_dir), seg=dict(mask_dir=sam_mask_dir)))
