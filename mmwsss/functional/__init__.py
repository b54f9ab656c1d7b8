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
from .sams import (MaskRuns, SAMSResult, mask_runs, mask_runs_from_rle,
                   sams_seed, sams_seed_from_record)

__all__ = [
    'masked_softmax', 'softmax_scores', 'grad_cam', 'min_max_normalize',
    'normalized_at_size', 'SOFTMAX_MODES', 'merge_attention', 'caa_refine',
    'CLIP_ES_CAA', 'mcl_loss', 'cal_loss', 'filter_quasi_superpixels',
    'MaskRuns', 'SAMSResult', 'mask_runs', 'mask_runs_from_rle', 'sams_seed',
    'sams_seed_from_record', 'patch_aligned_size', 'pil_resize',
    'resize_nearest_like_pil', 'resize_normalized_like_pil', 'dense_crf',
    'crf_seed', 'CLIP_ES_CRF', 'class_activation_maps', 'max_normalize',
    'multi_hot'
]
