# DeepLab-v2 (Chen et al., TPAMI 2017) as WSSS works train it: ResNet-101
# with dilated stages 3-4 (output stride 8) and the classic ASPP classifier
# (mmwsss DeepLabV2Head: four parallel 3x3 atrous convs, rates 6/12/18/24,
# straight to class logits and summed; no image pooling).
# BN is frozen (eval mode, no grad) as in DeepLab-v2: its batches (5-10
# crops) are too small to train BN statistics.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet101_v1c',  # ImageNet-1k
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=2048,
        in_index=3,
        dilations=(6, 12, 18, 24),
        num_classes=21,
        dropout_ratio=0.,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
