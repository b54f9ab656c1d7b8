# Dataloaders and evaluators shared by voc_wsss.py and coco_wsss.py: each of
# them gives every loader its `dataset` and sets
# `test_dataloader = val_dataloader` again (base variables are not
# re-evaluated in a child).
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
# One image at a time at full size: seed generation, seed scoring, val.
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
train_eval_dataloader = val_dataloader
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
