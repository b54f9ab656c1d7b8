# Fine seeds of the 10 bundled training images (data/voc_mini) from the
# prompts of ./voc_mini_prompts_demo.py (tiny random CLIP unless overridden):
#   python tools/test.py configs/fma/voc_mini_seeds_demo.py \
#       work_dirs/voc_mini_prompts_demo/iter_40.pth
_base_ = ['./voc_mini_prompts_demo.py']

seed_dir = 'work_dirs/voc_mini_seeds_demo/seeds'
model = dict(test_task='seg', reuse_seeds_from=seed_dir)
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    # the training images at full size, with GT (as the coarse seeds)
    dataset=dict(
        type='VOCImageLabelDataset',
        data_root='data/voc_mini',
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        seg_map_fallback=[],
        label_file=None,
        label_cache=None,
        pipeline={{_base_.test_pipeline}},
        test_mode=True))
test_evaluator = dict(
    seed_dir=seed_dir,
    out_dir='work_dirs/voc_mini_seeds_demo',
    overwrite=False)
# A rerun skips finished images even if they no longer load (corrupt
# JPEG); any other unreadable image is one error naming it.
custom_hooks = [dict(type='FinishedSeedsHook')]
