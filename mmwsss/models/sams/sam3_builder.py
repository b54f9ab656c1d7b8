"""Build SAM 3 image models (Meta's ``sam3`` package) on any device.

Two problems of ``sam3`` 0.1.4 as released, fixed here without touching the
package or patching anything outside a model's construction:

* ``PositionEmbeddingSine.__init__`` precomputes its cache with
  ``device="cuda"`` and ``TransformerDecoder.__init__`` its box-RPB
  coordinates with ``device="cuda"``, so the model cannot even be built on a
  CPU machine. :func:`sam3_construction_device` is a context manager that,
  only while a model is being constructed, routes those two allocations to
  the requested device (and restores both methods afterwards, also on
  error). The cache then also lives on the device the model runs on (sam3
  never moves it: it is a dict, not a buffer). At run time the geometry
  encoder pins a 4-value tensor to page-locked memory (CUDA only) for every
  prompt; :func:`make_any_device` gives the built model's geometry encoder
  (that instance only) a subclass that skips the pinning off CUDA.
* the wheel lacks its BPE vocabulary (``assets/bpe_simple_vocab_16e6.txt.gz``
  is not packaged); it is the CLIP BPE file that open_clip ships, so
  :func:`default_bpe_path` points there.

``model_type='sam3'`` is the released architecture (ViT-L/14 at 1008 px,
~840 M parameters); ``'tiny'`` is the same modules at toy sizes (a 2-block
ViT of width 32 at 112 px, a 1-layer text encoder of width 32, 1-layer
fusion encoder / decoder with 16 queries, 32-channel heads) for tests.
Official weights (``sam3.pt``, the ``facebook/sam3`` checkpoint, keys
``detector.*`` / ``tracker.*``) are read from a local file; nothing is
downloaded.
"""
import contextlib
import inspect
import os.path as osp
from typing import Any, Dict, Iterator, Optional

import torch
from torch import nn

from .sam_builder import (build_seeded_model, check_checkpoint_args,
                          check_model_type, resolve_device)

__all__ = [
    'SAM3_MODEL_TYPES', 'SAM3_CHECKPOINT_URL', 'build_sam3_model',
    'build_tiny_sam3', 'default_bpe_path', 'sam3_construction_device',
    'sam3_image_state_dict', 'make_any_device', 'SAM3_RESOLUTION'
]

SAM3_MODEL_TYPES = ('sam3', 'tiny')
#: The official checkpoint (gated Hugging Face repository facebook/sam3).
SAM3_CHECKPOINT_URL = 'https://huggingface.co/facebook/sam3/blob/main/sam3.pt'

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

#: Input resolution (square) of each architecture.
SAM3_RESOLUTION = {'sam3': 1008, 'tiny': _TINY['img_size']}


def _import_sam3() -> Any:
    try:
        import sam3.model_builder as builder
    except ImportError as err:
        raise ImportError(
            'SAM 3 needs the sam3 package: pip install sam3==0.1.4 (it '
            'requires numpy<2.4; see requirements/pinned.txt).') from err
    return builder


def default_bpe_path() -> str:
    """The CLIP BPE vocabulary shipped by open_clip (the file sam3 expects
    but does not package)."""
    import open_clip.tokenizer as oc_tok
    path = osp.join(
        osp.dirname(oc_tok.__file__), 'bpe_simple_vocab_16e6.txt.gz')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'CLIP BPE vocabulary not found at {path}: pass bpe_path (the '
            'bpe_simple_vocab_16e6.txt.gz of open_clip or OpenAI CLIP).')
    return path


@contextlib.contextmanager
def sam3_construction_device(device: torch.device) -> Iterator[None]:
    """Construct SAM 3 modules whose ``__init__`` allocates on "cuda"
    on ``device`` instead (only inside this context).

    Args:
        device (torch.device): Where the precomputed caches go.
    """
    from sam3.model.decoder import TransformerDecoder
    from sam3.model.position_encoding import PositionEmbeddingSine
    pe_init = PositionEmbeddingSine.__init__
    pe_sig = inspect.signature(pe_init)
    get_coords = TransformerDecoder.__dict__['_get_coords']

    def init(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        bound = pe_sig.bind(self, *args, **kwargs)
        res = bound.arguments.get('precompute_resolution')
        bound.arguments['precompute_resolution'] = None
        pe_init(*bound.args, **bound.kwargs)
        if res is not None:  # what upstream precomputes, on ``device``
            for stride in (4, 8, 16, 32):
                size = (res // stride, res // stride)
                self.forward(torch.zeros((1, 1) + size, device=device))
                self.cache[size] = self.cache[size].clone().detach()

    def coords(h: int, w: int, *_: Any, **__: Any) -> Any:  # "cuda" -> device
        return get_coords.__func__(h, w, device=device)

    PositionEmbeddingSine.__init__ = init
    TransformerDecoder._get_coords = staticmethod(coords)
    try:
        yield
    finally:
        PositionEmbeddingSine.__init__ = pe_init
        TransformerDecoder._get_coords = get_coords


def make_any_device(model: nn.Module) -> nn.Module:
    """Let a built ``Sam3Image`` run its geometry encoder off CUDA.

    ``SequenceGeometryEncoder._encode_boxes`` calls ``pin_memory()`` (which
    needs a CUDA driver) on the box scale. The instance's class becomes a
    subclass whose ``_encode_boxes`` is upstream's on CUDA and, elsewhere,
    upstream's with the RoI-pooling term computed without pinning (same
    terms; no other instance or class changes).

    Args:
        model (nn.Module): A ``Sam3Image``.

    Returns:
        nn.Module: ``model``.
    """
    import torchvision
    from sam3.model.box_ops import box_cxcywh_to_xyxy
    from sam3.model.geometry_encoders import SequenceGeometryEncoder

    class AnyDeviceGeometryEncoder(SequenceGeometryEncoder):
        """SequenceGeometryEncoder without CUDA-only pinning."""

        def _encode_boxes(self, boxes, boxes_mask, boxes_labels, img_feats):
            pool = self.boxes_pool_project
            if boxes.is_cuda or pool is None:
                return super()._encode_boxes(boxes, boxes_mask, boxes_labels,
                                             img_feats)
            self.boxes_pool_project = None
            try:
                embed, mask = super()._encode_boxes(boxes, boxes_mask,
                                                    boxes_labels, img_feats)
            finally:
                self.boxes_pool_project = pool
            n_boxes, bs = boxes.shape[:2]
            h, w = img_feats.shape[-2:]
            scale = torch.tensor([w, h, w, h],
                                 dtype=boxes.dtype,
                                 device=boxes.device).view(1, 1, 4)
            xyxy = box_cxcywh_to_xyxy(boxes) * scale
            sampled = torchvision.ops.roi_align(
                img_feats,
                xyxy.float().transpose(0, 1).unbind(0), self.roi_size)
            proj = pool(sampled).view(bs, n_boxes,
                                      self.d_model).transpose(0, 1)
            return embed + proj, mask

    geometry = model.geometry_encoder
    if type(geometry) is SequenceGeometryEncoder:
        geometry.__class__ = AnyDeviceGeometryEncoder
    return model


def init_uninitialised_text_params(model: nn.Module) -> None:
    """Initialise the text encoder's parameters sam3 leaves as
    ``torch.empty`` (its checkpoint always sets them): the positional
    embedding N(0, 0.01^2) and a matrix text projection N(0, width^-1), as
    open_clip's ``TextTransformer.init_parameters``. Random builds only.

    Args:
        model (nn.Module): A ``Sam3Image`` (use the current RNG).
    """
    for module in model.modules():
        if type(module).__name__ != 'TextTransformer':
            continue
        with torch.no_grad():
            nn.init.normal_(module.positional_embedding, std=0.01)
            proj = module.text_projection
            if isinstance(proj, nn.Parameter):
                nn.init.normal_(proj, std=module.width**-0.5)


def build_tiny_sam3(bpe_path: str) -> nn.Module:
    """A tiny randomly initialised SAM 3 image model (``Sam3Image``) with
    the released structure (see the module docstring for the sizes).

    Call inside :func:`sam3_construction_device` (and a seeded RNG). The
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


def sam3_image_state_dict(ckpt: Dict[str, Any]) -> Dict[str, Any]:
    """The image model's weights from an official SAM 3 checkpoint.

    ``sam3.pt`` holds the detector (``detector.*``, the image model) and the
    video tracker (``tracker.*``), possibly under ``'model'``; the image
    model is the detector with the prefix removed (as sam3's own loader).
    A state dict of ``Sam3Image`` itself (no prefixes) is returned as is.
    """
    if isinstance(ckpt.get('model'), dict):
        ckpt = ckpt['model']
    if any(k.startswith('detector.') for k in ckpt):
        return {
            k[len('detector.'):]: v
            for k, v in ckpt.items() if k.startswith('detector.')
        }
    return ckpt


def build_sam3_model(model_type: str = 'sam3',
                     checkpoint: Optional[str] = None,
                     random_init: bool = False,
                     seed: int = 0,
                     device: Optional[str] = None,
                     bpe_path: Optional[str] = None) -> nn.Module:
    """Build a SAM 3 image model on ``device`` (CPU included).

    Args:
        model_type (str): ``'sam3'`` (released) or ``'tiny'``.
        checkpoint (str, optional): Local ``sam3.pt`` (official layout).
        random_init (bool): Allow ``'sam3'`` without a checkpoint (random
            weights; benchmarks and tests only).
        seed (int): Seed of the random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        bpe_path (str, optional): CLIP BPE vocabulary; default: open_clip's.

    Returns:
        nn.Module: ``sam3.model.sam3_image.Sam3Image`` in eval mode.

    Raises:
        KeyError: Unknown ``model_type``.
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: ``'sam3'`` with neither a checkpoint nor ``random_init``.
        RuntimeError: The checkpoint does not fit the architecture.
    """
    check_model_type('SAM 3', model_type, SAM3_MODEL_TYPES)
    check_checkpoint_args(
        'SAM 3',
        model_type,
        checkpoint,
        random_init,
        SAM3_CHECKPOINT_URL if model_type != 'tiny' else None,
        key='checkpoint',
        url_note=' (gated: accept the SAM License)')
    builder = _import_sam3()
    bpe_path = bpe_path or default_bpe_path()
    dev = resolve_device(device)

    def construct() -> nn.Module:
        with sam3_construction_device(dev):
            if model_type == 'tiny':
                model = build_tiny_sam3(bpe_path)
            else:
                model = builder.build_sam3_image_model(
                    bpe_path=bpe_path,
                    device='cpu',
                    eval_mode=True,
                    checkpoint_path=None,
                    load_from_HF=False,
                    enable_segmentation=True,
                    enable_inst_interactivity=False)
            if checkpoint is None:
                init_uninitialised_text_params(model)
        return make_any_device(model)

    return build_seeded_model(
        'SAM 3',
        model_type,
        construct,
        checkpoint,
        seed,
        device,
        read_state=_read_sam3_state)


def _read_sam3_state(checkpoint: str) -> Dict[str, Any]:
    """The image model's weights of a local SAM 3 checkpoint, on the CPU."""
    from mmwsss.compat import load_local_checkpoint
    return sam3_image_state_dict(
        load_local_checkpoint(checkpoint, map_location='cpu'))
