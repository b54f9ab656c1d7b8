"""Build an open_clip CLIP and load its weights: tags, open_clip state dicts
and the OpenAI release files.

Why not just ``open_clip.create_model(name, pretrained=...)``: open_clip 3.x
reads checkpoint files with ``torch.load(weights_only=True)``, which refuses
the OpenAI TorchScript archives (``ViT-B-16.pt``, what CLIP-ES / FMA-WSSS
users have on disk, and what the ``'openai'`` tag downloads when the HF hub
client is missing); and for ``'openai'`` weights on the plain ``'ViT-B-16'``
config it only warns that the model uses GELU where the weights were trained
with QuickGELU. Here the file is read first (TorchScript archives through
``torch.jit.load``), the activation follows the weights, and the state dict
goes through the same fix-ups as in open_clip's ``load_checkpoint``.
"""
import copy
import difflib
import json
import logging
import os.path as osp
import tempfile
import warnings
import zipfile
from typing import Dict, Optional, Tuple

import open_clip
import torch
from mmengine.logging import print_log
from torch import Tensor, nn

# keys of the OpenAI TorchScript archives that are not parameters
_OPENAI_EXTRA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
#: Names of the tiny test architectures that mmwsss.testing registers.
_TESTING_PREFIX = 'mmwsss-tiny-'


def register_open_clip_config(name: str, cfg: Dict) -> None:
    """Make ``cfg`` known to open_clip as model ``name`` (idempotent).

    The config goes into open_clip's architecture registry, where
    ``open_clip.create_model`` / ``get_tokenizer`` / ``list_models`` find it;
    open_clip's own rescans keep entries already there. Should a future
    open_clip hide that registry, the config is written as JSON and added
    with the public ``open_clip.add_model_config``.

    Args:
        name (str): Model name.
        cfg (dict): open_clip model config (``embed_dim``, ``vision_cfg``,
            ``text_cfg``).
    """
    if name in open_clip.list_models():
        return
    factory = getattr(open_clip, 'factory', None)
    registry = getattr(factory, '_MODEL_CONFIGS', None)
    if isinstance(registry, dict):
        registry[name] = copy.deepcopy(cfg)
        return
    path = osp.join(
        tempfile.mkdtemp(prefix='mmwsss_clip_cfg_'), f'{name}.json')
    with open(path, 'w') as f:
        json.dump(cfg, f)
    open_clip.add_model_config(path)


def _short_model_list(name: str, limit: int = 40) -> str:
    """A readable excerpt of ``open_clip.list_models()`` for error messages:
    the closest names first, then the ViT names, then a count."""
    models = open_clip.list_models()
    close = difflib.get_close_matches(name, models, n=5, cutoff=0.5)
    vits = [m for m in models if m.startswith('ViT-') and m not in close]
    shown = close + vits[:max(0, limit - len(close))]
    rest = len(models) - len(shown)
    text = ', '.join(shown)
    if rest > 0:
        text += f', ... ({rest} more; see open_clip.list_models())'
    return text


def check_model_name(model_name: str) -> Dict:
    """Return the open_clip config of ``model_name`` or raise.

    Args:
        model_name (str): An open_clip architecture name such as
            ``'ViT-B-16'``.

    Returns:
        dict: The architecture config.

    Raises:
        ValueError: Unknown name (the message lists known names), or an
            architecture FrozenCLIP cannot run (not a plain ViT + text
            transformer CLIP).
    """
    cfg = open_clip.get_model_config(model_name)
    if cfg is None and model_name.startswith(_TESTING_PREFIX):
        raise ValueError(
            f'Unknown open_clip model name {model_name!r} (FrozenCLIP '
            'model_name): the tiny test architectures are registered with '
            'open_clip by mmwsss.testing: import it (or mmwsss.registration, '
            "or custom_imports=['mmwsss.registration'] in the config).")
    if cfg is None:
        raise ValueError(
            f'Unknown open_clip model name {model_name!r} (FrozenCLIP '
            f'model_name). Known models: {_short_model_list(model_name)}')
    vision, text = cfg.get('vision_cfg', {}), cfg.get('text_cfg', {})
    unsupported = []
    if not isinstance(vision.get('layers'), int):
        unsupported.append('a ResNet image tower')
    if 'timm_model_name' in vision:
        unsupported.append('a timm image tower')
    if vision.get('attentional_pool'):
        unsupported.append('attentional pooling')
    if 'hf_model_name' in text or cfg.get('custom_text'):
        unsupported.append('a custom text tower')
    if 'multimodal_cfg' in cfg:
        unsupported.append('a multimodal decoder (CoCa)')
    if unsupported:
        raise ValueError(
            f'open_clip model {model_name!r} has {", ".join(unsupported)}; '
            'FrozenCLIP supports CLIP models with an open_clip '
            'VisionTransformer and TextTransformer (e.g. ViT-B-16, '
            'ViT-B-32, ViT-L-14)')
    return cfg


def _is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript zip (has a ``constants.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(
            n.split('/', 1)[-1] == 'constants.pkl' for n in zf.namelist())


def read_clip_checkpoint(path: str) -> Tuple[Dict[str, Tensor], bool]:
    """Read CLIP weights from a local file.

    Accepted layouts:

    * the OpenAI release archive (TorchScript, e.g. ``ViT-B-16.pt``);
    * an open_clip / OpenAI-layout state dict (``model.state_dict()`` of
      ``open_clip.create_model`` or of OpenAI's ``clip`` package, the two
      share their key names), optionally wrapped in ``{'state_dict': ...}``
      and/or prefixed by ``module.`` (DDP), saved by ``torch.save``
      (read with ``weights_only=True``) or as ``.safetensors``.

    Args:
        path (str): Checkpoint file.

    Returns:
        tuple[dict, bool]: The state dict (tensors as stored, e.g. fp16) and
        whether it comes from OpenAI's release (TorchScript archive or the
        archive's extra ``input_resolution`` keys), i.e. QuickGELU weights.
    """
    openai = False
    if _is_torchscript_archive(path):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            state_dict = torch.jit.load(path, map_location='cpu').state_dict()
        openai = True
    elif path.endswith('.safetensors'):
        from safetensors.torch import load_file
        state_dict = load_file(path, device='cpu')
    else:
        try:
            ckpt = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # noqa: BLE001 (re-raised with the path)
            raise RuntimeError(f'Could not read CLIP checkpoint {path!r} with '
                               f'torch.load(weights_only=True): {e}') from e
        state_dict = ckpt
        if isinstance(ckpt, dict) and 'state_dict' in ckpt:
            state_dict = ckpt['state_dict']
        if not isinstance(state_dict, dict):
            raise RuntimeError(
                f'CLIP checkpoint {path!r} holds a {type(state_dict)}, '
                'expected a state dict')
    state_dict = dict(state_dict)
    if state_dict and all(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):]: v for k, v in state_dict.items()}
    if any(k in state_dict for k in _OPENAI_EXTRA_KEYS):
        openai = True
        for k in _OPENAI_EXTRA_KEYS:
            state_dict.pop(k, None)
    return state_dict, openai


def load_clip_state_dict(model: nn.Module, state_dict: Dict[str, Tensor],
                         source: str) -> None:
    """Load a CLIP state dict into an open_clip model (strict).

    Applies open_clip's own fix-ups: third-party key conversion, scalar vs
    1-d ``logit_scale``, bicubic resize of a positional embedding trained at
    another resolution. Tensors are cast to the model's dtypes (fp16 files
    load into fp32 models).

    Args:
        model (nn.Module): ``open_clip.CLIP``.
        state_dict (dict): Weights, open_clip key layout.
        source (str): Where they came from, for error messages.
    """
    from open_clip.model import resize_pos_embed
    try:  # open_clip >= 2.24: third-party (MobileCLIP) layouts
        from open_clip.factory import convert_state_dict
        state_dict = convert_state_dict(model, state_dict)
    except ImportError:
        pass
    scale = state_dict.get('logit_scale')
    if scale is not None and scale.ndim != model.logit_scale.ndim:
        state_dict['logit_scale'] = scale.reshape(model.logit_scale.shape)
    if getattr(model, 'logit_bias', None) is not None and \
            'logit_bias' not in state_dict:
        state_dict['logit_bias'] = torch.zeros_like(model.logit_bias)
    resize_pos_embed(state_dict, model)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise RuntimeError(
            f'CLIP weights from {source} do not fit the open_clip '
            f'architecture: {e}') from e


def _resolve_pretrained(model_name: str, pretrained: str,
                        cache_dir: Optional[str]) -> Tuple[str, Dict]:
    """Map ``pretrained`` (tag or path) to a local file and the tag config.

    Returns:
        tuple[str, dict]: Checkpoint path and the open_clip pretrained
        config of the tag (empty for a path).
    """
    tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if tag_cfg:
        try:
            path = open_clip.download_pretrained(tag_cfg, cache_dir=cache_dir)
        except Exception as e:  # noqa: BLE001 (re-raised with context)
            raise RuntimeError(
                f'Could not download open_clip weights {model_name!r} / '
                f'{pretrained!r} (no network?): {e}. Pass a local '
                'checkpoint path as FrozenCLIP pretrained instead.') from e
        if not path:
            raise RuntimeError(
                f'open_clip has no download source for {model_name!r} / '
                f'{pretrained!r}')
        return path, tag_cfg
    path = osp.expanduser(pretrained)
    if not osp.isfile(path):
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise FileNotFoundError(
            f'FrozenCLIP pretrained={pretrained!r}: no such checkpoint file '
            f'({osp.abspath(path)}), and not an open_clip tag of '
            f'{model_name!r}. Tags open_clip knows for {model_name!r}: '
            f'{tags if tags else "none"}')
    return path, {}


def build_open_clip(
        model_name: str = 'ViT-B-16',
        pretrained: Optional[str] = 'openai',
        cache_dir: Optional[str] = None,
        quick_gelu: Optional[bool] = None) -> Tuple[nn.Module, Dict]:
    """Create an open_clip CLIP model with its weights, on the CPU in fp32.

    Args:
        model_name (str): open_clip architecture, e.g. ``'ViT-B-16'``.
        pretrained (str, optional): An open_clip tag (``'openai'``,
            ``'laion2b_s34b_b88k'``, ...; downloaded into ``cache_dir`` when
            online), a local checkpoint file (see
            :func:`read_clip_checkpoint`), or None for random weights.
        cache_dir (str, optional): open_clip download cache.
        quick_gelu (bool, optional): Force the MLP activation. None follows
            the weights: QuickGELU for tags open_clip marks so (all
            ``'openai'`` tags) and for OpenAI release archives, otherwise the
            architecture config's choice (``*-quickgelu`` names use it).
            OpenAI weights re-saved as a plain state dict cannot be
            recognised: pass ``quick_gelu=True`` for them.

    Returns:
        tuple[nn.Module, dict]: The model (eval mode) and info
        ``dict(checkpoint=path or None, quick_gelu=bool, mean=..., std=...)``
        where mean/std are the tag's normalisation (0..1 scale) if it has
        one, else None.
    """
    cfg = check_model_name(model_name)
    state_dict, path, tag_cfg, openai = None, None, {}, False
    if pretrained:
        path, tag_cfg = _resolve_pretrained(model_name, pretrained, cache_dir)
        state_dict, openai = read_clip_checkpoint(path)
    if quick_gelu is None:
        quick_gelu = bool(
            cfg.get('quick_gelu', False) or tag_cfg.get('quick_gelu', False)
            or openai)
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(max(level, logging.ERROR))  # open_clip's info logs
    try:
        model = open_clip.create_model(
            model_name, pretrained=None, force_quick_gelu=quick_gelu)
    finally:
        root_logger.setLevel(level)
    if state_dict is not None:
        load_clip_state_dict(model, state_dict, source=path)
        print_log(
            f'FrozenCLIP: loaded {model_name} weights from {path} '
            f'({"QuickGELU" if quick_gelu else "GELU"})',
            logger='current')
    else:
        print_log(
            f'FrozenCLIP: {model_name} with RANDOM weights (pretrained=None)',
            logger='current',
            level=logging.WARNING)
    model.eval()
    info = dict(
        checkpoint=path,
        quick_gelu=quick_gelu,
        mean=tag_cfg.get('mean'),
        std=tag_cfg.get('std'))
    return model, info


def model_quick_gelu(model: nn.Module) -> bool:
    """Whether ``model``'s image tower uses QuickGELU."""
    for m in model.visual.modules():
        if type(m).__name__ == 'QuickGELU':
            return True
    return False
