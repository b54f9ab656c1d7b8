# The 15 bundled VOC images (data/voc_mini) with the weight-free Felzenszwalb
# quasi-superpixels instead of the tiny random SAM:
#   python tools/gen_sam_masks.py configs/sams/voc_mini_felzenszwalb.py
# Same dataset as ./voc_mini_tiny.py; the generator's defaults are the
# settings of ./felzenszwalb.py (tests/models/sams/test_classical_generator.py
# checks that both give one fingerprint). Its own cache folder: the
# fingerprint differs from SAM's, so the two caches never mix.
_base_ = ['./voc_mini_tiny.py']

sam_generator = dict(
    _delete_=True, type='FelzenszwalbQuasiSuperpixelGenerator')
mask_dir = 'work_dirs/sam_masks/voc_mini_felzenszwalb'
