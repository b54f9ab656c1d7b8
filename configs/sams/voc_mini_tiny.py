# The 15 bundled VOC images (data/voc_mini) with the tiny random SAM: the
# CPU demo and the tests. With real weights, run the same dataset with
#   --cfg-options sam_generator.model_type=vit_h \
#       sam_generator.checkpoint=checkpoints/sam_vit_h_4b8939.pth ...
# or inherit ./sam_vit_h.py instead of ./sam_tiny.py.
_base_ = ['./sam_tiny.py']

data_root = 'data/voc_mini'
_split = dict(
    type='PascalVOCDataset',
    data_root=data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    pipeline=[])
# all 15 images: train (10) + val (5)
dataset = dict(
    type='ConcatDataset',
    datasets=[
        dict(**_split, ann_file='ImageSets/Segmentation/train.txt'),
        dict(**_split, ann_file='ImageSets/Segmentation/val.txt'),
    ])
mask_dir = 'work_dirs/sam_masks/voc_mini_tiny'
