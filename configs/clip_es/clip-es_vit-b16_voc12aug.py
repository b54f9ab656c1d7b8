# CLIP-ES (Lin et al., CVPR 2023), training-free: the FMA-WSSS paper's
# Table 1 baseline, built from the same components (no copies): frozen CLIP
# ViT-B/16, fixed prompts 'a clean origami {}.' over the CLIP-ES synonyms
# plus the 25 CLIP-ES background classes, Softmax-GradCAM, CAA (box
# threshold 0.4 on the normalised score, 3 Sinkhorn steps, affinity
# squared), then seeds by dense CRF (CLIP-ES's pseudo masks), a threshold,
# or SAMS.
#
#   python tools/test.py configs/clip_es/clip-es_vit-b16_voc12aug.py none
#   bash tools/dist_test.sh configs/clip_es/clip-es_vit-b16_voc12aug.py \
#       none 8
# Variants:  --cfg-options model.seeder.cls.type=ThresholdSeeder \
#                          model.seeder.cls.bg_threshold=0.5
#            --cfg-options model.seeder.cls.type=SAMSSeeder \
#                          model.seeder.cls.alpha=0.6 \
#                          model.seeder.cls.mask_dir=work_dirs/sam_masks/voc
# Published seed mIoU (FMA-WSSS paper): VOC trainaug, Table 1: CLIP-ES
# 68.7 (CRF), FMA-WSSS 74.2; VOC train, Table 6: CLIP-ES 75.0 (CAA+CRF),
# FMA-WSSS 80.4 (CAA+SAMS).
_base_ = [
    '../_base_/datasets/voc_wsss.py', '../_base_/models/clip_vit_b16.py',
    'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

seed_dir = 'work_dirs/clip_es_voc_seeds/seeds'
model = dict(
    type='FMAPromptModel',
    # CLIP-ES pools the image embedding as the mean of the patch tokens
    # after ln_post and the projection (its forward_last_layer), the same
    # as FMA-WSSS.
    clip={{_base_.clip}},
    data_preprocessor={{_base_.clip_data_preprocessor}},
    dataset='voc',
    cls_prompt=dict(type='FixedPromptLearner', template='a clean origami {}.'),
    seg_prompt=None,
    test_task='cls',
    # CLIP-ES's CAM input is the FMA-WSSS one (each side rounded up to a
    # multiple of 16, PIL bicubic: the default cam_input_size='round_up');
    # its softmax runs over the text features of the present classes and
    # the background ones only, i.e. an exact softmax.
    cam_softmax='exact',
    caa=dict(
        cls=dict(
            threshold=0.4,
            sinkhorn_iters=3,
            n_iters=2,
            aff_at='score',
            last_k=8),
        seg=None),
    seeder=dict(cls=dict(type='CRFSeeder', alpha=1.0)),
    reuse_seeds_from=seed_dir)

test_dataloader = {{_base_.train_eval_dataloader}}
test_evaluator = dict(
    _delete_=True,
    type='SeedMetric',
    seed_dir=seed_dir,
    out_dir='work_dirs/clip_es_voc_seeds')
test_cfg = dict(type='TestLoop')
train_dataloader = None
train_cfg = None
optim_wrapper = None
val_dataloader = None
val_cfg = None
val_evaluator = None
# A rerun skips finished images even if they no longer load (corrupt
# JPEG); any other unreadable image is one error naming it.
custom_hooks = [dict(type='FinishedSeedsHook')]
