# SAM quasi-superpixels of MS COCO 2014 train (the 82,081 labelled images;
# mmwsss's COCOImageLabelDataset skips unlabelled ones), ViT-H.
#   bash tools/dist_gen_sam_masks.sh configs/sams/coco_train.py 8
_base_ = ['./sam_vit_h.py']

data_root = 'data/coco2014'
dataset = dict(
    type='COCOImageLabelDataset',
    data_root=data_root,
    ann_file='annotations/instances_train2014.json',
    data_prefix=dict(img_path='train2014', seg_map_path=None),
    pipeline=[])
mask_dir = 'work_dirs/sam_masks/coco2014'
