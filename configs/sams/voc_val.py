# SAM quasi-superpixels of PASCAL VOC 2012 val (1,449 images), ViT-H: for
# SAMS as test-time post-processing.
_base_ = ['./voc_train.py']

dataset = dict(ann_file='ImageSets/Segmentation/val.txt')
