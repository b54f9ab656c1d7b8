# Stage-2 data on PASCAL VOC 2012: the 10,582 trainaug images labelled by
# the stage-1 seeds (train) and VOC val with its ground truth (val / test),
# in mmseg's PascalVOCDataset layout (the trainaug list and
# SegmentationClassAug come from mmseg's tools/dataset_converters/voc_aug.py).
#
# Only named datasets, under names that no mmseg base config uses: a
# stage-2 config inherits an mmseg recipe (model, pipelines, loaders) *and*
# this file -- mmengine forbids a key in two bases -- and swaps the train
# set in one line:
#   train_dataloader = dict(dataset=dict(
#       _delete_=True, **_base_.voc12aug_pseudo, pipeline=train_pipeline))
# The pipelines stay with the recipe they belong to.
#
# Other folders: --cfg-options train_dataloader.dataset.seed_dir=DIR
# (train_dataloader.dataset.dataset.data_root=..., val_dataloader.dataset.
# data_root=...).
seed_dir = 'work_dirs/fma_voc_seeds/seeds'  # stage-1 seed PNGs (trainaug)
voc12_root = 'data/VOCdevkit/VOC2012'

# Train: the trainaug images; mmwsss's PseudoLabelDataset replaces their
# label paths by <seed_dir>/<image stem>.png (0 = background, 1..20).
voc12aug_pseudo = dict(
    type='PseudoLabelDataset',
    seed_dir=seed_dir,
    allow_missing=False,
    dataset=dict(
        type='PascalVOCDataset',
        data_root=voc12_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/trainaug.txt'))
# Val / test: the 1,449 val images with the real ground truth.
voc12_val = dict(
    type='PascalVOCDataset',
    data_root=voc12_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/val.txt')
