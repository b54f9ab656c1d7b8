# SAM quasi-superpixels of MS COCO 2014 val (40,137 labelled images), ViT-H.
_base_ = ['./coco_train.py']

dataset = dict(
    ann_file='annotations/instances_val2014.json',
    data_prefix=dict(img_path='val2014', seg_map_path=None))
