# FMA-WSSS fine seeds with SAM 3's instances as quasi-superpixels: the
# seg-prompt CAMs -> CAA -> SAMS of ../fma/voc_seeds.py over the masks of
# ./voc_trainaug_masks.py, scored by SeedMetric; compare with SAM's seeds
# and with SAM 3's own concept seeds (./voc_concept_seeds.py) by
# tools/compare_seeds.py.
#   python tools/gen_sam_masks.py configs/sam3/voc_trainaug_masks.py  # once
#   python tools/test.py configs/sam3/fma_voc_seeds.py \
#       work_dirs/voc_prompts/iter_18800.pth
_base_ = ['../fma/voc_seeds.py']

sam_mask_dir = 'work_dirs/sam_masks/voc_sam3'
seed_dir = 'work_dirs/fma_voc_seeds_sam3/seeds'
model = dict(
    reuse_seeds_from=seed_dir,
    seeder=dict(
        cls=dict(mask_dir=sam_mask_dir), seg=dict(mask_dir=sam_mask_dir)))
test_evaluator = dict(
    seed_dir=seed_dir, out_dir='work_dirs/fma_voc_seeds_sam3')
