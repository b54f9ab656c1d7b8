# FMA-WSSS stage 1 on PASCAL VOC 2012 trainaug: learn the cls and seg
# prompts of a frozen CLIP ViT-B/16 (paper Sec. 4, authors' schedule).
#
#   python tools/gen_sam_masks.py configs/sams/voc_trainaug.py   # once
#   python tools/train.py configs/fma/voc_prompts.py [--amp] [--resume]
#   bash tools/dist_train.sh configs/fma/voc_prompts.py 8
#
# One run = phase 1 (cls prompts, MCL loss, 1,800 iterations) -> coarse seeds
# D_C of every trainaug image (cls CAMs -> CAA t 0.4 -> SAMS alpha 0.6) in
# <work_dir>/coarse_seeds -> phase 2 (seg prompts, CAL loss against D_C,
# 17,000 iterations). `--resume` picks up in any phase. The checkpoint holds
# the prompts only (376,832 parameters = 0.38 M, 0.8 MB at fp16); CLIP's
# weights always come from `clip.pretrained`.
# Then the fine seeds: configs/fma/voc_seeds.py.
#
# Weights: `model.clip.pretrained` = 'openai' (downloaded once by open_clip)
# or a local ViT-B-16.pt / open_clip state dict. SAM masks: `sam_mask_dir`.
_base_ = [
    '../_base_/datasets/voc_wsss.py', '../_base_/models/clip_vit_b16.py',
    '../_base_/schedules/fma_two_phase.py', 'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

sam_mask_dir = 'work_dirs/sam_masks/voc'  # tools/gen_sam_masks.py output
crop_size = (224, 224)

model = dict(
    type='FMAPromptModel',
    clip={{_base_.clip}},
    data_preprocessor={{_base_.clip_data_preprocessor}},
    dataset='voc',
    # unified context over 20 fg + 25 CLIP-ES bg classes, label at the end
    cls_prompt=dict(type='ClsPromptLearner', n_ctx=16, ctx_std=0.015),
    # class-specific context, label in front, 25 label-free bg prompts
    seg_prompt=dict(
        type='SegPromptLearner',
        n_ctx=16,
        ctx_std=0.125,
        num_bg=25,
        class_specific=True,
        label_position='front'),
    mcl_loss=dict(type='MCLLoss'),
    cal_loss=dict(type='CALLoss'),
    cal_labels='crop',
    test_task='seg',
    # CAA: cls threshold 0.4 on the normalised score, seg 0.5 on the CAM
    caa=dict(
        cls=dict(threshold=0.4, aff_at='score', last_k=8),
        seg=dict(threshold=0.5, aff_at='cam', last_k=8)),
    seeder=dict(
        cls=dict(type='SAMSSeeder', alpha=0.6, mask_dir=sam_mask_dir),
        seg=dict(type='SAMSSeeder', alpha=0.7, mask_dir=sam_mask_dir)))

# The authors' augmentation (configs/clip_cam/base.py, AlchemyCat's augers),
# in their order: colour jitter on the uint8 image (brightness +-25, contrast
# x[0.6, 1.4], saturation x[0.5, 1.5], hue +-25, each p 0.5, random order);
# long side to an integer in [288, 480] with the short side >= 224 (PIL
# bicubic, labels nearest), so the 224 crop never pads; flip p 0.5. Phase 2
# applies it to the image and its coarse seed D_C.
fma_augmentation = [
    dict(type='RandColorJitter'),
    dict(type='RandRangeScale', low_size=288, high_size=480, short_thresh=224),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [dict(type='LoadImageFromFile')
                  ] + fma_augmentation + [dict(type='PackWSSSInputs')]
seg_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations')
] + fma_augmentation + [dict(type='PackWSSSInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))

train_cfg = dict(
    # phase 2 reads the coarse seeds as labels of the same images
    seg_dataloader=dict(
        batch_size=16,
        num_workers=4,
        persistent_workers=True,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='PseudoLabelDataset',
            seed_dir=None,  # filled in: <work_dir>/coarse_seeds
            dataset=None,  # derived: train_dataloader.dataset's images
            pipeline=seg_train_pipeline)),
    # every training image at full size, with GT to score D_C; None:
    # derived from train_dataloader.dataset (mmwsss/engine/derived_data.py)
    coarse_seeds=dict(
        dataloader=None,
        alphas=[0.6],
        overwrite=False))

# No validation during training (seeds are scored after each phase).
val_dataloader = None
val_evaluator = None

# tools/test.py with this config: seeds of the val images (seg prompts).
test_dataloader = {{_base_.val_dataloader}}
test_evaluator = dict(type='SeedMetric', _delete_=True)
randomness = dict(seed=0)
