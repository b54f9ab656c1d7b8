"""WeCLIP (CVPR 2024) and WeCLIP+ (TPAMI 2025) as one mmseg segmentor.

Single-stage weakly supervised segmentation on frozen foundation models,
as the authors' public code computes it (github.com/zbf1991/WeCLIP, commit
``0f47db4``; the reference behaviour is written down section by section in
the issue's spec, cited below as "ref 2.x"):

* a frozen CLIP ViT-B/16 sees the **ImageNet**-normalised image at its own
  size (cropped to a multiple of 16) and gives the raw outputs of its first
  11 blocks and their attention (ref 2.2);
* ``dino=None`` is **WeCLIP**: one :class:`~.heads.SegFormerFuseHead` on all
  11 block outputs; a DINOv2 config is **WeCLIP+**: a head on the last CLIP
  block output, a second head on the DINOv2 patch tokens (resized to the
  CLIP grid), one :class:`~.heads.DecoderTransformer` shared by both
  (ref 2.5-2.7);
* training labels come online from the image-level labels: GradCAM of
  CLIP's last block per present class, the attention affinity refined with
  the predicted affinity ``sigmoid(F^T F)``, PAR (ref 2.8, 2.9;
  :mod:`.pseudo_labels`);
* losses (ref 2.10): the fg/bg-balanced CE on the pseudo labels, Dice
  (WeCLIP+), the affinity loss, the mutual CLIP/DINO terms (WeCLIP+) and the
  late self-correction of the labels (WeCLIP+);
* test (ref 2.12): whole image, or resize-long + multi-scale + flip, with an
  optional dense CRF; or the online pseudo labels as the output
  (``test_cfg.output='pseudo'``), which :class:`~mmwsss.evaluation.SeedMetric`
  writes as seeds for a second stage.

**Classes.** The present classes of an image are its ``img_labels``
(sorted ``1..C``, :class:`~mmwsss.datasets.transforms.PackWSSSInputs`), so
``keys = img_labels - 1`` ascend. The authors read WeCLIP+'s VOC classes from
the XML in order of first appearance (WeCLIP and COCO: ascending from the GT
PNG); the order only changes which class wins a tie of the final argmax.
Any class list works (``classes`` / ``class_names`` / ``bg_names`` as in
:class:`~mmwsss.models.FMAPromptModel`; give the dataset's own ``classes``
for a folder dataset); VOC and COCO use the CLIP-ES prompt names and
background prompts that WeCLIP's ``clip_text.py`` holds.

**Iteration.** The training iteration (self-correction, WeCLIP's switch of
the affinity) is mmengine's ``MessageHub`` ``'iter'`` (0-based step).

**Precision.** Float32 is the reference (the authors' in-forward fp16
casts, ref 1, are taken as identities). Under ``--amp`` the heads, decoder
and the frozen encoders run under autocast; GradCAM's softmax, the affinity
and PAR are computed in float32 from what they return. The pseudo labels
are sensitive to the precision of CLIP (ref 1: about a fifth of the pixels
move with random weights), so AMP is a documented choice, not the
reference.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor

from mmwsss.class_names import IGNORE_INDEX, WECLIP_TEMPLATE
from mmwsss import functional as W
from mmwsss.functional.crf import dense_crf
from mmwsss.io import read_rgb_image
from ..baselines.sam_text import image_label_classes
from ..prompt_classes import PromptClasses
from .heads import DecoderTransformer, SegFormerFuseHead
from .pseudo_labels import clip_grad_cams, refine_image_cams

__all__ = ['WeCLIP', 'WECLIP_CRF']

#: The authors' test-time CRF (``utils/dcrf.py`` as ``test_msc_flip_voc.py``
#: builds it), as :func:`mmwsss.functional.crf.dense_crf` arguments.
WECLIP_CRF = dict(
    n_iters=10, pos_w=3, pos_xy_std=3, bi_w=4, bi_xy_std=64, bi_rgb_std=5)

#: WeCLIP+ VOC (ref 2.8, 2.10, 2.11).
_CAM_DEFAULTS = dict(
    cam_block=-2,
    attn_maps=6,
    warmup_attn_maps=8,
    switch_iter=None,
    box_threshold=None,
    seg_prob_weight=True,
    bg_power=1.0,
    par=dict(dilations=(1, 2, 4, 8, 12, 24), num_iter=20, w1=0.3, w2=0.01))
_LOSS_DEFAULTS = dict(
    seg=1.0,
    dice=1.0,
    mutual=0.1,
    aff=0.1,
    aff_radius=8,
    self_correct_iter=18000,
    self_correct_threshold=0.75,
    empty='zero')
_TEST_DEFAULTS = dict(
    mode='whole',
    resize_long=None,
    scales=(1.0, ),
    flip=False,
    crf=False,
    output='seg')
_MODES = ('whole', 'msc_flip')
_OUTPUTS = ('seg', 'pseudo')


def _merged(defaults: dict, given: Optional[dict], what: str) -> dict:
    """``defaults`` updated by ``given``; unknown keys are an error."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise KeyError(f'WeCLIP {what}: unknown keys {unknown}; known: '
                       f'{sorted(defaults)}')
    out = dict(defaults)
    out.update(given)
    return out


def _bilinear(x: Tensor, size: Sequence[int]) -> Tensor:
    return F.interpolate(
        x, size=tuple(int(s) for s in size), mode='bilinear',
        align_corners=False)


@MODELS.register_module()
class WeCLIP(BaseSegmentor):
    """WeCLIP (``dino=None``) and WeCLIP+ (``dino`` given).

    Args:
        clip (dict): :class:`~mmwsss.models.clip.FrozenCLIP` config
            (ViT-B/16, OpenAI weights).
        dino (dict, optional): Frozen DINOv2 backbone config (WeCLIP+:
            ``dict(type='DINOv2', arch='vits14', pretrained=...)``); None
            gives WeCLIP.
        dino_channels (int, optional): Channels of the DINOv2 features; None
            reads ``embed_dims`` / ``embed_dim`` of the built backbone.
        dataset (str, optional): Class tables of :mod:`mmwsss.class_names`
            (``'voc'`` / ``'coco'``).
        classes (str | Sequence[str], optional): The dataset's own class
            list (background first or left out) or a ``classes.txt``.
        class_names (Sequence[str] | dict, optional): Foreground prompt
            names (see :class:`~mmwsss.models.prompt_classes.PromptClasses`).
        bg_names (Sequence[str], optional): Background prompt names.
        template (str): Prompt template. Defaults to WeCLIP's
            ``'a clean origami {}.'``.
        num_blocks (int): CLIP blocks run for the image features (11).
        head_blocks (int): Last block outputs the CLIP head fuses (WeCLIP+:
            1, WeCLIP: 11).
        embed_dim (int): Head and decoder width. Defaults to 256.
        dropout (float): ``Dropout2d`` after the heads' fusion (0.1).
        decoder_layers (int): Decoder blocks. Defaults to 3.
        decoder_heads (int): Decoder attention heads. Defaults to 8.
        cam_cfg (dict, optional): Online pseudo labels: ``cam_block`` (index
            into the block outputs GradCAM's last block is run on: -2 for
            WeCLIP+ VOC, -1 for WeCLIP and COCO), ``attn_maps`` (last maps
            of the affinity: 6 VOC, 8 WeCLIP+ COCO, 10 WeCLIP COCO),
            ``warmup_attn_maps`` (maps averaged before ``switch_iter``: 8),
            ``switch_iter`` (WeCLIP: the affinity is the plain mean of the
            last ``warmup_attn_maps`` maps until this iteration, then the
            selection against the predicted affinity; None: always the
            selection), ``box_threshold`` (box masks on the propagation's
            sources: None, 0.4 WeCLIP, 0.7 COCO), ``seg_prob_weight`` (the
            CAM times the segmentation probability, WeCLIP+), ``bg_power``
            and ``par`` (PAR's arguments).
        loss_cfg (dict, optional): Weights ``seg``, ``dice``, ``mutual``,
            ``aff`` (0 drops a term), ``aff_radius`` (8 patches),
            ``self_correct_iter`` (labels corrected by the prediction after
            this iteration; None: never), ``self_correct_threshold`` and
            ``empty``: a CE term over an empty pixel set (a crop without
            background or without foreground) is nan in the authors' code
            (``'nan'``) and 0 with ``'zero'`` (default); the gradients are
            the same (the empty term contributes none), only the logged
            loss differs.
        train_cfg (dict, optional): Unused (mmseg's signature).
        test_cfg (dict, optional): ``mode`` (``'whole'`` or ``'msc_flip'``),
            ``resize_long`` (long side of the test input; None keeps the
            size), ``scales`` and ``flip`` (``'msc_flip'``), ``crf``
            (:data:`WECLIP_CRF` on the output), ``output`` (``'seg'``: the
            decoder's prediction; ``'pseudo'``: the online pseudo label at
            the original size, for seeds).
        output_cams (bool): With ``test_cfg.output='pseudo'``,
            ``seg_logits`` holds the pseudo label's scores after PAR
            (background in channel 0, each labelled class in its own
            channel, zero elsewhere; divided by PAR's gain ``(1 + w2) **
            num_iter`` into [0, 1]) instead of the decoder's logits: what
            the report shows as the CAMs of a seed (the
            ``FMAPromptModel`` option of the same name). Defaults to False.
        data_preprocessor (dict, optional): ``SegDataPreProcessor`` with the
            ImageNet mean / std (what the authors feed CLIP and DINO).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 clip: dict,
                 dino: Optional[dict] = None,
                 dino_channels: Optional[int] = None,
                 dataset: Optional[str] = 'voc',
                 classes: Optional[Union[str, Sequence[str]]] = None,
                 class_names: Optional[Union[Sequence[str], dict]] = None,
                 bg_names: Optional[Sequence[str]] = None,
                 template: str = WECLIP_TEMPLATE,
                 num_blocks: int = 11,
                 head_blocks: int = 1,
                 embed_dim: int = 256,
                 dropout: float = 0.1,
                 decoder_layers: int = 3,
                 decoder_heads: int = 8,
                 cam_cfg: Optional[dict] = None,
                 loss_cfg: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 output_cams: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.clip = MODELS.build(clip)
        self.dino = MODELS.build(dino) if dino is not None else None
        if self.dino is not None:
            self.dino.requires_grad_(False)
            self.dino.eval()
        self.class_table = PromptClasses(dataset, classes, class_names,
                                         bg_names)
        self.num_classes = len(self.class_table.dataset_classes)
        self.template = str(template)
        self.num_blocks = int(num_blocks)
        if not 1 <= head_blocks <= self.num_blocks:
            raise ValueError(f'WeCLIP head_blocks={head_blocks}: must be in '
                             f'1..num_blocks ({self.num_blocks})')
        self.head_blocks = int(head_blocks)
        self.cam_cfg = _merged(_CAM_DEFAULTS, cam_cfg, 'cam_cfg')
        self.loss_cfg = _merged(_LOSS_DEFAULTS, loss_cfg, 'loss_cfg')
        self.test_cfg = _merged(_TEST_DEFAULTS, test_cfg, 'test_cfg')
        self.train_cfg = train_cfg
        self.output_cams = bool(output_cams)
        if self.test_cfg['mode'] not in _MODES:
            raise ValueError(f'WeCLIP test_cfg.mode={self.test_cfg["mode"]!r}'
                             f'; expected one of {_MODES}')
        if self.test_cfg['output'] not in _OUTPUTS:
            raise ValueError('WeCLIP test_cfg.output='
                             f'{self.test_cfg["output"]!r}; expected one of '
                             f'{_OUTPUTS}')

        width = self.clip.vision_width
        self.decoder_fts_fuse = SegFormerFuseHead(width, self.head_blocks,
                                                  embed_dim, dropout)
        if self.dino is not None:
            if dino_channels is None:
                dino_channels = getattr(self.dino, 'embed_dims',
                                        getattr(self.dino, 'embed_dim', None))
            if dino_channels is None:
                raise ValueError('WeCLIP: give dino_channels (the DINOv2 '
                                 'backbone has no embed_dims attribute)')
            self.dino_decoder_fts_fuse = SegFormerFuseHead(
                int(dino_channels), 1, embed_dim, dropout)
        self.decoder = DecoderTransformer(embed_dim, decoder_layers,
                                          decoder_heads, self.num_classes)
        self.align_corners = False
        self._text_cache: Optional[Tensor] = None

    # ------------------------------------------------------------------
    # state
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'WeCLIP':
        """Heads and decoder follow ``mode``; CLIP and DINOv2 stay in eval
        mode (the authors never call ``.eval()`` on DINOv2, which has no
        dropout or drop-path, so this changes nothing)."""
        super().train(mode)
        self.clip.train(mode)
        if self.dino is not None:
            self.dino.eval()
        return self

    def text_features(self) -> Tensor:
        """(C + Q, E) normalised text features: the C foreground classes in
        class order, then the Q background prompts, one template; computed
        once per device."""
        device = self.clip.device
        if self._text_cache is None or self._text_cache.device != device:
            names = list(self.class_table.prompt_names) + list(
                self.class_table.bg_names)
            with torch.no_grad():
                self._text_cache = self.clip.prompt_text_features(
                    names, [self.template]).float()
        return self._text_cache

    @staticmethod
    def current_iter() -> int:
        """The runner's 0-based training iteration (0 outside a runner)."""
        return int(MessageHub.get_current_instance().get_info('iter', 0))

    # ------------------------------------------------------------------
    # forward parts
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> dict:
        """Frozen features, decoder logits and the predicted affinity.

        Args:
            inputs (Tensor): (B, 3, H, W) ImageNet-normalised images.

        Returns:
            dict: ``tokens`` (list of (B, L, C) block outputs), ``attn``
            ((B, n, L, L) their attention), ``grid`` (h, w), ``seg_clip``
            and ``seg_dino`` ((B, num_classes, h, w); ``seg_dino`` None for
            WeCLIP), ``seg`` (the logits used: ``0.5 seg_clip + 0.5
            seg_dino`` or ``seg_clip``), ``seg_prob`` (its softmax,
            detached) and ``attn_pred`` ((B, hw, hw)).
        """
        tokens, attn = self.clip.encode_image_blocks(
            inputs, num_blocks=self.num_blocks)
        p = self.clip.patch_size
        h, w = inputs.shape[-2] // p, inputs.shape[-1] // p
        b = inputs.shape[0]
        maps = torch.stack([
            t[:, 1:].transpose(1, 2).reshape(b, -1, h, w)
            for t in tokens[-self.head_blocks:]
        ])
        fts = self.decoder_fts_fuse(maps)
        seg_clip, _ = self.decoder(fts)
        seg_dino = None
        if self.dino is not None:
            with torch.no_grad():
                dino = self.dino(inputs)
            if isinstance(dino, (list, tuple)):
                dino = dino[-1]
            dino_fts = _bilinear(self.dino_decoder_fts_fuse(dino[None]),
                                 (h, w))
            seg_dino, _ = self.decoder(dino_fts)
            fts = torch.cat([fts, dino_fts], dim=1)
            seg = 0.5 * seg_dino + 0.5 * seg_clip
        else:
            seg = seg_clip
        flat = fts.flatten(2)
        attn_pred = torch.sigmoid(flat.transpose(1, 2).bmm(flat))
        return dict(
            tokens=tokens,
            attn=attn,
            grid=(h, w),
            seg_clip=seg_clip,
            seg_dino=seg_dino,
            seg=seg,
            seg_prob=seg.detach().float().softmax(dim=1),
            attn_pred=attn_pred)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """(B, num_classes, h, w) logits at the patch grid."""
        return self.extract_feat(inputs)['seg']

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]
                      ) -> Tensor:
        """Logits resized bilinearly to the input size (mmseg's API)."""
        return _bilinear(self._forward(inputs), inputs.shape[-2:])

    # ------------------------------------------------------------------
    # pseudo labels
    # ------------------------------------------------------------------
    def image_keys(self, data_sample: SegDataSample) -> List[int]:
        """0-based foreground classes of a sample (``img_labels - 1``)."""
        return [
            c - 1
            for c in image_label_classes(data_sample, self.num_classes - 1)
        ]

    def pseudo_labels(self, inputs: Tensor, feats: dict,
                      keys: Sequence[Sequence[int]],
                      sizes: Sequence[Tuple[int, int]],
                      seg_trans: bool = True,
                      return_scores: bool = False) -> list:
        """The online pseudo labels of a batch (ref 2.8).

        Args:
            inputs (Tensor): (B, 3, H, W) network input (PAR's image).
            feats (dict): :meth:`extract_feat` of ``inputs``.
            keys (Sequence[Sequence[int]]): 0-based classes per image.
            sizes (Sequence[tuple[int, int]]): Label size per image.
            seg_trans (bool): Affinity selected against the predicted one
                (else the plain mean of ``warmup_attn_maps`` maps).
            return_scores (bool): Return (label, scores) pairs (see
                :func:`~.pseudo_labels.refine_image_cams`).

        Returns:
            list: (H_i, W_i) long label maps (0 and key + 1), or pairs of
            a label map and its (K_i + 1, H_i, W_i) scores.
        """
        cfg = self.cam_cfg
        device = inputs.device
        text = self.text_features().to(device)
        num_fg = self.num_classes - 1
        pair_img = torch.tensor(
            [i for i, k in enumerate(keys) for _ in k],
            dtype=torch.long,
            device=device)
        pair_cls = torch.tensor([c for k in keys for c in k],
                                dtype=torch.long,
                                device=device)
        allowed = torch.ones(
            len(pair_img), text.shape[0], dtype=torch.bool, device=device)
        allowed[:, :num_fg] = False
        for p, i in enumerate(pair_img.tolist()):
            allowed[p, torch.as_tensor(keys[i], device=device)] = True
        if len(pair_img):
            cam_tokens = feats['tokens'][cfg['cam_block']]
            cams, last_attn = clip_grad_cams(self.clip, cam_tokens, text,
                                             pair_img, pair_cls, allowed,
                                             feats['grid'])
        n_maps = cfg['attn_maps'] if seg_trans else cfg['warmup_attn_maps']
        labels = []
        for i, k in enumerate(keys):
            sel = (pair_img == i).nonzero().flatten()
            if len(sel) == 0:
                empty = torch.zeros(sizes[i], dtype=torch.long, device=device)
                labels.append((empty, torch.ones((1, ) + tuple(sizes[i]),
                                                 device=device))
                              if return_scores else empty)
                continue
            maps = torch.cat([feats['attn'][i].float(),
                              last_attn[sel[0]][None]])[:, 1:, 1:][-n_maps:]
            labels.append(
                refine_image_cams(
                    cams[sel],
                    torch.as_tensor(k, dtype=torch.long, device=device),
                    maps,
                    inputs[i],
                    sizes[i],
                    attn_pred=feats['attn_pred'][i].float()
                    if seg_trans else None,
                    seg_prob=feats['seg_prob'][i]
                    if cfg['seg_prob_weight'] else None,
                    box_threshold=cfg['box_threshold'],
                    bg_power=cfg['bg_power'],
                    par_cfg=cfg['par'],
                    return_scores=return_scores))
        return labels

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def loss(self, inputs: Tensor, data_samples: Sequence[SegDataSample]
             ) -> Dict[str, Tensor]:
        """One training step's losses (ref 2.10).

        Args:
            inputs (Tensor): (B, 3, H, W) crops (all one size).
            data_samples (Sequence[SegDataSample]): With ``img_labels``.

        Returns:
            dict[str, Tensor]: ``loss_seg``, ``loss_aff`` and, when weighted,
            ``loss_dice`` and ``loss_mutual``; ``pseudo_fg`` (the pseudo
            labels' foreground fraction, a log value).
        """
        cfg = self.loss_cfg
        it = self.current_iter()
        switch = self.cam_cfg['switch_iter']
        seg_trans = switch is None or it > switch
        feats = self.extract_feat(inputs)
        size = tuple(inputs.shape[-2:])
        keys = [self.image_keys(ds) for ds in data_samples]
        labels = torch.stack(
            self.pseudo_labels(inputs, feats, keys, [size] * len(keys),
                               seg_trans))
        h, w = feats['grid']
        aff_label = W.cams_to_affinity_label(
            labels,
            W.radius_mask(h, w, cfg['aff_radius']).to(labels.device),
            ignore_index=IGNORE_INDEX,
            patch=self.clip.patch_size)
        losses = dict(loss_aff=cfg['aff'] *
                      W.affinity_loss(feats['attn_pred'].float(), aff_label))
        segs = _bilinear(feats['seg'].float(), size)
        if cfg['self_correct_iter'] is not None and \
                it > cfg['self_correct_iter']:
            labels = W.self_correct_labels(
                labels,
                segs.detach().softmax(dim=1),
                threshold=cfg['self_correct_threshold'])
        ce = dict(ignore_index=IGNORE_INDEX, empty=cfg['empty'])
        losses['loss_seg'] = cfg['seg'] * W.balanced_seg_loss(
            segs, labels, **ce)
        if cfg['dice']:
            losses['loss_dice'] = cfg['dice'] * W.weclip_dice_loss(
                segs, labels, self.num_classes, ignore_index=IGNORE_INDEX)
        if cfg['mutual'] and feats['seg_dino'] is not None:
            clip_up = _bilinear(feats['seg_clip'].float(), size)
            dino_up = _bilinear(feats['seg_dino'].float(), size)
            losses['loss_mutual'] = cfg['mutual'] * (
                W.balanced_seg_loss(clip_up, dino_up.argmax(1), **ce) +
                W.balanced_seg_loss(dino_up, clip_up.argmax(1), **ce))
        losses['pseudo_fg'] = (labels > 0).float().mean().detach()
        return losses

    # ------------------------------------------------------------------
    # test
    # ------------------------------------------------------------------
    def _test_input(self, x: Tensor) -> Tensor:
        """Resize to ``test_cfg.resize_long`` (``int`` sizes, bilinear)."""
        long_side = self.test_cfg['resize_long']
        if not long_side:
            return x
        h, w = x.shape[-2:]
        r = float(long_side) / max(h, w)
        return _bilinear(x, (int(h * r), int(w * r)))

    def test_logits(self, x: Tensor) -> Tensor:
        """Test-time logits of one image (ref 2.12).

        Args:
            x (Tensor): (1, 3, H, W) normalised image.

        Returns:
            Tensor: (num_classes, h, w) logits at the scale-1 patch grid
            (averaged over scales and flips in ``'msc_flip'`` mode).
        """
        cfg = self.test_cfg
        x = self._test_input(x)
        msc = cfg['mode'] == 'msc_flip'
        scales = [float(s) for s in cfg['scales']] if msc else [1.0]
        flip = bool(cfg['flip']) if msc else False
        if 1.0 not in scales:
            scales = [1.0] + scales
        total, base = None, None
        for s in scales:
            xs = x if s == 1.0 else F.interpolate(
                x, scale_factor=s, mode='bilinear', align_corners=False)
            batch = torch.cat([xs, xs.flip(-1)]) if flip else xs
            seg = self._forward(batch).float()
            if base is None:
                base = seg.shape[-2:]
            else:
                seg = _bilinear(seg, base)
            seg = (seg[0] + seg[1].flip(-1)) / 2 if flip else seg[0]
            total = seg if total is None else total + seg
        return total / len(scales)

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[Sequence[SegDataSample]] = None
                ) -> List[SegDataSample]:
        """Predict (ref 2.12).

        Args:
            inputs (Tensor): (B, 3, H, W) normalised images (padded in a
                batch; ``img_shape`` gives each one's own size).
            data_samples (Sequence[SegDataSample], optional): With
                ``img_shape``, ``ori_shape``, ``flip`` (mmseg's TTA),
                ``img_path`` (CRF) and ``img_labels`` (pseudo output).

        Returns:
            list[SegDataSample]: ``seg_logits`` ((num_classes, H, W) logits
            at the original size) and ``pred_sem_seg`` ((1, H, W): argmax,
            CRF labels or the pseudo label).
        """
        if data_samples is None:
            data_samples = [
                SegDataSample(
                    metainfo=dict(
                        img_shape=inputs.shape[-2:],
                        ori_shape=inputs.shape[-2:]))
                for _ in range(inputs.shape[0])
            ]
        cfg = self.test_cfg
        for i, ds in enumerate(data_samples):
            meta = ds.metainfo
            h, w = meta.get('img_shape', inputs.shape[-2:])[:2]
            ori = tuple(int(v) for v in meta.get('ori_shape', (h, w))[:2])
            x = inputs[i:i + 1, :, :h, :w]
            if cfg['output'] == 'pseudo':
                # one forward at the scale-1 input: its logits and label
                x = self._test_input(x)
                feats = self.extract_feat(x)
                logits = feats['seg'][0].float()
                keys = self.image_keys(ds)
                pred, scores = self.pseudo_labels(
                    x, feats, [keys], [ori], return_scores=True)[0]
                if self.output_cams:
                    logits = self._cam_channels(scores, keys, x.device)
            else:
                logits = self.test_logits(x)
            flip_dims = None
            if meta.get('flip', False):
                flip_dims = (-1, ) if meta.get(
                    'flip_direction', 'horizontal') == 'horizontal' else (-2, )
                logits = logits.flip(flip_dims)
            if tuple(logits.shape[-2:]) != ori:
                logits = _bilinear(logits[None], ori)[0]
            if cfg['output'] == 'pseudo':
                if flip_dims is not None:
                    pred = pred.flip(flip_dims)
            elif cfg['crf']:
                pred = self._crf(logits, ds)
            else:
                pred = logits.argmax(dim=0)
            ds.set_data(
                dict(
                    seg_logits=PixelData(data=logits),
                    pred_sem_seg=PixelData(data=pred[None].long())))
        return list(data_samples)

    def _cam_channels(self, scores: Tensor, keys: Sequence[int],
                      device) -> Tensor:
        """(K + 1, H, W) pseudo-label scores -> (num_classes, H, W): the
        background in channel 0, class ``key`` in ``key + 1``, divided by
        PAR's gain into [0, 1] (see ``output_cams``)."""
        par = dict(self.cam_cfg['par'])
        gain = (1.0 + float(par.get('w2', 0.01)))**int(par.get('num_iter', 20))
        out = scores.new_zeros((self.num_classes, ) + scores.shape[-2:])
        idx = torch.as_tensor([0] + [k + 1 for k in keys], device=device)
        out[idx] = (scores[:len(idx)] / gain).clamp(0, 1)
        return out

    @staticmethod
    def _crf(logits: Tensor, data_sample: SegDataSample) -> Tensor:
        """:data:`WECLIP_CRF` on the softmax of the logits and the image
        read from ``img_path`` (uint8 RGB, as displayed)."""
        path = data_sample.metainfo.get('img_path')
        if path is None:
            raise KeyError('WeCLIP test_cfg.crf=True needs img_path in the '
                           'data sample (the CRF reads the image)')
        image = read_rgb_image(path)
        probs = logits.float().softmax(dim=0).cpu().numpy()
        q = dense_crf(image, probs, **WECLIP_CRF)
        return torch.from_numpy(np.argmax(q, axis=0)).to(logits.device)
