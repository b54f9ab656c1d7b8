# CPU smoke config of ./weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py
# on the bundled VOC images (data/voc_mini): the same model, losses, schedule
# form and pipelines with a tiny random CLIP (3 blocks, width 64) and a tiny
# random DINOv2 (2 blocks, width 32), 64 crops, 2 iterations, single-scale
# test without CRF. Numbers from it only show that everything runs.
#
#   python tools/train.py \
#       configs/weclip/weclip-plus_tiny-clip-tiny-dinov2_1xb2-2iter_voc-mini-64x64.py
_base_ = ['./weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py']

data_root = 'data/voc_mini'
crop_size = (64, 64)
max_iters = 2

model = dict(
    data_preprocessor=dict(size=crop_size),
    clip=dict(model_name='mmwsss-tiny-ViT-16', pretrained=None),
    dino=dict(arch='tiny', pretrained=None),
    num_blocks=2,  # all blocks but the last of the 3-block tiny CLIP
    embed_dim=32,
    decoder_heads=2,
    test_cfg=dict(mode='whole', resize_long=None, crf=False))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomRatioScale', ratio_range=(0.15, 0.3)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomPadCrop', crop_size=crop_size, pad_val=0),
    dict(type='PackWSSSInputs'),
]
_mini = dict(data_root=data_root, seg_map_fallback=[], label_cache=None)
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline,
        **_mini),
    **_loader)
val_dataloader = dict(
    dataset=dict(ann_file='ImageSets/Segmentation/val.txt', **_mini),
    **_loader)
test_dataloader = val_dataloader

param_scheduler = [dict(_base_.param_scheduler[0], warmup_iters=1,
                        max_iters=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=max_iters))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
