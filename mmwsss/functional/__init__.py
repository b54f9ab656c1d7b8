"""mmwsss.functional: the paper's equations as plain torch/numpy functions.

The ground floor of mmwsss. Every module here imports only torch, numpy,
OpenCV and PIL (pydensecrf2 when a CRF runs): ``import mmwsss.functional``
loads none of mmengine, mmcv, mmseg, open_clip or segment_anything and
patches nothing, so Softmax-GradCAM, CAA or SAMS can be used in any code.

==========================  ==============================================
paper                       here
==========================  ==============================================
masked softmax, eq. 6       :func:`masked_softmax`, :func:`softmax_scores`
Softmax-GradCAM, eq. 5-7    :func:`grad_cam`, :func:`min_max_normalize`
CAA (CLIP-ES)               :func:`merge_attention`, :func:`caa_refine`
MCL, eq. 12                 :func:`mcl_loss`
CAL, eq. 13-15              :func:`cal_loss`
quasi-superpixel filter     :func:`filter_quasi_superpixels`
SAMS seeding, eq. 8-10      :func:`sams_seed`, :func:`sams_seed_from_record`
CAM input resize            :func:`resize_normalized_like_pil`
dense CRF (baseline)        :func:`dense_crf`, :func:`crf_seed`
classic CAM (baseline)      :func:`class_activation_maps`
WeCLIP(+) CAM refinement    :func:`select_attention_affinity`,
                            :func:`transition_matrix`,
                            :func:`propagate_cams`, :func:`cam_label_probs`
PAR (WeCLIP, AFA)           :func:`par_refine`
WeCLIP(+) losses, schedule  :func:`affinity_loss`,
                            :func:`balanced_seg_loss`,
                            :func:`weclip_dice_loss`,
                            :func:`poly_warmup_factor`
==========================  ==============================================
"""
from .caa import CLIP_ES_CAA, caa_refine, merge_attention
from .cam_input import (patch_aligned_size, pil_resize,
                        resize_nearest_like_pil, resize_normalized_like_pil)
from .cam_ops import class_activation_maps, max_normalize, multi_hot
from .crf import CLIP_ES_CRF, crf_seed, dense_crf
from .gradcam import (SOFTMAX_MODES, grad_cam, masked_softmax,
                      min_max_normalize, normalized_at_size, softmax_scores)
from .losses import cal_loss, mcl_loss
from .mask_filter import filter_quasi_superpixels
from .par import (PAR_DILATIONS, par_neighbours, par_position_logits,
                  par_refine, par_weights)
from .sams import (MaskRuns, SAMSResult, mask_runs, mask_runs_from_rle,
                   sams_seed, sams_seed_from_record)
from .weclip_cam import (cam_label_probs, cam_labels, mean_attention_affinity,
                         minmax_norm, propagate_cams, scale_grad_cam,
                         select_attention_affinity, transition_matrix)
from .weclip_losses import (affinity_loss, balanced_seg_loss,
                            cams_to_affinity_label, poly_warmup_factor,
                            radius_mask, self_correct_labels,
                            weclip_dice_loss)

__all__ = [
    'masked_softmax', 'softmax_scores', 'grad_cam', 'min_max_normalize',
    'normalized_at_size', 'SOFTMAX_MODES', 'merge_attention', 'caa_refine',
    'CLIP_ES_CAA', 'mcl_loss', 'cal_loss', 'filter_quasi_superpixels',
    'MaskRuns', 'SAMSResult', 'mask_runs', 'mask_runs_from_rle', 'sams_seed',
    'sams_seed_from_record', 'patch_aligned_size', 'pil_resize',
    'resize_nearest_like_pil', 'resize_normalized_like_pil', 'dense_crf',
    'crf_seed', 'CLIP_ES_CRF', 'class_activation_maps', 'max_normalize',
    'multi_hot', 'minmax_norm', 'scale_grad_cam', 'select_attention_affinity',
    'mean_attention_affinity', 'transition_matrix', 'propagate_cams',
    'cam_label_probs', 'cam_labels', 'PAR_DILATIONS', 'par_neighbours',
    'par_position_logits', 'par_weights', 'par_refine', 'radius_mask',
    'cams_to_affinity_label', 'affinity_loss', 'balanced_seg_loss',
    'weclip_dice_loss', 'self_correct_labels', 'poly_warmup_factor'
]
