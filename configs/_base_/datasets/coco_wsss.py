# MS COCO 2014 for weakly supervised segmentation (81 classes incl.
# background; image labels from the instances JSON).
#
# GT masks (needed for val mIoU and for scoring train seeds):
#   python tools/dataset_converters/coco_to_masks.py \
#       data/coco2014/annotations/instances_train2014.json \
#       data/coco2014/SegmentationClass/train2014 --nproc 8
#   (and the same for val2014)
# Images without annotations are skipped (skip_unlabeled=True): 82,081 train
# and 40,137 val images, as in WSSS papers. See mmwsss/datasets/coco.py.
_base_ = ['./wsss_common.py']

dataset_type = 'COCOImageLabelDataset'
data_root = 'data/coco2014'
train_ann_file = 'annotations/instances_train2014.json'
val_ann_file = 'annotations/instances_val2014.json'
# Parsing instances_train2014.json takes tens of seconds per process: set a
# label cache (e.g. 'work_dirs/coco_labels_train2014.json') to skip it.
train_label_cache = None
val_label_cache = None

# crop_size, train_pipeline, test_pipeline, dataloaders, evaluators:
# ./wsss_common.py.

train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file=train_ann_file,
    data_prefix=dict(
        img_path='train2014', seg_map_path='SegmentationClass/train2014'),
    label_cache=train_label_cache,
    pipeline=_base_.train_pipeline)
train_eval_dataset = dict(
    train_dataset, pipeline=_base_.test_pipeline, test_mode=True)
val_dataset = dict(
    train_eval_dataset,
    ann_file=val_ann_file,
    data_prefix=dict(
        img_path='val2014', seg_map_path='SegmentationClass/val2014'),
    label_cache=val_label_cache)

train_dataloader = dict(dataset=train_dataset)
train_eval_dataloader = dict(dataset=train_eval_dataset)
val_dataloader = dict(dataset=val_dataset)
test_dataloader = val_dataloader
