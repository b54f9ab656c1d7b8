# Backbone swap by inheritance: Mask2Former with Swin-B (ImageNet-21k,
# 384 pre-training) instead of Swin-L, everything else from the parent.
# FMA-WSSS suppl. Table S2 (VOC val mIoU): Swin-B IN-21k 81.4 (IN-1k 80.3,
# Swin-L IN-21k 82.6).
_base_ = [
    './mask2former_swin-l-in22k-384x384-pre_2xb2-80k_voc12aug-pseudo-512x512.py'
]
pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth'  # noqa
model = dict(
    backbone=dict(
        embed_dims=128,
        num_heads=[4, 8, 16, 32],
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]))
