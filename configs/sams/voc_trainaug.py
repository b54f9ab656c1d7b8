# SAM quasi-superpixels of PASCAL VOC 2012 trainaug (10,582 images), ViT-H.
# trainaug.txt is written by mmseg's voc_aug converter (see
# configs/_base_/datasets/voc_wsss.py). All VOC splits share one mask_dir:
# cache files are named by image id.
_base_ = ['./voc_train.py']

dataset = dict(ann_file='ImageSets/Segmentation/trainaug.txt')
