# Stage-2 data on MS COCO 2014 (81 classes: background + 80 objects): the
# train2014 images labelled by the stage-1 seeds, val2014 with ground-truth
# PNGs. mmseg has no 81-class COCO-object dataset, so both use mmwsss's
# COCOImageLabelDataset (images without annotations are skipped: 82,081
# train / 40,137 val images, the WSSS convention; layout in
# ./coco_wsss.py). The val GT PNGs (values 0..80, 255 ignore) come from
#   python tools/dataset_converters/coco_to_masks.py \
#       data/coco2014/annotations/instances_val2014.json \
#       data/coco2014/SegmentationClass/val2014 --nproc 8
#
# Named datasets only, as ./voc12aug_pseudo.py: a COCO stage-2 config
# inherits its VOC counterpart and this file, then swaps the datasets:
#   train_dataloader = dict(dataset=dict(
#       seed_dir=seed_dir, dataset=dict(_delete_=True, **_base_.coco2014_train)))
#   val_dataloader = dict(dataset=dict(
#       _delete_=True, **_base_.coco2014_val, pipeline=...))
coco2014_root = 'data/coco2014'
coco2014_label_cache_dir = 'work_dirs/coco_labels'  # parsed-label JSONs

# The images of the PseudoLabelDataset (its labels are the seeds).
coco2014_train = dict(
    type='COCOImageLabelDataset',
    data_root=coco2014_root,
    ann_file='annotations/instances_train2014.json',
    data_prefix=dict(img_path='train2014', seg_map_path=None),
    label_cache=coco2014_label_cache_dir + '/train2014.json')
coco2014_val = dict(
    type='COCOImageLabelDataset',
    data_root=coco2014_root,
    ann_file='annotations/instances_val2014.json',
    data_prefix=dict(
        img_path='val2014', seg_map_path='SegmentationClass/val2014'),
    label_cache=coco2014_label_cache_dir + '/val2014.json')
