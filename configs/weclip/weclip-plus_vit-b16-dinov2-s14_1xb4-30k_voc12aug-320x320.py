# WeCLIP+ (Zhang et al., "Frozen CLIP-DINO: a Strong Backbone for Weakly
# Supervised Semantic Segmentation", TPAMI 2025) on VOC 2012 trainaug, as the
# authors' public code trains it (github.com/zbf1991/WeCLIP, WeCLIP+/,
# configs/voc_attn_reg.yaml, scripts/dist_clip_voc.py): frozen CLIP ViT-B/16
# and frozen DINOv2 ViT-S/14 on the ImageNet-normalised image, two
# SegFormer-style heads, one shared transformer decoder, online pseudo labels
# (GradCAM + attention affinity + PAR), 30k iterations of batch 4 on 320
# crops. See ./README.md for the published numbers and what differs.
#
#   python tools/train.py \
#       configs/weclip/weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py
#   python tools/test.py <config> work_dirs/<name>/iter_30000.pth
#
# Weights (no download here): CLIP `pretrained` is an open_clip tag or the
# OpenAI file ViT-B-16.pt; DINOv2 `pretrained` is the official
# dinov2_vits14_pretrain.pth (torch.hub's file). An authors' checkpoint:
#   python tools/convert_weclip_checkpoint.py wetr_iter_30000.pth weclip.pth
_base_ = [
    '../_base_/datasets/voc_wsss.py', 'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

crop_size = (320, 320)
max_iters = 30000
dinov2_weights = 'checkpoints/dinov2_vits14_pretrain.pth'

# Both encoders receive the ImageNet-normalised image (the authors' CLIP
# mean/std are defined but never used).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size)
model = dict(
    type='WeCLIP',
    data_preprocessor=data_preprocessor,
    clip=dict(
        type='FrozenCLIP',
        model_name='ViT-B-16',
        pretrained='openai',
        attn_layers=0),  # encode_image's CAA maps: unused here
    dino=dict(type='DINOv2', arch='vits14', pretrained=dinov2_weights),
    dataset='voc',
    num_blocks=11,
    head_blocks=1,
    embed_dim=256,
    dropout=0.1,
    decoder_layers=3,
    decoder_heads=8,
    cam_cfg=dict(
        cam_block=-2,  # GradCAM runs block 11 on block 9's output
        attn_maps=6,
        switch_iter=None,
        box_threshold=None,  # the box mask is reset to ones (VOC)
        seg_prob_weight=True),
    loss_cfg=dict(
        seg=1.0,
        dice=1.0,
        mutual=0.1,
        aff=0.1,
        aff_radius=8,
        self_correct_iter=18000,
        self_correct_threshold=0.75),
    # test_msc_flip_voc.py: long side 512, scales 1 and 1.5, flips, CRF.
    test_cfg=dict(
        mode='msc_flip',
        resize_long=512,
        scales=(1.0, 1.5),
        flip=True,
        crf=True,
        output='seg'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomRatioScale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomPadCrop', crop_size=crop_size, pad_val=0),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=4, dataset=dict(pipeline=train_pipeline))
randomness = dict(seed=1)

# PolyWarmupAdamW: 4 groups with lr x (1, 0, 10, 10) of which only the
# head group (decoder + both fusion heads) has parameters, so the one lr
# is 10 x the authors' 2e-5 = 2e-4. CLIP and DINOv2 have requires_grad
# False and get no update.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW',
        lr=2e-4,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.01))
param_scheduler = [
    dict(
        type='PolyWarmupLR',
        warmup_iters=50,
        max_iters=max_iters,
        warmup_ratio=1e-6,
        power=1.0,
        by_epoch=False)
]
# The authors validate (single scale, train split) every 2000 iterations;
# here the val split once, at the end, with test_cfg (msc + flip + CRF).
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=200, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=2000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
