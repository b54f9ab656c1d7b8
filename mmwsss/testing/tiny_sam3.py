"""The tiny random SAM 3 image model of the tests and the CPU demo.

The released ``Sam3Image`` modules at toy sizes (a 2-block ViT of width 32
at 112 px, a 1-layer text encoder of width 32, 1-layer fusion encoder /
decoder with 16 queries, 32-channel heads). Importing this module adds it as
``model_type='tiny'`` to :data:`~mmwsss.models.sams.sam3_builder.
SAM3_ARCHITECTURES` (``configs/sam3/voc_mini_tiny.py`` selects it).
"""
from typing import Any, Dict, Optional

from torch import nn

from mmwsss.models.sams.sam3_builder import (SAM3_ARCHITECTURES,
                                             SAM3Architecture)

__all__ = ['build_tiny_sam3', 'TINY_SAM3_RESOLUTION']

# Sizes of the tiny random model (the released model's in the comments).
_TINY: Dict[str, Any] = dict(
    img_size=112,  # 1008
    patch_size=14,  # 14
    vit_dim=32,  # 1024
    vit_depth=2,  # 32
    vit_heads=2,  # 16
    window_size=4,  # 24
    d_model=32,  # 256
    heads=2,  # 8
    ffn=64,  # 2048
    text_width=32,  # 1024
    text_heads=2,  # 16
    text_layers=1,  # 24
    layers=1,  # 6 (encoder, decoder), 3 (geometry encoder)
    num_queries=16,  # 200
)


def build_tiny_sam3(bpe_path: str) -> nn.Module:
    """A tiny randomly initialised SAM 3 image model (``Sam3Image``) with
    the released structure (sizes: :data:`_TINY`).

    Call inside :func:`~mmwsss.models.sams.sam3_builder.
    sam3_construction_device` (and a seeded RNG). The
    parts are constructed in a fixed order (backbone, transformer, scoring,
    segmentation head, geometry encoder), which fixes the random weights.

    Args:
        bpe_path (str): CLIP BPE vocabulary of the text tokenizer.

    Returns:
        nn.Module: The model (train mode, as built).
    """
    from sam3.model.sam3_image import Sam3Image
    backbone = _tiny_backbone(bpe_path)
    transformer = _tiny_transformer()
    scoring = _tiny_scoring()
    seg_head = _tiny_segmentation_head()
    geometry = _tiny_geometry_encoder()
    return Sam3Image(
        backbone=backbone,
        transformer=transformer,
        input_geometry_encoder=geometry,
        segmentation_head=seg_head,
        num_feature_levels=1,
        o2m_mask_predict=True,
        dot_prod_scoring=scoring,
        use_instance_query=False,
        multimask_output=True,
        inst_interactive_predictor=None,
        matcher=None)


def _tiny_pos_enc(res: Optional[int] = None) -> nn.Module:
    """Sine position encoding of the tiny SAM 3 (cache for ``res`` px)."""
    from sam3.model.position_encoding import PositionEmbeddingSine
    return PositionEmbeddingSine(
        num_pos_feats=_TINY['d_model'],
        normalize=True,
        scale=None,
        temperature=10000,
        precompute_resolution=res)


def _tiny_attention(batch_first: bool = False) -> nn.Module:
    """Multi-head attention of the tiny SAM 3's transformers."""
    from sam3.model.model_misc import MultiheadAttentionWrapper
    return MultiheadAttentionWrapper(
        num_heads=_TINY['heads'],
        dropout=0.0,
        embed_dim=_TINY['d_model'],
        batch_first=batch_first)


def _tiny_encoder_layer(batch_first: bool, **kwargs: Any) -> nn.Module:
    """A pre-norm transformer encoder layer (fusion / geometry encoder);
    ``kwargs`` say where the position encoding enters."""
    from sam3.model.encoder import TransformerEncoderLayer
    return TransformerEncoderLayer(
        activation='relu',
        d_model=_TINY['d_model'],
        dim_feedforward=_TINY['ffn'],
        dropout=0.0,
        pre_norm=True,
        self_attention=_tiny_attention(batch_first),
        cross_attention=_tiny_attention(batch_first),
        **kwargs)


def _tiny_vit() -> nn.Module:
    """The image trunk: a ViT with windowed blocks, the last one global."""
    from sam3.model.vitdet import ViT
    t = _TINY
    return ViT(
        img_size=t['img_size'],
        pretrain_img_size=t['img_size'],
        patch_size=t['patch_size'],
        embed_dim=t['vit_dim'],
        depth=t['vit_depth'],
        num_heads=t['vit_heads'],
        mlp_ratio=2.0,
        norm_layer='LayerNorm',
        drop_path_rate=0.0,
        qkv_bias=True,
        use_abs_pos=True,
        tile_abs_pos=True,
        global_att_blocks=(t['vit_depth'] - 1, ),
        rel_pos_blocks=(),
        use_rope=True,
        use_interp_rope=True,
        window_size=t['window_size'],
        pretrain_use_cls_token=True,
        retain_cls_token=False,
        ln_pre=True,
        ln_post=False,
        return_interm_layers=False,
        bias_patch_embed=False,
        use_act_checkpoint=False)


def _tiny_backbone(bpe_path: str) -> nn.Module:
    """Vision (ViT + neck) and text encoders of the tiny SAM 3."""
    from sam3.model.necks import Sam3DualViTDetNeck
    from sam3.model.text_encoder_ve import VETextEncoder
    from sam3.model.tokenizer_ve import SimpleTokenizer
    from sam3.model.vl_combiner import SAM3VLBackbone
    t = _TINY
    vit = _tiny_vit()
    neck = Sam3DualViTDetNeck(
        position_encoding=_tiny_pos_enc(t['img_size']),
        d_model=t['d_model'],
        scale_factors=[4.0, 2.0, 1.0, 0.5],
        trunk=vit,
        add_sam2_neck=False)
    text = VETextEncoder(
        tokenizer=SimpleTokenizer(bpe_path=bpe_path),
        d_model=t['d_model'],
        width=t['text_width'],
        heads=t['text_heads'],
        layers=t['text_layers'],
        use_act_checkpoint=False)
    return SAM3VLBackbone(visual=neck, text=text, scalp=1)


def _tiny_transformer() -> nn.Module:
    """Fusion encoder and DETR-style decoder (with presence token)."""
    from sam3.model.decoder import TransformerDecoder, TransformerDecoderLayer
    from sam3.model.encoder import TransformerEncoderFusion
    from sam3.model.model_misc import TransformerWrapper
    t = _TINY
    d = t['d_model']
    encoder = TransformerEncoderFusion(
        layer=_tiny_encoder_layer(
            True,
            pos_enc_at_attn=True,
            pos_enc_at_cross_attn_keys=False,
            pos_enc_at_cross_attn_queries=False),
        num_layers=t['layers'],
        d_model=d,
        num_feature_levels=1,
        frozen=False,
        use_act_checkpoint=False,
        add_pooled_text_to_img_feat=False,
        pool_text_with_mask=True)
    decoder = TransformerDecoder(
        layer=TransformerDecoderLayer(
            activation='relu',
            d_model=d,
            dim_feedforward=t['ffn'],
            dropout=0.0,
            cross_attention=_tiny_attention(),
            n_heads=t['heads'],
            use_text_cross_attention=True),
        num_layers=t['layers'],
        num_queries=t['num_queries'],
        return_intermediate=True,
        box_refine=True,
        num_o2m_queries=0,
        dac=True,
        boxRPB='log',
        d_model=d,
        frozen=False,
        interaction_layer=None,
        dac_use_selfatt_ln=True,
        resolution=t['img_size'],
        stride=t['patch_size'],
        use_act_checkpoint=False,
        presence_token=True)
    return TransformerWrapper(encoder=encoder, decoder=decoder, d_model=d)


def _tiny_scoring() -> nn.Module:
    """Dot-product scoring of queries against the prompt."""
    from sam3.model.model_misc import MLP, DotProductScoring
    d = _TINY['d_model']
    return DotProductScoring(
        d_model=d,
        d_proj=d,
        prompt_mlp=MLP(
            input_dim=d,
            hidden_dim=_TINY['ffn'],
            output_dim=d,
            num_layers=2,
            dropout=0.0,
            residual=True,
            out_norm=nn.LayerNorm(d)))


def _tiny_segmentation_head() -> nn.Module:
    """Pixel decoder and mask head."""
    from sam3.model.maskformer_segmentation import (PixelDecoder,
                                                    UniversalSegmentationHead)
    from sam3.model.model_misc import MultiheadAttentionWrapper
    d = _TINY['d_model']
    return UniversalSegmentationHead(
        hidden_dim=d,
        upsampling_stages=3,
        aux_masks=False,
        presence_head=False,
        dot_product_scorer=None,
        act_ckpt=False,
        cross_attend_prompt=MultiheadAttentionWrapper(
            num_heads=_TINY['heads'], dropout=0, embed_dim=d),
        pixel_decoder=PixelDecoder(
            num_upsampling_stages=3,
            interpolation_mode='nearest',
            hidden_dim=d))


def _tiny_geometry_encoder() -> nn.Module:
    """Encoder of point / box prompts."""
    from sam3.model.geometry_encoders import SequenceGeometryEncoder
    return SequenceGeometryEncoder(
        pos_enc=_tiny_pos_enc(),
        encode_boxes_as_points=False,
        points_direct_project=True,
        points_pool=True,
        points_pos_enc=True,
        boxes_direct_project=True,
        boxes_pool=True,
        boxes_pos_enc=True,
        d_model=_TINY['d_model'],
        num_layers=_TINY['layers'],
        layer=_tiny_encoder_layer(
            False,
            pos_enc_at_attn=False,
            pos_enc_at_cross_attn_queries=False,
            pos_enc_at_cross_attn_keys=True),
        use_act_ckpt=False,
        add_cls=True,
        add_post_encode_proj=True)


#: Input resolution (square) of the tiny SAM 3.
TINY_SAM3_RESOLUTION = _TINY['img_size']

SAM3_ARCHITECTURES.register(
    'tiny', SAM3Architecture(build_tiny_sam3, TINY_SAM3_RESOLUTION),
    force=True)
