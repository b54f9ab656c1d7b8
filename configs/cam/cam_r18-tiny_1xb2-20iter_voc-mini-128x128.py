# CPU smoke config of ./cam_r50_1xb16-3310iter_voc12aug-512x512.py on the
# bundled VOC images (data/voc_mini: trains on the 10 train images, seeds
# them): a random 8-channel ResNet-18, 128 crops, 20 iterations,
# single-scale CAMs.
#
#   python tools/train.py \
#       configs/cam/cam_r18-tiny_1xb2-20iter_voc-mini-128x128.py
#   python tools/test.py \
#       configs/cam/cam_r18-tiny_1xb2-20iter_voc-mini-128x128.py \
#       work_dirs/cam_r18-tiny_1xb2-20iter_voc-mini-128x128/iter_20.pth
_base_ = ['./cam_r50_1xb16-3310iter_voc12aug-512x512.py']

data_root = 'data/voc_mini'
crop_size = (128, 128)
max_iters = 20
cam_dir = 'work_dirs/cam_r18-tiny_1xb2-20iter_voc-mini-128x128'
seed_dir = cam_dir + '/seeds'

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=8, base_channels=8, init_cfg=None),
    in_channels=64,
    test_scales=(1.0, ),
    test_flip=False)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=(160, 160),
        ratio_range=(0.5, 1.0),
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackWSSSInputs'),
]
_mini = dict(
    data_root=data_root,
    ann_file='ImageSets/Segmentation/train.txt',
    seg_map_fallback=[],
    label_cache=None)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline, **_mini))
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_mini)
test_evaluator = dict(seed_dir=seed_dir, out_dir=cam_dir)

optim_wrapper = dict(optimizer=dict(lr=0.01))
# The parent's poly schedule, over max_iters.
param_scheduler = [dict(_base_.param_scheduler[0], end=max_iters)]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=max_iters))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
