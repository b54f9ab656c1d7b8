# DeepLab-v2 R101 trained on WSSS seeds (PASCAL VOC 2012 trainaug), the
# segmentation network of the foundation-model WSSS survey's experiments
# (papers/wsss_survey_foundation_models.txt, sec. 5.1.3 "DeepLabV2 model")
# and the "DeepLab V2 R101 76.7" row of FMA-WSSS suppl. Table S2.
#
#   python tools/train.py \
#       configs/deeplabv2/deeplabv2_r101-d8_1xb5-20k_voc12aug-pseudo-321x321.py
#   python tools/test.py \
#       configs/deeplabv2/deeplabv2_r101-d8_1xb5-20k_voc12aug-pseudo-321x321.py \
#       CKPT
#
# Survey settings (all taken over here):
#   * ImageNet-pretrained ResNet-101, DeepLab-v2 ASPP head
#     (configs/_base_/models/deeplabv2_r101.py);
#   * 321x321 random crops, horizontal flips (plus DeepLab's random scaling
#     0.5-1.5, its usual companion of the 321 crop);
#   * VOC: 20k iterations, batch 5 (COCO: 100k iterations, batch 10);
#   * learning rate 2.5e-4, weight decay 5e-4; DeepLab's recipe around
#     them: SGD momentum 0.9, poly decay (power 0.9), classifier learning
#     rate x10 on weights and x20 (no decay) on biases, frozen BN.
#   * 2 NVIDIA L40 GPUs, ~3 h on VOC. The batch here is one process x 5;
#     on G GPUs set train_dataloader.batch_size so that G x batch = 5
#     (or keep 5 per GPU and pass --auto-scale-lr).
# Test: single scale at the original image size (DeepLab practice; the
# survey does not describe its test-time protocol); `--tta` runs mmseg's
# inherited multi-scale + flip `tta_pipeline` (SegTTAModel).
# Composed like mmseg's own configs: model + mmseg's VOC data recipe +
# runtime + the 20k schedule, with the train set swapped for the seeds
# (../_base_/datasets/voc12aug_pseudo.py) and DeepLab-v2's pipelines,
# optimiser and batch.
# Survey Table 1 with this network (R101 DeepLab-v2; pseudo-mask mIoU ->
# segmentation mIoU VOC val / test, COCO val):
#   SAM (text input) 86.4 -> 72.7 / 72.8, COCO 50.8 (row 59);
#   CLIP-ES 75.0 -> 71.1 / 71.4, COCO 45.4 (row 57);
#   fully supervised 75.3 / 75.6, COCO 53.5 (row 61, upper bound).
_base_ = [
    '../_base_/models/deeplabv2_r101.py',
    'mmseg::_base_/datasets/pascal_voc12.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py',
    '../_base_/datasets/voc12aug_pseudo.py',
]
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

crop_size = (321, 321)
model = dict(data_preprocessor=dict(size=crop_size))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # long side ~512 x U(0.5, 1.5): VOC images (<= 500 px) are scaled by
    # ~0.5-1.5 of their size, as DeepLab-v2 does
    dict(
        type='RandomResize',
        scale=(512, 512),
        ratio_range=(0.5, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=5,
    dataset=dict(
        _delete_=True, **_base_.voc12aug_pseudo, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# DeepLab: classifier lr x10 on weights, x20 and no decay on biases (the
# key 'decode_head' covers every branch; the bias keys name the four
# default branches, aspp_convs.0-3; longer keys win in mmengine); the SGD
# of schedule_20k (momentum 0.9, wd 5e-4) at the survey's lr
optimizer = dict(lr=2.5e-4)
optim_wrapper = dict(
    optimizer=optimizer,
    paramwise_cfg=dict(
        custom_keys={
            'decode_head': dict(lr_mult=10.),
            **{
                f'decode_head.aspp_convs.{i}.bias':
                dict(lr_mult=20., decay_mult=0.)
                for i in range(4)
            }
        }))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.,
        power=0.9,
        begin=0,
        end=20000,
        by_epoch=False)
]
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=5)
