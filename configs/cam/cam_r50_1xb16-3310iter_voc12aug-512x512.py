# Classic CAM seeds (WSSS survey sec. 2.1, eqs. 1-2; the CAM the survey's
# traditional methods start from): an ImageNet ResNet-50 with a bias-free
# 1x1 classifier after global average pooling, trained with multi-label BCE
# on the image-level labels of VOC 2012 trainaug; CAMs of the labelled
# classes (scales 1.0, 0.5, 1.5, 2.0 + flips) -> background threshold 0.15
# -> one seed PNG per training image, scored by SeedMetric. Training recipe
# and CAM inference of IRN (Ahn et al. 2019), the usual CAM baseline:
# output stride 16 (last stage stride 1), frozen BN and stem, 5 epochs of
# batch 16 (3,310 iterations), SGD lr 0.1 (classifier x10), wd 1e-4, poly;
# long side resized to 320-640, flip, 512 crop.
#
#   python tools/train.py \
#       configs/cam/cam_r50_1xb16-3310iter_voc12aug-512x512.py
#   python tools/test.py \
#       configs/cam/cam_r50_1xb16-3310iter_voc12aug-512x512.py \
#       work_dirs/cam_r50_1xb16-3310iter_voc12aug-512x512/iter_3310.pth
#
# ImageNet weights: `pretrained` below ('torchvision://resnet50' downloads
# torchvision's file; or a local path to it). SAMS instead of the threshold
# (masks of tools/gen_sam_masks.py configs/sams/voc_trainaug.py):
#   --cfg-options model.seeder.type=SAMSSeeder model.seeder.alpha=0.7 \
#       model.seeder.mask_dir=work_dirs/sam_masks/voc
# (and drop bg_threshold: model.seeder._delete_ is not available on the
# command line, so use a config:  model = dict(seeder=dict(_delete_=True,
# type='SAMSSeeder', alpha=0.7, mask_dir=...)) ).
# Published: IRN's CAM on VOC train 48.3 mIoU (ResNet-50, threshold 0.16).
_base_ = ['../_base_/datasets/voc_wsss.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

pretrained = 'torchvision://resnet50'
seed_dir = 'work_dirs/cam_r50_1xb16-3310iter_voc12aug-512x512/seeds'
crop_size = (512, 512)
max_iters = 3310

model = dict(
    type='CAMClassifier',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 2, 1),
        frozen_stages=0,
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    in_channels=2048,
    num_classes=20,
    seeder=dict(type='ThresholdSeeder', bg_threshold=0.15),
    test_scales=(1.0, 0.5, 1.5, 2.0),
    test_flip=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=(640, 640),
        ratio_range=(0.5, 1.0),
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
# Seeds of the training images (with GT, for scoring), at original size.
test_dataloader = {{_base_.train_eval_dataloader}}
test_evaluator = dict(
    _delete_=True,
    type='SeedMetric',
    seed_dir=seed_dir,
    out_dir='work_dirs/cam_r50_1xb16-3310iter_voc12aug-512x512',
    overwrite=False)
val_dataloader = None
val_cfg = None
val_evaluator = None

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'classifier': dict(lr_mult=10.)}))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'))
