# CPU smoke config: a tiny random FCN (ResNet-18-V1c, 8 base channels) on
# the 5 bundled val images of data/voc_mini, 2 scales x flip, SAMS
# refinement from cached masks. The tests build its checkpoint and masks:
#
#   python tools/test.py configs/sams_tta/fcn_r18-tiny_voc-mini_sams-tta.py \
#       CKPT --tta --cfg-options tta_model.mask_dir=MASK_DIR
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py', 'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

# mmseg's FCN shrunk: ResNetV1c-18 with 8 base channels (last stage only),
# one 16-channel conv in the head, no auxiliary head, BN (not SyncBN)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(
        depth=18,
        stem_channels=8,
        base_channels=8,
        out_indices=(3, ),
        norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=64,
        in_index=0,
        channels=16,
        num_convs=1,
        concat_input=False,
        num_classes=21,
        norm_cfg=norm_cfg),
    auxiliary_head=None)

data_root = 'data/voc_mini'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
img_ratios = [0.5, 1.0]
_scales = [
    dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios
]
_flips = [
    dict(type='RandomFlip', prob=0., direction='horizontal'),
    dict(type='RandomFlip', prob=1., direction='horizontal')
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            _scales, _flips, [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')]
        ])
]
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalVOCDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))

tta_model = dict(
    _delete_=True,
    type='SAMSTTAModel',
    mask_dir='work_dirs/sam_masks/voc_mini_val',
    alpha=1.0)
