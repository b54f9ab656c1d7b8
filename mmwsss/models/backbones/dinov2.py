"""DINOv2: the frozen ViT of facebookresearch/dinov2's hub models, as the
WeCLIP+ backbone uses it.

``arch`` is a key of :data:`DINOV2_ARCHITECTURES`: the hub models
``'vits14'`` (``dinov2_vits14``, WeCLIP+'s), ``'vitb14'``, ``'vitl14'`` and
``'vitg14'`` (SwiGLU FFN), plus ``'tiny'``, a small random one with the same
structure that :mod:`mmwsss.testing` adds (imported by
:mod:`mmwsss.registration`).

Weights are never downloaded here: ``pretrained`` is a local copy of the
official file (:data:`DINOV2_CHECKPOINT_URLS`), loaded strictly in the
official key layout (the module's own parameter names are the hub's).
"""
import logging
import os.path as osp
from typing import Dict, List, NamedTuple, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.init import trunc_normal_

from mmseg.registry import MODELS
from mmwsss.compat import load_checkpoint_file
from ..architectures import ArchitectureTable
from .dinov2_layers import Block, PatchEmbed, interpolate_dinov2_pos_embed

__all__ = [
    'DINOv2', 'DINOv2Arch', 'DINOV2_ARCHITECTURES', 'DINOV2_CHECKPOINT_URLS',
    'read_dinov2_checkpoint', 'dinov2_layout_errors'
]


class DINOv2Arch(NamedTuple):
    """One DINOv2 architecture (the hub's ``vit_*`` constructors with
    ``img_size=518, patch_size=14``).

    Attributes:
        embed_dim (int): Width C.
        depth (int): Blocks.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden width / C.
        ffn (str): ``'mlp'`` (fc1/fc2, GELU) or ``'swiglu'`` (w12/w3).
        patch_size (int): Patch size.
        img_size (int): Pretrained resolution: the positional embedding has
            ``(img_size // patch_size) ** 2`` patch rows (37x37 at 518).
    """
    embed_dim: int
    depth: int
    num_heads: int
    mlp_ratio: float = 4.0
    ffn: str = 'mlp'
    patch_size: int = 14
    img_size: int = 518


#: arch -> architecture of the official hub models (``dinov2_<arch>``).
DINOV2_ARCHITECTURES = ArchitectureTable(
    'DINOv2', {
        'vits14': DINOv2Arch(384, 12, 6),
        'vitb14': DINOv2Arch(768, 12, 12),
        'vitl14': DINOv2Arch(1024, 24, 16),
        'vitg14': DINOv2Arch(1536, 40, 24, ffn='swiglu'),
    },
    key='arch')

#: Official weights of each hub architecture (facebookresearch/dinov2).
_URL = ('https://dl.fbaipublicfiles.com/dinov2/dinov2_{0}/'
        'dinov2_{0}_pretrain.pth')
DINOV2_CHECKPOINT_URLS: Dict[str, str] = {
    a: _URL.format(a)
    for a in ('vits14', 'vitb14', 'vitl14', 'vitg14')
}

#: How many bad keys an error message names.
_SHOWN_KEYS = 5
#: Keys a checkpoint may omit (not used by the forward; some re-saved
#: copies drop it).
_OPTIONAL_KEYS = ('mask_token', )


def read_dinov2_checkpoint(path: str, arch: str) -> Dict[str, Tensor]:
    """Read a DINOv2 state dict from a local file.

    Args:
        path (str): The official ``dinov2_<arch>_pretrain.pth`` (a plain
            state dict), or one wrapped in ``{'state_dict': ...}``.
        arch (str): For the messages.

    Returns:
        dict: The state dict.

    Raises:
        FileNotFoundError: ``path`` does not exist (names it and the URL).
        ValueError: The file holds no state dict.
    """
    full = osp.abspath(osp.expanduser(path))
    if not osp.isfile(full):
        url = DINOV2_CHECKPOINT_URLS.get(arch)
        hint = (f' Download {url} and give its local path.'
                if url else ' Use pretrained=None for random weights.')
        raise FileNotFoundError(
            f'DINOv2 checkpoint {path!r} (arch {arch!r}) does not exist '
            f'({full}).{hint}')
    state = load_checkpoint_file(full, map_location='cpu')
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict) or not all(
            isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f'DINOv2 checkpoint {path!r} holds no state dict '
                         f'of tensors (got {type(state).__name__})')
    return state


def dinov2_layout_errors(model: nn.Module,
                         state_dict: Dict[str, Tensor]) -> List[str]:
    """What keeps ``state_dict`` from loading strictly into ``model``.

    Args:
        model (nn.Module): The DINOv2 module.
        state_dict (dict): Weights in the official layout.

    Returns:
        list[str]: One phrase per kind of problem (missing keys, unexpected
        keys, shape mismatches), each naming the first few keys; empty when
        it fits (``mask_token`` may be absent).
    """
    expected = model.state_dict()
    missing = [
        k for k in expected if k not in state_dict and k not in _OPTIONAL_KEYS
    ]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f'{k} {tuple(v.shape)} (model {tuple(expected[k].shape)})'
        for k, v in state_dict.items()
        if k in expected and v.shape != expected[k].shape
    ]
    errors = []
    for what, keys in (('missing keys', missing),
                       ('unexpected keys', unexpected), ('shape mismatches',
                                                         shapes)):
        if keys:
            more = (f' and {len(keys) - _SHOWN_KEYS} more'
                    if len(keys) > _SHOWN_KEYS else '')
            errors.append(f'{len(keys)} {what}: '
                          f'{", ".join(keys[:_SHOWN_KEYS])}{more}')
    return errors


@MODELS.register_module()
class DINOv2(BaseModule):
    """Frozen DINOv2 ViT returning normalised patch tokens as a feature map.

    The parameters are the hub model's, under its names (``cls_token``,
    ``pos_embed`` (1, 1 + 37*37, C), ``mask_token``, ``patch_embed.proj``,
    ``blocks.N.*``, ``norm``), so ``self.load_state_dict(torch.load(
    'dinov2_vits14_pretrain.pth'))`` is strict.

    :meth:`forward` is WeCLIP+'s use (their model file, lines 136-140,
    159-173): the ImageNet-normalised image is RESIZED bilinearly
    (``align_corners=False``, not cropped) to ``((H // 14) * 14, (W // 14) *
    14)``, then the hub's ``forward_features``, and ``x_norm_patchtokens``
    come back as (B, C, H // 14, W // 14).

    Args:
        arch (str): Key of :data:`DINOV2_ARCHITECTURES` (``'vits14'``,
            ``'vitb14'``, ``'vitl14'``, ``'vitg14'``; ``'tiny'`` from
            :mod:`mmwsss.testing`). Defaults to ``'vits14'``.
        pretrained (str, optional): Local path of the official weights of
            ``arch``; None builds the hub's random initialisation (with a
            warning for an official architecture). Defaults to None.
        frozen (bool): ``requires_grad=False`` everywhere, eval mode always
            (also inside a model put in train mode), forward without
            autograd graph. Defaults to True.
        init_cfg (dict, optional): mmengine init config; the weights come
            from ``pretrained``, so normally None.
    """

    def __init__(self,
                 arch: str = 'vits14',
                 pretrained: Optional[str] = None,
                 frozen: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        spec = DINOV2_ARCHITECTURES.get(arch)
        self.arch = arch
        self.arch_spec = spec
        self.pretrained = pretrained
        self.frozen = frozen
        self.patch_size = spec.patch_size
        self.embed_dim = spec.embed_dim
        grid = spec.img_size // spec.patch_size
        c = spec.embed_dim

        self.cls_token = nn.Parameter(torch.zeros(1, 1, c))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, c))
        self.mask_token = nn.Parameter(torch.zeros(1, c))
        self.patch_embed = PatchEmbed(spec.patch_size, c)
        self.blocks = nn.ModuleList([
            Block(c, spec.num_heads, spec.mlp_ratio, spec.ffn)
            for _ in range(spec.depth)
        ])
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self._random_init()

        if pretrained is not None:
            self.load_checkpoint(pretrained)
        elif arch in DINOV2_CHECKPOINT_URLS:
            print_log(
                f'DINOv2 {arch}: pretrained=None, random weights (the '
                f'official ones: {DINOV2_CHECKPOINT_URLS[arch]})',
                logger='current',
                level=logging.WARNING)
        if frozen:
            self.requires_grad_(False)
            self.eval()

    # ------------------------------------------------------------------
    # weights and state
    # ------------------------------------------------------------------
    def _random_init(self) -> None:
        """The hub's initialisation: positions ~ N(0, 0.02) truncated, class
        token ~ N(0, 1e-6), every Linear N(0, 0.02) truncated with zero
        bias, layer scale 1, mask token 0."""
        trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def load_checkpoint(self, path: str) -> None:
        """Load the official weights of :attr:`arch` from ``path``.

        Raises:
            FileNotFoundError: No such file.
            ValueError: The file is not a state dict in the official layout
                of :attr:`arch` (one line naming the path and the first bad
                keys).
        """
        state = read_dinov2_checkpoint(path, self.arch)
        errors = dinov2_layout_errors(self, state)
        if errors:
            raise ValueError(
                f'DINOv2 checkpoint {path!r} does not fit arch '
                f'{self.arch!r} (official facebookresearch/dinov2 layout): '
                f'{"; ".join(errors)}')
        optional_missing = any(k not in state for k in _OPTIONAL_KEYS)
        self.load_state_dict(state, strict=not optional_missing)

    def train(self, mode: bool = True) -> 'DINOv2':
        """Set the mode; a frozen DINOv2 always stays in eval mode."""
        return super().train(mode and not self.frozen)

    def init_weights(self) -> None:
        """Weights come from ``pretrained``: nothing to initialise unless
        an explicit ``init_cfg`` asks for it."""
        if self.init_cfg:
            super().init_weights()
        self._is_init = True

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def interpolate_pos_encoding(self, h: int, w: int) -> Tensor:
        """Positional embedding for an ``(h, w)`` patch grid (the hub's
        ``interpolate_pos_encoding``: bicubic, offset 0.1 through
        ``scale_factor``, no antialias; see
        :func:`~.dinov2_layers.interpolate_dinov2_pos_embed`)."""
        return interpolate_dinov2_pos_embed(self.pos_embed, (h, w))

    def forward_features(self, img: Tensor) -> Dict[str, Tensor]:
        """The hub's ``forward_features`` (no masks).

        Args:
            img (Tensor): (B, 3, H, W), H and W multiples of the patch size.

        Returns:
            dict: ``x_norm_clstoken`` (B, C), ``x_norm_patchtokens``
            (B, h*w, C), ``x_prenorm`` (B, 1 + h*w, C).
        """
        x = self.patch_embed(img)
        h, w = (s // self.patch_size for s in img.shape[-2:])
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.interpolate_pos_encoding(h, w).to(x.dtype)
        for blk in self.blocks:
            x = blk(x)
        x_norm = self.norm(x)
        return {
            'x_norm_clstoken': x_norm[:, 0],
            'x_norm_patchtokens': x_norm[:, 1:],
            'x_prenorm': x,
        }

    def forward(self, img: Tensor) -> Tensor:
        """Normalised patch tokens of ImageNet-normalised images.

        Args:
            img (Tensor): (B, 3, H, W), H and W >= the patch size.

        Returns:
            Tensor: (B, C, H // p, W // p) ``x_norm_patchtokens`` after the
            bilinear resize to ``((H // p) * p, (W // p) * p)``.
        """
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError('DINOv2 expects (B, 3, H, W) images, got '
                             f'{tuple(img.shape)}')
        B, _, H, W = img.shape
        p = self.patch_size
        h, w = H // p, W // p
        if h < 1 or w < 1:
            raise ValueError(f'DINOv2: images of {H}x{W} pixels are smaller '
                             f'than one {p}x{p} patch')
        if (h * p, w * p) != (H, W):
            img = F.interpolate(
                img, size=(h * p, w * p), mode='bilinear', align_corners=False)
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            tokens = self.forward_features(img)['x_norm_patchtokens']
        return tokens.transpose(1, 2).reshape(B, self.embed_dim, h, w)
