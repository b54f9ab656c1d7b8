# CPU smoke config of ./sam-text_gdino-swin-t_sam-vit-h_voc12aug.py on the
# 10 bundled VOC training images (data/voc_mini): a shrunk random Grounding DINO (1-block Swin stages of 16
# channels, one encoder / decoder layer, 2 heads and 2 sampling points, 50
# queries; the width stays 256, which mmdet 3.3's text positional encoding
# fixes), a tiny random BERT written to `tiny_bert_dir` on first use, and
# the tiny random SAM. The seeds are random-model seeds: this checks the
# plumbing, not the method.
#
#   python tools/test.py configs/sam_text/sam-text_tiny_voc-mini.py none
_base_ = ['./sam-text_gdino-swin-t_sam-vit-h_voc12aug.py']

data_root = 'data/voc_mini'
tiny_bert_dir = 'work_dirs/tiny_bert'
model = dict(
    detector=dict(
        num_queries=50,
        language_model=dict(name=tiny_bert_dir),
        backbone=dict(
            embed_dims=16,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 1, 1],
            mlp_ratio=2,
            drop_path_rate=0.),
        neck=dict(in_channels=[32, 64, 128], norm_cfg=dict(num_groups=8)),
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(num_heads=2, num_points=2),
                ffn_cfg=dict(feedforward_channels=64)),
            text_layer_cfg=dict(
                self_attn_cfg=dict(num_heads=2),
                ffn_cfg=dict(feedforward_channels=64)),
            fusion_layer_cfg=dict(embed_dim=64, num_heads=2)),
        decoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(num_heads=2),
                cross_attn_text_cfg=dict(num_heads=2),
                cross_attn_cfg=dict(num_heads=2, num_points=2),
                ffn_cfg=dict(feedforward_channels=64))),
        bbox_head=dict(num_classes=20),
        dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
        test_cfg=dict(max_per_img=50)),
    detector_checkpoint=None,
    detector_random_init=True,
    detector_tiny_bert=True,
    detector_scale=(320, 512),
    sam=dict(model_type='tiny', checkpoint=None, seed=0))

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
    seed_dir='work_dirs/sam_text_voc_mini_tiny/seeds',
    out_dir='work_dirs/sam_text_voc_mini_tiny')
