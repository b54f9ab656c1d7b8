"""CAMs of a few images, recomputed from the model that made their seeds.

The pipeline does not store CAMs (only seeds). For the report's strips they
are recomputed with the seed stage's config and checkpoint: the model's own
``predict`` with ``output_cams=True`` gives the refined CAMs (what the
seeder saw; for WeCLIP the pseudo label's scores after PAR) and the seed. That seed is compared with the saved one, so a
strip says when its CAMs do not reproduce the saved seed (e.g. a random
CLIP built with another random state) instead of showing them as if they
did.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmwsss.io import read_seed_png, seed_path

__all__ = ['ImageCams', 'recompute_cams']


@dataclass
class ImageCams:
    """Recomputed CAMs of one image.

    Args:
        cams (np.ndarray): (K, H, W) float32 in [0, 1], one per labelled
            class, at the image size.
        class_ids (list[int]): The K class indices (1-based, background 0).
        seed_agreement (float, optional): Share of pixels where the seed
            recomputed with these CAMs equals the saved seed (1.0: the CAMs
            are the ones that made it); None without a saved seed.
    """
    cams: np.ndarray
    class_ids: List[int]
    seed_agreement: Optional[float] = None


def _build(config: str, checkpoint: str, device: str) -> Tuple:
    """The model (CAM output on, seed reuse off) and its test dataset."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint, set_random_seed

    from mmseg.registry import DATASETS, MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # the random state tools/test.py's Runner set before building the
    # model: a CLIP with random weights is rebuilt identically
    if cfg.get('randomness'):
        set_random_seed(**cfg.randomness)
    cfg.model.output_cams = True  # FMAPromptModel's and WeCLIP's option
    if 'reuse_seeds_from' in cfg.model:
        cfg.model.reuse_seeds_from = None
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    model.to(device).eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return model, dataset


def recompute_cams(config: str,
                   checkpoint: str,
                   stems: Sequence[str],
                   seed_dir: Optional[str] = None,
                   device: str = 'cpu') -> Dict[str, ImageCams]:
    """CAMs of the labelled classes of some images of a seed config.

    Args:
        config (str): The seed stage's config (``configs/seeds.py`` of a
            pipeline work dir): its model and ``test_dataloader.dataset``.
        checkpoint (str): Prompt checkpoint the seeds were made with.
        stems (sequence[str]): Image stems to compute.
        seed_dir (str, optional): The saved seeds, to check agreement.
        device (str): Defaults to ``'cpu'``.

    Returns:
        dict[str, ImageCams]: Stem -> CAMs, for the stems in the dataset.
    """
    from mmengine.dataset import pseudo_collate
    model, dataset = _build(config, checkpoint, device)
    index = {
        osp.splitext(osp.basename(dataset.get_data_info(i)['img_path']))[0]: i
        for i in range(len(dataset))
    }
    out = {}
    for stem in stems:
        if stem not in index:
            continue
        sample = model.test_step(pseudo_collate([dataset[index[stem]]]))[0]
        ids = [int(x) for x in sample.metainfo.get('img_labels', [])]
        cams = sample.seg_logits.data.detach().float().cpu().numpy()
        agreement = None
        if seed_dir is not None:
            path = seed_path(seed_dir, sample.img_path)
            if osp.isfile(path):
                seed = sample.pred_sem_seg.data[0].cpu().numpy()
                saved = read_seed_png(path)
                agreement = float((seed == saved).mean()) \
                    if seed.shape == saved.shape else 0.0
        out[stem] = ImageCams(
            cams=cams[ids].astype(np.float32) if ids else cams[:0],
            class_ids=ids,
            seed_agreement=agreement)
    return out
