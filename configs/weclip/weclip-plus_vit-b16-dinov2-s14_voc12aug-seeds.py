# WeCLIP+'s online pseudo labels of the VOC trainaug images as seed PNGs
# (one per image, original size), scored by SeedMetric against the GT; the
# seeds train any second-stage segmentor through PseudoLabelDataset, and
# tools/compare_seeds.py / the report put them beside FMA-WSSS's.
#
#   python tools/test.py \
#       configs/weclip/weclip-plus_vit-b16-dinov2-s14_voc12aug-seeds.py \
#       work_dirs/weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320/iter_30000.pth
#
# The label of an image is the one the authors' test script returns beside
# the segmentation: computed on the image resized to long side 512
# (resize_long), CAMs and PAR at the original size.
_base_ = ['./weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py']

seed_dir = 'work_dirs/weclip-plus_vit-b16-dinov2-s14_voc12aug-seeds/seeds'
model = dict(
    test_cfg=dict(mode='whole', resize_long=512, crf=False, output='pseudo'))
test_dataloader = {{_base_.train_eval_dataloader}}
test_evaluator = dict(
    _delete_=True,
    type='SeedMetric',
    seed_dir=seed_dir,
    out_dir='work_dirs/weclip-plus_vit-b16-dinov2-s14_voc12aug-seeds',
    overwrite=False)
