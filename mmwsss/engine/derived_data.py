"""Dataloaders derived from the one training dataset of a config.

An FMA-WSSS run reads the same images three ways: phase 1 trains on
``train_dataloader`` (augmented crops, image labels), the coarse seeds are
made from every training image at full size (one at a time, with GT where
it exists, to score them), and phase 2 trains on those images paired with
their coarse seeds (a :class:`~mmwsss.datasets.PseudoLabelDataset`). A
config names the data once, in ``train_dataloader.dataset``; the two other
readers are derived from it here unless the config gives them explicitly
(``train_cfg.coarse_seeds.dataloader`` /
``train_cfg.seg_dataloader.dataset.dataset``). The seed stage of
``tools/run_pipeline.py`` uses :func:`seed_dataloader` the same way.
"""
import copy
from typing import List, Optional, Sequence

__all__ = [
    'SEED_PIPELINE', 'image_dataset', 'seed_dataset', 'seed_dataloader',
    'fill_coarse_dataloader', 'fill_seg_dataloader'
]

#: Pipeline of images read for seeds: full size, GT when the sample has a
#: mask (``LoadOptionalAnnotations``), image labels packed.
SEED_PIPELINE: List[dict] = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadOptionalAnnotations'),
    dict(type='PackWSSSInputs'),
]


def image_dataset(dataset: dict) -> dict:
    """A copy of a dataset config without its pipeline (the images only).

    Args:
        dataset (dict): A dataset config.

    Returns:
        dict: The copy.
    """
    out = copy.deepcopy(dict(dataset))
    out.pop('pipeline', None)
    return out


def seed_dataset(dataset: dict,
                 pipeline: Optional[Sequence[dict]] = None) -> dict:
    """The images of a dataset config read for seeds (full size, GT).

    Args:
        dataset (dict): The training dataset config.
        pipeline (Sequence[dict], optional): Defaults to
            :data:`SEED_PIPELINE`.

    Returns:
        dict: The dataset config with the seed pipeline, ``test_mode``.
    """
    out = image_dataset(dataset)
    out['pipeline'] = copy.deepcopy(list(pipeline or SEED_PIPELINE))
    out['test_mode'] = True
    return out


def seed_dataloader(train_loader: dict,
                    pipeline: Optional[Sequence[dict]] = None) -> dict:
    """A batch-size-1, unshuffled dataloader config over the training
    images for seeds (each image once over all ranks), with the training
    loader's worker settings.

    Args:
        train_loader (dict): The ``train_dataloader`` config.
        pipeline (Sequence[dict], optional): See :func:`seed_dataset`.

    Returns:
        dict: The dataloader config.
    """
    if not isinstance(train_loader, dict) or 'dataset' not in train_loader:
        raise KeyError('cannot derive the seed dataloader: train_dataloader '
                       'must be a config with a `dataset`')
    workers = int(train_loader.get('num_workers', 0))
    return dict(
        batch_size=1,
        num_workers=workers,
        persistent_workers=bool(
            workers and train_loader.get('persistent_workers', False)),
        # round_up=False: no rank pads its share with another's image, so
        # every seed is written and scored once
        sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
        dataset=seed_dataset(train_loader['dataset'], pipeline))


def fill_coarse_dataloader(coarse: Optional[dict], train_loader: dict) -> dict:
    """``train_cfg.coarse_seeds.dataloader``, derived where not given.

    Args:
        coarse (dict, optional): The configured loader: None (derive it
            all), or a loader whose missing / None keys (``dataset``,
            ``batch_size``, ``sampler``, workers) are derived.
        train_loader (dict): The ``train_dataloader`` config.

    Returns:
        dict: A complete dataloader config.
    """
    if coarse is None:
        return seed_dataloader(train_loader)
    coarse = copy.deepcopy(dict(coarse))
    if coarse.get('dataset') is None or not all(
            coarse.get(k) is not None for k in ('batch_size', 'sampler')):
        for key, value in seed_dataloader(train_loader).items():
            if coarse.get(key) is None:
                coarse[key] = value
    return coarse


def fill_seg_dataloader(seg: dict, train_loader: dict) -> dict:
    """``train_cfg.seg_dataloader`` with the inner image dataset of its
    ``PseudoLabelDataset`` derived from the training set when it is None.

    Args:
        seg (dict): The configured phase-2 loader.
        train_loader (dict): The ``train_dataloader`` config.

    Returns:
        dict: The loader config (a copy).
    """
    seg = copy.deepcopy(dict(seg))
    outer = seg.get('dataset')
    if isinstance(outer, dict) and outer.get('dataset') is None:
        if not isinstance(train_loader, dict) or \
                'dataset' not in train_loader:
            raise KeyError('train_cfg.seg_dataloader.dataset.dataset is None'
                           ' and train_dataloader is no config to derive it '
                           'from')
        seg['dataset'] = dict(outer)
        seg['dataset']['dataset'] = image_dataset(train_loader['dataset'])
    return seg
