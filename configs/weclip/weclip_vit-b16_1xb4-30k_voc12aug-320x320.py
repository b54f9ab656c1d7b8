# WeCLIP (Zhang et al., "Frozen CLIP: A Strong Backbone for Weakly
# Supervised Semantic Segmentation", CVPR 2024) on VOC 2012 trainaug, as the
# authors' public code trains it (github.com/zbf1991/WeCLIP, WeCLIP/): the
# WeCLIP+ recipe without DINOv2 (./weclip-plus_...voc12aug-320x320.py), with
# WeCLIP's differences:
# - one SegFormer head on all 11 CLIP block outputs; attn_pred from the 256
#   CLIP channels;
# - GradCAM on the true 12-layer CLIP (block 11 on block 10's output);
# - the affinity is the mean of the last 8 attention maps until iteration
#   15000, then the selection of WeCLIP+ among the last 6 (the authors
#   count forward calls, their validation forwards included: with their
#   validation of the 1464 train images every 2000 iterations the switch
#   comes at step 9144; set cam_cfg.switch_iter=9143 to follow that);
# - box masks (threshold 0.4) on the propagation, no seg-prob weighting;
# - loss = seg + 0.1 aff (no Dice, no mutual terms, no self-correction);
# - lr 2e-3 (10 x the config's 2e-4);
# - test: scales 1 and 0.75, flips, long side 512, no CRF.
_base_ = ['./weclip-plus_vit-b16-dinov2-s14_1xb4-30k_voc12aug-320x320.py']

model = dict(
    dino=None,
    head_blocks=11,
    cam_cfg=dict(
        cam_block=-1,
        attn_maps=6,
        warmup_attn_maps=8,
        switch_iter=15000,
        box_threshold=0.4,
        seg_prob_weight=False),
    loss_cfg=dict(
        dice=0.0, mutual=0.0, self_correct_iter=None),
    test_cfg=dict(scales=(1.0, 0.75), crf=False))
optim_wrapper = dict(optimizer=dict(lr=2e-3))
