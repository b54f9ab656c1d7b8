# CPU demo of stage 2 (`make demo`): the paper's DeepLabV3+ config with its
# backbone shrunk by inheritance (ResNetV1c-18, 8 base channels, random
# init), trained on the seeds of the 10 bundled training images
# (data/voc_mini) and tested on the 5 bundled val images, plain and with
# SAMS TTA (--tta). Numbers from it only show that the pipeline runs.
#
# What differs from the paper's recipe, and why: a random-init network this
# small predicts background everywhere after a short schedule (the seeds
# are ~83% background), and then SAMS TTA has no class to refine. Small
# inputs (64x64) buy 800 iterations in ~40 s; OHEM (mmseg's
# OHEMPixelSampler) drops the easy background pixels from the loss; no
# photometric distortion and lr 0.05 let it fit the 10 images fast. With
# these it predicts foreground on 2-3 of the 5 val images (seeds 0, 1, 2
# tried), so the TTA figure of the demo measures a real refinement.
_base_ = ['./deeplabv3plus_r101-d8_4xb4-80k_voc12aug-pseudo-512x512.py']

seed_dir = 'work_dirs/voc_mini_seeds_demo/seeds'
sam_mask_dir = 'work_dirs/sam_masks/voc_mini_tiny'
data_root = 'data/voc_mini'
max_iters = 800
crop_size = (64, 64)
randomness = dict(seed=0)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=8, base_channels=8),
    decode_head=dict(
        in_channels=64,
        channels=16,
        c1_in_channels=8,
        c1_channels=8,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=500)),
    auxiliary_head=dict(in_channels=32, channels=8))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(128, 64),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        seed_dir=seed_dir,
        dataset=dict(
            data_root=data_root,
            data_prefix=dict(seg_map_path='SegmentationClass'),
            ann_file='ImageSets/Segmentation/train.txt'),
        pipeline=train_pipeline),
    **_loader)
val_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=test_pipeline), **_loader)
test_dataloader = val_dataloader
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(128, 64), keep_ratio=True),
                dict(type='Resize', scale=(192, 96), keep_ratio=True)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
tta_model = dict(mask_dir=sam_mask_dir)

optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
