# FMA-WSSS fine seeds of MS COCO 2014 train from learned prompts: seg-prompt
# CAMs (no CAA) -> SAMS alpha 1.0 -> seed PNGs (resumable) + seed mIoU.
#
#   python tools/test.py configs/fma/coco_seeds.py \
#       work_dirs/coco_prompts/iter_71800.pth
#   bash tools/dist_test.sh configs/fma/coco_seeds.py CKPT 8
# Stage 2 (configs/deeplabv3plus/
# deeplabv3plus_r101-d8_4xb4-160k_coco2014-pseudo-512x512.py)
# reads `seed_dir`.
_base_ = ['./coco_prompts.py']

seed_dir = 'work_dirs/fma_coco_seeds/seeds'
model = dict(test_task='seg', reuse_seeds_from=seed_dir)
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset={{_base_.train_cfg.coarse_seeds.dataloader.dataset}})
test_evaluator = dict(
    type='SeedMetric',
    seed_dir=seed_dir,
    out_dir='work_dirs/fma_coco_seeds',
    overwrite=False)
# A rerun skips finished images even if they no longer load (corrupt
# JPEG); any other unreadable image is one error naming it.
custom_hooks = [dict(type='FinishedSeedsHook')]
