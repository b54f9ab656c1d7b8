# PASCAL VOC 2012 for weakly supervised segmentation (image-level labels).
#
# Layout and the SBD -> trainaug conversion (mmseg's own converter):
#   python <site-packages>/mmseg/.mim/tools/dataset_converters/voc_aug.py \
#       data/VOCdevkit data/VOCdevkit/VOCaug --nproc 8
# writes VOC2012/SegmentationClassAug/*.png and
# VOC2012/ImageSets/Segmentation/{trainaug,aug}.txt
# (see mmwsss/datasets/voc.py).
#
# Training images never load their GT: `train_pipeline` has no
# LoadAnnotations (weak supervision = image labels only). The GT paths stay
# in the data infos so that seeds can be scored (`train_eval_dataloader`).
# Children override `train_pipeline` / `test_pipeline` and then re-set the
# dataloaders' `pipeline` (mm configs do not re-evaluate base variables).
_base_ = ['./wsss_common.py']

dataset_type = 'VOCImageLabelDataset'
data_root = 'data/VOCdevkit/VOC2012'
train_split = 'ImageSets/Segmentation/trainaug.txt'
val_split = 'ImageSets/Segmentation/val.txt'
# Official GT first, SBD masks for the images VOC lacks (trainaug).
train_seg_map_path = 'SegmentationClass'
train_seg_map_fallback = ['SegmentationClassAug']
# None: image labels from the GT masks; or a .json {id: [1..20]} or the
# CLIMS/CLIP-ES cls_labels.npy (relative to data_root unless absolute).
label_file = None
# Optional JSON cache of the mask-derived labels, e.g.
# 'work_dirs/voc_labels.json' (rebuilt for masks that changed).
label_cache = None

# crop_size, train_pipeline, test_pipeline, dataloaders, evaluators:
# ./wsss_common.py.

train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file=train_split,
    data_prefix=dict(img_path='JPEGImages', seg_map_path=train_seg_map_path),
    seg_map_fallback=train_seg_map_fallback,
    label_file=label_file,
    label_cache=label_cache,
    pipeline=_base_.train_pipeline)
# The training images with their GT, one at a time at full size: coarse /
# final seed generation and seed scoring.
train_eval_dataset = dict(
    train_dataset, pipeline=_base_.test_pipeline, test_mode=True)
val_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file=val_split,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    label_cache=label_cache,
    pipeline=_base_.test_pipeline,
    test_mode=True)

train_dataloader = dict(dataset=train_dataset)
train_eval_dataloader = dict(dataset=train_eval_dataset)
val_dataloader = dict(dataset=val_dataset)
test_dataloader = val_dataloader
