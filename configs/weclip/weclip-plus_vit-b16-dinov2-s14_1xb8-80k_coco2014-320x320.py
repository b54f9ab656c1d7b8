# WeCLIP+ on MS COCO 2014 (81 classes), as the authors' public code trains
# it (WeCLIP+/configs/coco_attn_reg.yaml, scripts/dist_clip_coco.py,
# WeCLIP_Plus/model_attn_aff_coco.py): the VOC recipe
# (./weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py) with
# - GradCAM on block 10's output (the true 12-layer CLIP), the last 8
#   attention maps, box masks at threshold 0.7 kept, seg-prob weighting;
# - the 23 CLIP-ES COCO background prompts and CLIP-ES COCO names;
# - batch 8, 80k iterations, self-correction after 40k, lr 2e-4 (10 x 2e-5);
# - test: long side 512, scales 1 and 1.5, flips, no CRF
#   (test_msc_flip_coco.py leaves crf_proc commented out).
# Data as ../_base_/datasets/coco_wsss.py lays it out (GT masks converted
# with tools/dataset_converters/coco_to_masks.py).
_base_ = ['./weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py']

data_root = 'data/coco2014'
_coco = dict(
    _delete_=True,
    type='COCOImageLabelDataset',
    data_root=data_root,
    label_cache=None)

max_iters = 80000
model = dict(
    dataset='coco',
    cam_cfg=dict(
        cam_block=-1, attn_maps=8, box_threshold=0.7, seg_prob_weight=True),
    loss_cfg=dict(self_correct_iter=40000),
    test_cfg=dict(crf=False))
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        ann_file='annotations/instances_train2014.json',
        data_prefix=dict(
            img_path='train2014', seg_map_path='SegmentationClass/train2014'),
        pipeline=_base_.train_pipeline,
        **_coco))
val_dataloader = dict(
    dataset=dict(
        ann_file='annotations/instances_val2014.json',
        data_prefix=dict(
            img_path='val2014', seg_map_path='SegmentationClass/val2014'),
        pipeline=_base_.test_pipeline,
        test_mode=True,
        **_coco))
test_dataloader = val_dataloader
param_scheduler = [dict(_base_.param_scheduler[0], max_iters=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=10000))
