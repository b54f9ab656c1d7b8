# FMA-WSSS fine seeds (./voc_seeds.py) with SAM-HQ quasi-superpixels:
# seg-prompt CAMs -> CAA -> SAMS over the masks of
# configs/sams/voc_trainaug_sam_hq.py, scored by SeedMetric; compare with
# SAM's seeds by tools/compare_seeds.py.
#   python tools/test.py configs/fma/voc_seeds_sam_hq.py \
#       work_dirs/voc_prompts_sam_hq/iter_18800.pth
# (prompts learnt with SAM's masks work too: their CAMs do not depend on it)
_base_ = ['./voc_seeds.py']

sam_mask_dir = 'work_dirs/sam_masks/voc_sam_hq'
seed_dir = 'work_dirs/fma_voc_seeds_sam_hq/seeds'
model = dict(
    reuse_seeds_from=seed_dir,
    seeder=dict(
        cls=dict(mask_dir=sam_mask_dir), seg=dict(mask_dir=sam_mask_dir)))
test_evaluator = dict(
    seed_dir=seed_dir, out_dir='work_dirs/fma_voc_seeds_sam_hq')
