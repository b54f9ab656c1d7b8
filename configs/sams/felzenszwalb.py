# Weight-free quasi-superpixels (mmwsss.models.sams.classical_generator):
# scikit-image's Felzenszwalb segmentation at three scales, fine -> sub-part
# (level 0), middle -> part (1), coarse -> whole (2), through the same
# whole > part > sub-part filter (t_r) as SAM's masks and stored in the same
# cache format with its own fingerprint. A CPU fallback without SAM weights
# (~0.25 s per VOC image on one core) and what the demo uses by default.
# NOT the paper's method: FMA-WSSS uses SAM (./sam_vit_h.py).
#
# Use it wherever a config takes a SAM generator: inherit this file instead
# of ./sam_vit_h.py (as ./voc_mini_felzenszwalb.py does), or replace a
# `sam_generator` / `tta_model.sam_generator` dict with this one (with
# `_delete_=True` when the base holds SAM's keys).
default_scope = 'mmseg'
custom_imports = dict(
    imports=['mmwsss.registration'], allow_failed_imports=False)

sam_generator = dict(
    type='FelzenszwalbQuasiSuperpixelGenerator',
    # Felzenszwalb `scale` of the sub-part, part and whole partitions
    scales=(50., 200., 800.),
    sigma=0.8,  # Gaussian smoothing before segmenting
    min_size=(30, 80, 200),  # smallest segment per level, shrunk pixels
    max_side=256,  # segment a copy shrunk to this longer side (speed)
    # largest candidate per level (share of the image); bigger segments are
    # left to the finer levels, as SAM's wholes are object-sized
    max_area=(1.0, 0.3, 0.3),
    t_r=0.3,  # whole > part > sub-part occupation filter (None: off)
    filter_chunk_size=50,
    device=None)  # filter products on cpu (the segmentation is CPU-only)
