# SAM quasi-superpixel generation (stage 0) with the paper's settings:
# segment-anything's automatic mask generator (ViT-H) plus FMA-WSSS's three
# changes, i.e. the authors' config `l2_nmsf_s1_rsw3`
# (reference_behaviour.md section 1.2).
#
#   python tools/gen_sam_masks.py configs/sams/voc_trainaug.py
#   bash tools/dist_gen_sam_masks.sh configs/sams/voc_trainaug.py 8
#
# Weights: download
#   https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth
# to checkpoints/ (or set sam_generator.checkpoint with --cfg-options).
# Dataset configs in this folder inherit this file and add `dataset` and
# `mask_dir`; the cache files record a fingerprint of everything below that
# changes the masks, so a cache made with other settings is regenerated.
default_scope = 'mmseg'
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

sam_generator = dict(
    type='SAMQuasiSuperpixelGenerator',
    model_type='vit_h',
    checkpoint='checkpoints/sam_vit_h_4b8939.pth',
    random_init=False,
    seed=0,
    device=None,  # cuda if available (cuda:LOCAL_RANK when distributed)
    # upstream AMG parameters
    points_per_side=32,
    points_per_batch=256,  # memory/speed only; 64 is fine on CPU
    pred_iou_thresh=0.86,
    stability_score_thresh=0.92,
    stability_score_offset=1.0,
    box_nms_thresh=0.7,
    crop_n_layers=1,
    crop_nms_thresh=0.7,
    crop_overlap_ratio=512 / 1500,
    crop_n_points_downscale_factor=2,
    min_mask_region_area=100,
    # FMA-WSSS changes, per level (sub-part, part, whole)
    score_thresh_offset=(0.0, 0.0, 0.1),  # wholes pass at IoU > 0.76
    score_nms_offset=(0.0, 0.0, 1.0),  # wholes win the within-crop NMS
    stability_score_bias=(0.0, 0.0, 0.0),
    t_r=0.3,  # whole > part > sub-part occupation filter (None: off)
    filter_chunk_size=50)

# The dataset configs (voc_*.py, coco_*.py, voc_mini_tiny.py) add
# `dataset` (any dataset whose data infos carry `img_path`) and `mask_dir`.
