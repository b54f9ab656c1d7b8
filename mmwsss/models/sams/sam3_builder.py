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
~840 M parameters); ``'tiny'``, the same modules at toy sizes for tests, is
added to :data:`SAM3_ARCHITECTURES` by :mod:`mmwsss.testing`.
Official weights (``sam3.pt``, the ``facebook/sam3`` checkpoint, keys
``detector.*`` / ``tracker.*``) are read from a local file; nothing is
downloaded.
"""
import contextlib
import inspect
import os.path as osp
from typing import (Any, Callable, Dict, Iterator, Mapping, NamedTuple,
                    Optional)

import torch
from torch import nn

from ..architectures import ArchitectureTable
from .sam_builder import (build_seeded_model, check_checkpoint_args,
                          resolve_device)

__all__ = [
    'SAM3_ARCHITECTURES', 'SAM3Architecture', 'SAM3_CHECKPOINT_URL',
    'build_sam3_model', 'default_bpe_path', 'sam3_construction_device',
    'sam3_image_state_dict', 'make_any_device', 'SAM3_RESOLUTION'
]

#: The official checkpoint (gated Hugging Face repository facebook/sam3).
SAM3_CHECKPOINT_URL = 'https://huggingface.co/facebook/sam3/blob/main/sam3.pt'


class SAM3Architecture(NamedTuple):
    """An entry of :data:`SAM3_ARCHITECTURES`.

    Attributes:
        construct (Callable[[str], nn.Module]): Builds the random
            ``Sam3Image`` from the BPE vocabulary path (called inside
            :func:`sam3_construction_device` and a seeded RNG).
        resolution (int): Input resolution (square).
        url (str, optional): Official weights (None: none exist).
    """
    construct: Callable[[str], nn.Module]
    resolution: int
    url: Optional[str] = None


def _build_released(bpe_path: str) -> nn.Module:
    """The released architecture (ViT-L/14 at 1008 px), random."""
    return _import_sam3().build_sam3_image_model(
        bpe_path=bpe_path,
        device='cpu',
        eval_mode=True,
        checkpoint_path=None,
        load_from_HF=False,
        enable_segmentation=True,
        enable_inst_interactivity=False)


#: model_type -> :class:`SAM3Architecture`.
SAM3_ARCHITECTURES = ArchitectureTable(
    'SAM 3', {
        'sam3': SAM3Architecture(_build_released, 1008, SAM3_CHECKPOINT_URL)
    })


class _Resolutions(Mapping):
    """model_type -> input resolution, read from the table."""

    def __getitem__(self, model_type: str) -> int:
        return SAM3_ARCHITECTURES.get(model_type).resolution

    def __iter__(self) -> Iterator[str]:
        return iter(SAM3_ARCHITECTURES)

    def __len__(self) -> int:
        return len(SAM3_ARCHITECTURES)


#: Input resolution (square) of each architecture of the table.
SAM3_RESOLUTION: Mapping = _Resolutions()


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
        model_type (str): A key of :data:`SAM3_ARCHITECTURES`: ``'sam3'``
            (released); ``'tiny'`` from :mod:`mmwsss.testing`.
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
    arch = SAM3_ARCHITECTURES.get(model_type)
    check_checkpoint_args(
        'SAM 3',
        model_type,
        checkpoint,
        random_init,
        arch.url,
        key='checkpoint',
        url_note=' (gated: accept the SAM License)')
    _import_sam3()
    bpe_path = bpe_path or default_bpe_path()
    dev = resolve_device(device)

    def construct() -> nn.Module:
        with sam3_construction_device(dev):
            model = arch.construct(bpe_path)
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
