# SAM quasi-superpixels of PASCAL VOC 2012 train (1,464 images), ViT-H.
#   python tools/gen_sam_masks.py configs/sams/voc_train.py
#   bash tools/dist_gen_sam_masks.sh configs/sams/voc_train.py 8
# Only the image paths are read, so mmseg's PascalVOCDataset (no label
# parsing) is used; any dataset whose data infos carry `img_path` works.
_base_ = ['./sam_vit_h.py']

data_root = 'data/VOCdevkit/VOC2012'
dataset = dict(
    type='PascalVOCDataset',
    data_root=data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/train.txt',
    pipeline=[])
mask_dir = 'work_dirs/sam_masks/voc'
