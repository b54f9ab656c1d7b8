# Frozen CLIP ViT-B/16 (OpenAI weights), as FMA-WSSS and CLIP-ES use it.
#
# `pretrained` is an open_clip tag (downloaded into ~/.cache or `cache_dir`
# when online) or a local file: the OpenAI release `ViT-B-16.pt` (the
# TorchScript archive CLIP-ES / FMA-WSSS users already have) or an open_clip
# state dict. OpenAI weights run with QuickGELU (chosen automatically).
# pooling: 'patch_mean' (FMA-WSSS: mean of the projected patch tokens) or
# 'cls' (the class token, open_clip's encode_image).
# attn_layers: attention maps of the last K blocks returned for CAA.
#
# Use in a config:
#   _base_ = ['../_base_/models/clip_vit_b16.py']
#   model = dict(type='FMAPromptModel', clip={{_base_.clip}},
#                data_preprocessor={{_base_.clip_data_preprocessor}}, ...)
# Tests / CPU demos: clip = dict(model_name='mmwsss-tiny-ViT-16',
#                                pretrained=None)
clip = dict(
    type='FrozenCLIP',
    model_name='ViT-B-16',
    pretrained='openai',
    pooling='patch_mean',
    attn_layers=8)

# CLIP's normalisation (OPENAI_DATASET_MEAN / STD x 255, RGB). Padding with
# 0 after normalisation = the mean colour, the same value FrozenCLIP pads
# with; size_divisor=16 puts batches on the ViT-B/16 patch grid.
clip_data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=16)
