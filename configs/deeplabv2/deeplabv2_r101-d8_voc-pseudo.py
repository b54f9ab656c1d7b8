# DeepLab-v2 R101 trained on WSSS seeds (PASCAL VOC 2012 trainaug), the
# segmentation network of the foundation-model WSSS survey's experiments
# (papers/wsss_survey_foundation_models.txt, sec. 5.1.3 "DeepLabV2 model")
# and the "DeepLab V2 R101 76.7" row of FMA-WSSS suppl. Table S2.
#
#   python tools/train.py configs/deeplabv2/deeplabv2_r101-d8_voc-pseudo.py
#   python tools/test.py \
#       configs/deeplabv2/deeplabv2_r101-d8_voc-pseudo.py \
#       CKPT
#
# Survey settings (all taken over here):
#   * ImageNet-pretrained ResNet-101, DeepLab-v2 ASPP head
#     (configs/_base_/models/deeplabv2_r101.py);
#   * 321x321 random crops, horizontal flips (plus DeepLab's random scaling
#     0.5-1.5, its usual companion of the 321 crop);
#   * VOC: 20k iterations, batch 5 (COCO: 100k iterations, batch 10);
#   * learning rate 2.5e-4, weight decay 5e-4; DeepLab's recipe around
#     them: SGD momentum 0.9, poly decay (power 0.9), classifier learning
#     rate x10 on weights and x20 (no decay) on biases, frozen BN.
#   * 2 NVIDIA L40 GPUs, ~3 h on VOC. The batch here is one process x 5;
#     on G GPUs set train_dataloader.batch_size so that G x batch = 5
#     (or keep 5 per GPU and pass --auto-scale-lr).
# Test: single scale at the original image size (DeepLab practice; the
# survey does not describe its test-time protocol). mmseg's multi-scale +
# flip `tta_pipeline` can be added for `--tta` like in the DeepLabV3+ one.
# Survey Table 1 with this network (R101 DeepLab-v2; pseudo-mask mIoU ->
# segmentation mIoU VOC val / test, COCO val):
#   SAM (text input) 86.4 -> 72.7 / 72.8, COCO 50.8 (row 59);
#   CLIP-ES 75.0 -> 71.1 / 71.4, COCO 45.4 (row 57);
#   fully supervised 75.3 / 75.6, COCO 53.5 (row 61, upper bound).
_base_ = [
    '../_base_/models/deeplabv2_r101.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)

# ---- the folders a user changes -------------------------------------------
seed_dir = 'work_dirs/fma_voc_seeds/seeds'  # pseudo masks of trainaug
data_root = 'data/VOCdevkit/VOC2012'
train_split = 'ImageSets/Segmentation/trainaug.txt'  # 10,582 images
# ---------------------------------------------------------------------------

max_iters = 20000
crop_size = (321, 321)
model = dict(data_preprocessor=dict(size=crop_size))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # long side ~512 x U(0.5, 1.5): VOC images (<= 500 px) are scaled by
    # ~0.5-1.5 of their size, as DeepLab-v2 does
    dict(
        type='RandomResize',
        scale=(512, 512),
        ratio_range=(0.5, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]

train_dataloader = dict(
    batch_size=5,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='PseudoLabelDataset',
        seed_dir=seed_dir,
        allow_missing=False,
        dataset=dict(
            type='PascalVOCDataset',
            data_root=data_root,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
            ann_file=train_split),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalVOCDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# DeepLab: classifier lr x10 on weights, x20 and no decay on biases (the
# key 'decode_head' covers every branch; the bias keys name the four
# default branches, aspp_convs.0-3; longer keys win in mmengine)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
    clip_grad=None,
    paramwise_cfg=dict(
        custom_keys={
            'decode_head': dict(lr_mult=10.),
            **{
                f'decode_head.aspp_convs.{i}.bias':
                dict(lr_mult=20., decay_mult=0.)
                for i in range(4)
            }
        }))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=2000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=5)
