# SAM with text input (WSSS survey sec. 4.2.1, Table 1 row 59, Grounded-SAM):
# per VOC training image, Grounding DINO Swin-T is prompted with the image's
# class names ("dog . person ."; box threshold 0.3, text threshold 0.25),
# SAM ViT-H segments every box, and the box masks are painted into a seed
# (overlaps: the highest box score wins; uncovered pixels: background).
# Seeds go to `seed_dir` as palette PNGs and are scored against the GT
# (SeedMetric); they then train stage 2 (survey: configs/deeplabv2).
# Training-free: no checkpoint of its own, hence the checkpoint name `none`:
#
#   python tools/test.py \
#       configs/sam_text/sam-text_gdino-swin-t_sam-vit-h_voc12aug.py none \
#       --cfg-options \
#       model.detector_checkpoint=PATH/groundingdino_swint_ogc_mmdet-822d7e9d.pth \
#       model.sam.checkpoint=PATH/sam_vit_h_4b8939.pth \
#       model.detector.language_model.name=PATH/bert-base-uncased
#   bash tools/dist_test.sh \
#       configs/sam_text/sam-text_gdino-swin-t_sam-vit-h_voc12aug.py none 8 \
#       --cfg-options ...
# (the defaults below expect the two files in checkpoints/).
#
# Weights:
#   model.detector_checkpoint  mmdet's Grounding DINO Swin-T, from
#       https://download.openmmlab.com/mmdetection/v3.0/grounding_dino/
#       groundingdino_swint_ogc_mmdet-822d7e9d.pth
#   model.sam.checkpoint       SAM ViT-H (model.sam.model_type='vit_h'), from
#       https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth
#   model.detector.language_model.name
#       'bert-base-uncased' (hub) or a local copy of it
# Other options: model.box_threshold / model.text_threshold, the split
# (test_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt), and
# test_evaluator.seed_dir.
# Published (survey Table 1): pseudo masks 86.4 mIoU (VOC train), DeepLabV2
# R101 on them 72.7 val / 72.8 test; COCO 50.8.
_base_ = [
    '../_base_/schedules/training_free_voc_seeds.py',
    '../_base_/models/grounding_dino_swin-t.py'
]

seed_dir = 'work_dirs/sam_text_voc_seeds/seeds'
model = dict(
    type='SAMTextSeeder',
    detector={{_base_.grounding_dino}},
    detector_checkpoint=
    'checkpoints/groundingdino_swint_ogc_mmdet-822d7e9d.pth',
    detector_scale=(800, 1333),
    sam=dict(
        model_type='vit_h', checkpoint='checkpoints/sam_vit_h_4b8939.pth'),
    dataset='voc',
    box_threshold=0.3,
    text_threshold=0.25,
    max_boxes=100)

test_evaluator = dict(
    seed_dir=seed_dir, out_dir='work_dirs/sam_text_voc_seeds')
val_evaluator = test_evaluator
