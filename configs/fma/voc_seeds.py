# FMA-WSSS fine seeds of VOC 2012 trainaug from learned prompts: seg-prompt
# CAMs at each image's own resolution -> CAA (t 0.5 on the CAM) -> SAMS
# (alpha 0.7) -> one palette PNG per image in `seed_dir` (atomic; images
# whose seed exists are skipped, so an interrupted run resumes), scored
# against the GT (paper Tables 1-5: trainaug; Table 6: train) by SeedMetric.
#
#   python tools/test.py configs/fma/voc_seeds.py \
#       work_dirs/voc_prompts/iter_18800.pth
#   bash tools/dist_test.sh configs/fma/voc_seeds.py CKPT 8
#
# Options: redo all seeds:  --cfg-options test_evaluator.overwrite=True \
#                                         model.reuse_seeds_from=None
#          overlays (image + seed + legend):
#                           --cfg-options test_evaluator.overlay_dir=DIR
#          Table 6 split:   --cfg-options \
#              test_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt
# The seeds then train stage 2: configs/deeplabv3plus/*-pseudo.py read
# `seed_dir` below.
_base_ = ['./voc_prompts.py']

seed_dir = 'work_dirs/fma_voc_seeds/seeds'
model = dict(test_task='seg', reuse_seeds_from=seed_dir)
test_dataloader = {{_base_.train_eval_dataloader}}
test_evaluator = dict(
    type='SeedMetric',
    seed_dir=seed_dir,
    out_dir='work_dirs/fma_voc_seeds',
    overwrite=False)
# A rerun skips finished images even if they no longer load (corrupt
# JPEG); any other unreadable image is one error naming it.
custom_hooks = [dict(type='FinishedSeedsHook')]
