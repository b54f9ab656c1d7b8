# The FMA-WSSS prompt-learning schedule, as the authors' code runs it:
# phase 1 (cls prompts, MCL) -> coarse seeds D_C -> phase 2 (seg prompts,
# CAL), one `tools/train.py` run (FMATwoPhaseTrainLoop). Each phase: SGD
# lr 1e-3, momentum 0.9, weight decay 5e-4, batch 16, a constant warm-up at
# 1e-5 for 500 iterations, then cosine to 0 (WarmupCosineLR, one window per
# phase). Children set `cls_iters` / `seg_iters` through train_cfg and the
# two scheduler windows (see configs/fma/voc_prompts.py).
#
# AMP (the authors train in fp16 on GPU): add `--amp` to tools/train.py.
cls_iters = 1800
seg_iters = 17000
warmup_iters = 500

optimizer = dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)
param_scheduler = [
    dict(
        type='WarmupCosineLR',
        warmup_iters=warmup_iters,
        warmup_lr=1e-5,
        begin=0,
        end=cls_iters),
    dict(
        type='WarmupCosineLR',
        warmup_iters=warmup_iters,
        warmup_lr=1e-5,
        begin=cls_iters,
        end=cls_iters + seg_iters),
]
train_cfg = dict(
    type='FMATwoPhaseTrainLoop', cls_iters=cls_iters, seg_iters=seg_iters)
# Distributed runs (DDP): each phase trains one prompt learner, so the other
# one's prompts get no gradient in it; DDP must look for unused parameters.
find_unused_parameters = True
val_cfg = None  # no validation loop (children: val_dataloader = None too)
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=1000,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
