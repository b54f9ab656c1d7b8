# Backbone swap by inheritance: the R101 seed-trained DeepLabV3+ with an
# ImageNet-1k ResNet-50-V1c. Everything else (seeds, schedule, SAMS TTA)
# comes from the parent config.
_base_ = './deeplabv3plus_r101-d8_4xb4-80k_voc12aug-pseudo-512x512.py'
model = dict(pretrained='open-mmlab://resnet50_v1c', backbone=dict(depth=50))
