"""WeCLIP and WeCLIP+ (single-stage WSSS on frozen CLIP, + frozen DINOv2):
the segmentor, its heads and decoder, the online pseudo labels and the
converter of the authors' checkpoints."""
from .checkpoint import convert_weclip_state_dict
from .heads import DecoderTransformer, SegFormerFuseHead
from .segmentor import WECLIP_CRF, WeCLIP

__all__ = [
    'WeCLIP', 'SegFormerFuseHead', 'DecoderTransformer',
    'convert_weclip_state_dict', 'WECLIP_CRF'
]
