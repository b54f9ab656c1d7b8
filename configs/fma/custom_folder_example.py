# FMA-WSSS on your own images and classes: prompts (both phases) and seeds,
# with the data named ONCE (`dataset` below). Layout of `data_root`
# (mmwsss/datasets/folder.py):
#   images/<name>.jpg        the photos (jpg, png, bmp, tif, webp)
#   labels.json              {"<name>": ["dog", "person"], ...}  (or a CSV)
#   classes.txt              one class name a line (or the list below)
#   masks/<name>.png         optional GT, 0 = background, 1..C, 255 ignore
#
#   python tools/gen_sam_masks.py configs/sams/sam_vit_h.py \
#       --cfg-options mask_dir=work_dirs/sam_masks/my_images \
#       dataset.type=ImageLabelFolderDataset dataset.data_root=data/my_images \
#       dataset.label_file=labels.json dataset.classes=classes.txt
#   python tools/train.py configs/fma/custom_folder_example.py
#   python tools/test.py configs/fma/custom_folder_example.py \
#       work_dirs/custom_folder_example/iter_18800.pth       # the seeds
#
# Or all stages at once: python tools/run_pipeline.py data/my_images
# (it writes configs like this one into <work-dir>/configs/).
# The coarse seeds and phase 2 read the images of train_dataloader.dataset
# (mmwsss/engine/derived_data.py): nothing else names the data.
_base_ = ['./voc_prompts.py']

data_root = 'data/my_images'
classes = ['dog', 'person', 'car']  # the stored names, or 'classes.txt'
# What CLIP reads for a class, when it differs from the stored name:
prompt_names = {'person': 'person with clothes,people,human'}
# Background prompts of the cls learner: CLIP-ES's 25 by default (names
# equal to one of your classes are dropped); e.g. for aerial images:
#   bg_names = ['ground', 'grass', 'tree', 'water', 'road', 'field']
bg_names = None
sam_mask_dir = 'work_dirs/sam_masks/my_images'  # tools/gen_sam_masks.py
seed_dir = 'work_dirs/custom_folder_example/seeds'

dataset = dict(
    type='ImageLabelFolderDataset',
    data_root=data_root,
    label_file='labels.json',
    classes=classes,
    data_prefix=dict(img_path='images', seg_map_path='masks'))  # None: none

model = dict(
    dataset=None,
    classes=classes,
    class_names=prompt_names,
    bg_names=bg_names,
    test_task='seg',
    reuse_seeds_from=seed_dir,
    seeder=dict(
        cls=dict(mask_dir=sam_mask_dir), seg=dict(mask_dir=sam_mask_dir)))
train_dataloader = dict(
    dataset=dict(_delete_=True, **dataset, pipeline={{_base_.train_pipeline}}))
# The schedule of voc_prompts.py (1,800 + 17,000 iterations at batch 16 for
# 10,582 images); scale cls_iters / seg_iters (and param_scheduler's
# begin/end) with your image count.

# tools/test.py: the fine seeds of the training images (PNG, 0..C), their
# overlays, and the seed mIoU over the images that have masks.
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        _delete_=True,
        **dataset,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadOptionalAnnotations'),
            dict(type='PackWSSSInputs'),
        ],
        test_mode=True))
test_evaluator = dict(
    type='SeedMetric',
    seed_dir=seed_dir,
    out_dir='work_dirs/custom_folder_example',
    overlay_dir='work_dirs/custom_folder_example/overlays')
