# Runtime of the training-free seed makers (SAM 3 concept seeds, SAM +
# text): nothing to train; `tools/test.py CONFIG none` writes one seed PNG
# per VOC training image, scored against the GT by SeedMetric. Children set
# `model` and `test_evaluator = dict(seed_dir=..., out_dir=...)`, then
# `val_evaluator = test_evaluator` again (base variables are not
# re-evaluated in a child).
_base_ = ['../datasets/voc_wsss.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

# Seeds of the training images, one at a time at the original size.
test_dataloader = {{_base_.train_eval_dataloader}}
test_evaluator = dict(_delete_=True, type='SeedMetric', overwrite=False)
test_cfg = dict(type='TestLoop')
# Nothing to train (val_dataloader stays: a child may test on VOC val, e.g.
# configs/sam_text/sam-zero-shot_gdino-swin-t_sam-vit-h_voc12val.py).
train_dataloader = None
train_cfg = None
optim_wrapper = None
val_cfg = dict(type='ValLoop')
val_evaluator = test_evaluator
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False))
