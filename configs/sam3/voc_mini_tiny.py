# CPU smoke config of ./voc_concept_seeds.py on the 10 bundled VOC training
# images (data/voc_mini) with a tiny random SAM 3 (mmwsss/models/sams/
# sam3_builder.py; instance scores of random weights lie near 0.3-0.45, so
# the threshold is lowered). Checks the plumbing, not the method:
#   python tools/test.py configs/sam3/voc_mini_tiny.py none
_base_ = ['./voc_concept_seeds.py']

data_root = 'data/voc_mini'
model = dict(
    sam3=dict(model_type='tiny', checkpoint=None, confidence_threshold=0.3),
    device='cpu')
_mini = dict(data_root=data_root, label_cache=None)
test_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        seg_map_fallback=[],
        **_mini))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_mini)
test_evaluator = dict(
    seed_dir='work_dirs/sam3_voc_mini_tiny/seeds',
    out_dir='work_dirs/sam3_voc_mini_tiny')
