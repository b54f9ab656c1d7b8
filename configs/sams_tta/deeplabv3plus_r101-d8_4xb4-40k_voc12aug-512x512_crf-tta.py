# The dense-CRF comparator of SAMS (FMA-WSSS Table 3): the same merged
# multi-scale + flip prediction, refined by a fully connected CRF
# (pydensecrf2, CLIP-ES's parameters) over the background and the present
# classes instead of SAM quasi-superpixels.
#
#   python tools/test.py \
#       configs/sams_tta/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_crf-tta.py \
#       CHECKPOINT --tta
_base_ = ['./deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512_sams-tta.py']

tta_model = dict(
    _delete_=True,
    type='CRFTTAModel',
    crf_cfg=dict(
        n_iters=10,
        pos_xy_std=1.,
        pos_w=3.,
        bi_xy_std=67.,
        bi_rgb_std=3.,
        bi_w=4.),
    background_index=0)
