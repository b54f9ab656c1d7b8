# What voc_wsss.py and coco_wsss.py share: the pipelines, the dataloaders
# (each of them gives every loader its `dataset` and sets
# `test_dataloader = val_dataloader` again, as base variables are not
# re-evaluated in a child) and the evaluators.
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
# Original size (no Resize): seeds are made and scored at image resolution.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackWSSSInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
# One image at a time at full size: seed generation, seed scoring, val.
# round_up=False: with several processes no rank repeats another's image
# (each seed written once; mmengine gathers the unequal shares in order).
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False))
train_eval_dataloader = val_dataloader
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
