# DeepLabV3+ R101-D8 trained on FMA-WSSS seeds (PASCAL VOC 2012 trainaug),
# evaluated on VOC val with the real ground truth; `--tta` = multi-scale +
# flip + SAMS refinement (the paper's DeepLabV3+ protocol).
#
#   python tools/train.py \
#       configs/deeplabv3plus/deeplabv3plus_r101-d8_voc-pseudo.py
#   python tools/test.py \
#       configs/deeplabv3plus/deeplabv3plus_r101-d8_voc-pseudo.py \
#       work_dirs/deeplabv3plus_r101-d8_voc-pseudo/iter_80000.pth --tta
#
# Paths: mm configs resolve variables when the file is read, so change the
# folders by editing the variables below, or on the command line through
# the keys that use them, e.g.
#   --cfg-options train_dataloader.dataset.seed_dir=work_dirs/my_seeds \
#                 tta_model.mask_dir=work_dirs/sam_masks/voc
#
# Settings (paper, supplementary G: "DeepLab V3+ with a batch size of 16 ...
# 120 epochs on PASCAL VOC ... other training and inference settings follow
# MM-Segmentation"):
#   * mmseg's deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512: ImageNet-1k
#     ResNet-101-V1c, SGD lr 0.01, momentum 0.9, wd 5e-4, poly (power 0.9,
#     eta_min 1e-4), 512x512 crops, random resize 0.5-2.0, flip, photometric
#     distortion, 4 GPUs x 4 images = batch 16 (on G GPUs set
#     train_dataloader.batch_size=16/G; `--auto-scale-lr` rescales the lr
#     from base_batch_size 16 if the total batch differs).
#   * Schedule: 120 epochs x 10,582 trainaug images / 16 = 79,365 iterations
#     -> 80k iterations (the authors' stage-2 run names, "bt16-80...", agree).
#   * Train labels: the seed PNGs of stage 1 (<seed_dir>/<image stem>.png,
#     0 = background, 1..20 classes), paired with the trainaug images by
#     mmwsss's PseudoLabelDataset. Val/test: VOC val with real ground truth.
#   * Test: single scale by default; `--tta` runs mmseg's 6 scales
#     (0.5, 0.75, 1.0, 1.25, 1.5, 1.75) x flip, averages the softmax
#     (SegTTAModel), then re-labels each SAM quasi-superpixel with SAMS
#     (SAMSTTAModel; pixels no mask covers keep the merged prediction).
#     The SAM masks of the val images come from tools/gen_sam_masks.py
#     (folder `sam_mask_dir`).
#
# Paper, Table 3 (VOC 2012 val mIoU, DeepLabV3+ R101 trained on FMA seeds):
#   multi-scale, no post-processing 75.9 | + dense CRF 75.5 | + SAMS 77.3
#   Table 7: 77.3 val / 76.7 test.  (Mask2Former Swin-L: 82.6 / 81.6.)
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py'
]
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)

# ---- the folders a user changes -------------------------------------------
seed_dir = 'work_dirs/fma_voc_seeds/seeds'  # stage-1 seed PNGs (trainaug)
sam_mask_dir = 'work_dirs/sam_masks/voc'  # configs/sams/voc_val.py writes here
data_root = 'data/VOCdevkit/VOC2012'
train_split = 'ImageSets/Segmentation/trainaug.txt'  # 10,582 images
# SAMS on the merged softmax (scoring='prob', the authors' post-processing
# of segmentation outputs): mask means of [p_bg, p_c...], the background
# mean raised to sams_alpha, argmax. The authors tried alpha 1-5 (> 1 gives
# more foreground) and kept the best on val; 1 = plain mask-mean vote.
sams_alpha = 1.0
# ---------------------------------------------------------------------------

max_iters = 80000
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(2048, 512),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]

# Train: trainaug images (VOC layout; the trainaug list comes from mmseg's
# tools/dataset_converters/voc_aug.py), labels = seeds. The inner dataset
# only supplies the images; its GT paths are not read.
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        seed_dir=seed_dir,
        allow_missing=False,
        dataset=dict(
            type='PascalVOCDataset',
            data_root=data_root,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
            ann_file=train_split),
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PascalVOCDataset',
        data_root=data_root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# `tools/test.py ... --tta`: mmseg's multi-scale + flip pipeline (inherited
# `tta_pipeline`, scales 0.5-1.75) merged and refined by SAMS.
tta_model = dict(
    _delete_=True,
    type='SAMSTTAModel',
    mask_dir=sam_mask_dir,
    scoring='prob',
    alpha=sams_alpha,
    uncovered='pred')

param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=8000,
        max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=16)
