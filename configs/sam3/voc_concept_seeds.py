# SAM 3 concept seeds (training-free, beyond the paper): per VOC training
# image, each image-level class's name ("dog", "dining table", ...) is a
# SAM 3 text prompt; the instances SAM 3 returns (score > 0.5) are painted
# into one seed map (overlaps: the highest instance score wins; uncovered
# pixels: background). Seeds go to `seed_dir` as palette PNGs, scored
# against the GT by SeedMetric, comparable with every other pipeline:
#   python tools/compare_seeds.py ...  (e.g. vs work_dirs/fma_voc_seeds)
# Training-free, hence the checkpoint name `none`:
#
#   python tools/test.py configs/sam3/voc_concept_seeds.py none \
#       --cfg-options model.sam3.checkpoint=PATH/sam3.pt
#   bash tools/dist_test.sh configs/sam3/voc_concept_seeds.py none 8
#
# Weights: sam3.pt from https://huggingface.co/facebook/sam3 (gated: accept
# the SAM License there), default checkpoints/sam3.pt. Needs the sam3
# package (requirements/pinned.txt); it builds and runs on CPU too.
_base_ = ['../_base_/schedules/training_free_voc_seeds.py']

seed_dir = 'work_dirs/sam3_voc_concept_seeds/seeds'
model = dict(
    type='SAM3ConceptSeeder',
    sam3=dict(
        model_type='sam3',
        checkpoint='checkpoints/sam3.pt',
        confidence_threshold=0.5),
    dataset='voc',
    device=None)

test_evaluator = dict(
    seed_dir=seed_dir, out_dir='work_dirs/sam3_voc_concept_seeds')
val_evaluator = test_evaluator
