# A tiny randomly initialised SAM (model_type='tiny': mmwsss.testing's
# build_tiny_sam) for tests and the CPU demo. Its masks are meaningless: with
# random weights the predicted IoUs lie near 0 and the mask logits near 0, so
# the IoU filter is off and the stability score uses a small logit offset,
# otherwise no mask would pass (so change 1, the whole-level IoU offset, is
# inert here; the NMS priority and the level filter stay on).
_base_ = ['./sam_vit_h.py']

sam_generator = dict(
    model_type='tiny',
    checkpoint=None,
    seed=0,
    points_per_side=8,  # 64 + 4 x 16 prompts: a few seconds per CPU image
    points_per_batch=64,
    pred_iou_thresh=0.0,
    stability_score_thresh=0.5,
    stability_score_offset=0.01)
