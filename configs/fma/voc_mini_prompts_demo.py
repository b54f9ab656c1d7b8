# The FMA-WSSS prompt schedule on the 15 bundled VOC images (data/voc_mini)
# with a tiny random CLIP: what `make demo` and the tests run on a CPU in
# seconds. Same model, losses and loop as ./voc_prompts.py; only the data,
# the iteration counts and the CLIP size change. With real weights:
#   --cfg-options model.clip.model_name=ViT-B-16 \
#                 model.clip.pretrained=/path/to/ViT-B-16.pt
_base_ = ['./voc_prompts.py']

sam_mask_dir = 'work_dirs/sam_masks/voc_mini_tiny'  # configs/sams/voc_mini_tiny
cls_iters = 20
seg_iters = 20
warmup_iters = 5
_mini = dict(
    data_root='data/voc_mini',
    ann_file='ImageSets/Segmentation/train.txt',
    seg_map_fallback=[],
    label_cache=None)
_loader = dict(num_workers=0, persistent_workers=False)

model = dict(
    # random weights; sharper random attention (x4 query/key) keeps CAM
    # structure through CAA (FrozenCLIP.random_attn_scale; ignored with real
    # weights)
    clip=dict(
        model_name='mmwsss-tiny-ViT-16',
        pretrained=None,
        random_attn_scale=4.0),
    seeder=dict(
        cls=dict(mask_dir=sam_mask_dir), seg=dict(mask_dir=sam_mask_dir)))
train_dataloader = dict(batch_size=4, dataset=_mini, **_loader)
train_cfg = dict(
    cls_iters=cls_iters,
    seg_iters=seg_iters,
    seg_dataloader=dict(batch_size=4, **_loader))
param_scheduler = [
    dict(
        type='WarmupCosineLR',
        warmup_iters=warmup_iters,
        warmup_lr=1e-5,
        begin=0,
        end=cls_iters),
    dict(
        type='WarmupCosineLR',
        warmup_iters=warmup_iters,
        warmup_lr=1e-5,
        begin=cls_iters,
        end=cls_iters + seg_iters),
]
test_dataloader = dict(
    dataset=dict(data_root='data/voc_mini', label_cache=None), **_loader)
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=20, max_keep_ckpts=3))
