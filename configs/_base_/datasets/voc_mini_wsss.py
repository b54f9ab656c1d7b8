# The 15 bundled VOC images (data/voc_mini: 10 train, 5 val) in the layout of
# voc_wsss.py, for the demo and tests. Labels come from the GT masks (equal
# to data/voc_mini/image_labels.json).
_base_ = ['./voc_wsss.py']

data_root = 'data/voc_mini'
train_split = 'ImageSets/Segmentation/train.txt'
val_split = 'ImageSets/Segmentation/val.txt'
crop_size = (224, 224)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=(448, 448),
        ratio_range=(0.5, 1.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]

_mini = dict(
    data_root=data_root, seg_map_fallback=[], label_cache=None)
train_dataset = dict(ann_file=train_split, pipeline=train_pipeline, **_mini)
train_eval_dataset = dict(ann_file=train_split, **_mini)
val_dataset = dict(ann_file=val_split, **_mini)

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=train_dataset)
train_eval_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=train_eval_dataset)
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=val_dataset)
test_dataloader = val_dataloader
