"""SeedPredictor: CAMs of a CLIP CAM extractor -> CAA -> seeder -> seeds.

Prediction works per image at its own scale, as the authors' CAM inference
does: the CAMs of the labelled classes (:class:`CLIPCAMExtractor`), refined
by CAA (:func:`mmwsss.functional.caa.caa_refine`) with the image's own
attention, then a seeder (SAMS by default) at the image's original size ->
``pred_sem_seg`` (0 = background, class indices) in a ``SegDataSample``.
An image whose seed is finished in ``reuse_seeds_from``
(:func:`mmwsss.io.finished_seed`) is read back instead.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from torch import Tensor

from mmwsss.class_names import IGNORE_INDEX
from mmwsss.functional.caa import caa_refine, merge_attention
from mmwsss.functional.gradcam import normalized_at_size
from mmwsss.io import finished_seed, read_seed_png
from .clip_cams import TASKS, CLIPCAMExtractor

__all__ = ['SeedPredictor']

#: The authors' VOC CAA settings of each task.
DEFAULT_CAA = dict(
    cls=dict(threshold=0.4, aff_at='score'),
    seg=dict(threshold=0.5, aff_at='cam'))
#: The authors' VOC seeders of each task.
DEFAULT_SEEDERS = dict(
    cls=dict(type='SAMSSeeder', alpha=0.6),
    seg=dict(type='SAMSSeeder', alpha=0.7))


class SeedPredictor:
    """Seeds of images from the CAMs of a :class:`CLIPCAMExtractor`.

    Args:
        cam_extractor (CLIPCAMExtractor): Makes the CAMs.
        num_classes (int): Classes C, background included (channels of the
            ``seg_logits`` that ``output_cams`` adds).
        caa (dict, optional): Per task CAA settings (``None`` for no CAA),
            keys of :func:`mmwsss.functional.caa.caa_refine` (``threshold``,
            ``sinkhorn_iters``, ``n_iters`` (the affinity's matrix power),
            ``aff_at``, ``mask_type``) plus ``last_k`` (attention blocks
            merged, default 8). Defaults to the authors' VOC settings.
        seeder (dict, optional): Per task seeder configs (``SAMSSeeder``,
            ``ThresholdSeeder``, ...), turning CAMs into seed maps. Defaults
            to SAMS with alpha 0.6 (cls) and 0.7 (seg).
    """

    def __init__(self,
                 cam_extractor: CLIPCAMExtractor,
                 num_classes: int,
                 caa: Optional[Dict[str, Optional[dict]]] = None,
                 seeder: Optional[Dict[str, dict]] = None) -> None:
        self.cam_extractor = cam_extractor
        self.num_classes = num_classes
        caa = DEFAULT_CAA if caa is None else caa
        self.caa_cfg = {
            t: (None if caa.get(t) is None else dict(caa[t]))
            for t in TASKS
        }
        seeder = seeder or DEFAULT_SEEDERS
        self.seeders = {
            t: MODELS.build(seeder[t])
            for t in TASKS if seeder.get(t) is not None
        }

    def seeder(self, task: str):
        """The seeder of ``task``; a ValueError if there is none."""
        seeder = self.seeders.get(task)
        if seeder is None:
            raise ValueError(f'No seeder configured for task "{task}"')
        return seeder

    def attn_layers(self, task: str) -> int:
        """Attention blocks the CAA of ``task`` merges (0 without CAA)."""
        caa = self.caa_cfg[task]
        return caa.get('last_k', 8) if caa else 0

    def refine(self, cams: Tensor, attn: Optional[Tensor],
               task: str) -> Tensor:
        """CAA refinement of one image's CAMs.

        Args:
            cams (Tensor): (P, h, w) CAMs on the patch grid.
            attn (Tensor, optional): (K, 1+L, 1+L) attention maps.
            task (str): Whose CAA settings apply.

        Returns:
            Tensor: (P, h, w) refined CAMs; ``cams`` itself when the task
            has no CAA or the image no class.
        """
        cfg = self.caa_cfg[task]
        if cfg is None or cams.shape[0] == 0:
            return cams
        cfg = dict(cfg)
        last_k = cfg.pop('last_k', 8)
        merged = merge_attention(attn, last_k=last_k)
        return caa_refine(merged, cams.float(), **cfg)

    def image_cams(self, inputs: Tensor, i: int, data_sample, labels: Tensor,
                   task: str) -> Tuple[Tensor, Tensor]:
        """Refined CAMs of the labelled classes of image ``i`` of a batch.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised batch.
            i (int): Image index in the batch.
            data_sample (SegDataSample): Its data sample (``img_shape``,
                path).
            labels (Tensor): (B, G) image-level multi-hot labels.
            task (str): ``'cls'`` or ``'seg'`` prompts.

        Returns:
            tuple[Tensor, Tensor]: CAA-refined CAMs (P, h, w) on the patch
            grid and the (P,) 0-based class ids.
        """
        fg = torch.nonzero(labels[i]).flatten()
        if len(fg) == 0:
            print_log(f'{data_sample.metainfo.get("img_path", i)}: no '
                      'foreground label, the seed is all background',
                      logger='current', level=logging.WARNING)
            return inputs.new_zeros((0, 1, 1)), fg
        # GradCAM in cam_dtype, CAA in float32 (even under an outer
        # autocast)
        cams, attn = self.cam_extractor.image_cams(inputs, i, data_sample,
                                                   labels[i:i + 1], task,
                                                   self.attn_layers(task))
        with torch.autocast(inputs.device.type, enabled=False):
            return self.refine(cams.detach(), attn, task), fg

    def predict_cams(self, inputs: Tensor, data_samples: Sequence,
                     labels: Tensor, task: str) -> List[Tuple[Tensor, Tensor]]:
        """:meth:`image_cams` of every image of a batch."""
        return [
            self.image_cams(inputs, i, ds, labels, task)
            for i, ds in enumerate(data_samples)
        ]

    def predict(self,
                inputs: Tensor,
                data_samples: Sequence,
                labels: Tensor,
                task: str,
                reuse_seeds_from: Optional[str] = None,
                output_cams: bool = False) -> Sequence:
        """Seeds of the labelled classes of a batch.

        Args:
            inputs (Tensor): (B, 3, H, W) normalised batch.
            data_samples (Sequence[SegDataSample]): Its data samples
                (``ori_shape``, ``img_path``).
            labels (Tensor): (B, G) image-level multi-hot labels.
            task (str): ``'cls'`` or ``'seg'`` prompts and seeder.
            reuse_seeds_from (str, optional): Seed folder of an earlier run;
                an image with a finished seed there
                (:func:`mmwsss.io.finished_seed`) is read back instead of
                recomputed.
            output_cams (bool): Also return the refined CAMs as
                ``seg_logits`` ((C, H, W), min-max normalised, zeros for the
                classes not in the image); seeds are then always computed.

        Returns:
            Sequence[SegDataSample]: ``data_samples`` with ``pred_sem_seg``
            = seed (1, H, W) at the original image size (0 background,
            class indices), and ``seg_logits`` with ``output_cams``.
        """
        seeder = self.seeder(task)
        for i, ds in enumerate(data_samples):
            ori = tuple(ds.metainfo.get('ori_shape', inputs.shape[-2:])[:2])
            done = None if output_cams else finished_seed(
                reuse_seeds_from, ds.img_path)
            if done is not None:
                seed = torch.from_numpy(read_seed_png(done).astype(np.int64))
            else:
                cams, fg = self.image_cams(inputs, i, ds, labels, task)
                seed = seeder(cams, fg, ori, data_sample=ds)
                if output_cams:
                    ds.set_data({
                        'seg_logits':
                        PixelData(data=self._full_cams(cams, fg, ori))
                    })
            ds.set_data(
                {'pred_sem_seg': PixelData(data=seed.long().unsqueeze(0))})
        return data_samples

    def _full_cams(self, cams: Tensor, fg: Tensor,
                   size: Tuple[int, int]) -> Tensor:
        """(C, H, W) min-max normalised CAMs at image size, zeros for the
        background channel and absent classes."""
        out = cams.new_zeros((self.num_classes, ) + tuple(size))
        if len(fg):
            out[fg + 1] = normalized_at_size(cams.float(), size)
        return out

    def crop_seeds(self, cams: Tensor, pairs: Tensor, attn: Optional[Tensor],
                   data_samples: Sequence, size: Tuple[int, int], seeder,
                   task: str = 'cls') -> Tensor:
        """Seed maps of a batch of crops from their CAMs: the online coarse
        seeds D_C of the joint phase.

        Args:
            cams (Tensor): (P, h, w) CAMs of the batch (detached).
            pairs (Tensor): (P, 2) (image, class) pairs of ``cams``.
            attn (Tensor, optional): (B, K, 1+L, 1+L) attention maps.
            data_samples (Sequence[SegDataSample]): The crops' samples; the
                ignore pixels (255) of a ``gt_sem_seg`` are kept.
            size (tuple[int, int]): Crop size (H, W).
            seeder (BaseSeeder): Turns the refined CAMs into seeds.
            task (str): Whose CAA settings apply. Defaults to ``'cls'``.

        Returns:
            Tensor: (B, H, W) int64 seed maps on the device of ``cams``.
        """
        seeds = []
        for b, ds in enumerate(data_samples):
            sel = pairs[:, 0] == b
            refined = self.refine(cams[sel],
                                  None if attn is None else attn[b], task)
            seed = seeder(
                refined, pairs[sel, 1], size, data_sample=ds, image=None)
            seeds.append(seed.to(cams.device).long())
        lb = torch.stack(seeds)
        for b, ds in enumerate(data_samples):
            if 'gt_sem_seg' in ds:  # keep padding / ignore of the batch
                gt = ds.gt_sem_seg.data[0].to(lb.device)
                lb[b][gt == IGNORE_INDEX] = IGNORE_INDEX
        return lb
