"""Build SAM models from a name and a local checkpoint.

``model_type`` is a key of :data:`SAM_ARCHITECTURES`: segment-anything's
official architectures (``'vit_h'``, ``'vit_l'``, ``'vit_b'``; built by
``segment_anything.sam_model_registry``), and ``'tiny'``, a small random
architecture with the same structure for tests and demos, which
:mod:`mmwsss.testing` adds to the table when imported
(:mod:`mmwsss.registration` imports it).

Official weights are never downloaded here: ``checkpoint`` is a local path
(see :data:`SAM_CHECKPOINT_URLS` for where to get the files). A random
initialisation, seeded, is only made when asked for (``random_init=True``,
or always for ``'tiny'`` without a checkpoint), so a forgotten checkpoint
never silently yields random masks.
"""
import hashlib
import os
import os.path as osp
from functools import partial
from typing import Callable, Dict, Optional, Sequence

import torch
from segment_anything import sam_model_registry
from segment_anything.modeling import Sam
from torch import nn

from ..architectures import ArchitectureTable

__all__ = [
    'SAM_CHECKPOINT_URLS', 'SAM_ARCHITECTURES', 'build_sam_model',
    'build_seeded_model', 'check_checkpoint_args', 'check_model_type',
    'checkpoint_identity', 'resolve_device'
]

#: Official SAM checkpoints (Meta's segment-anything README).
SAM_CHECKPOINT_URLS: Dict[str, str] = {
    'vit_h':
    'https://dl.fbaipublicfiles.com/segment_anything/'
    'sam_vit_h_4b8939.pth',
    'vit_l':
    'https://dl.fbaipublicfiles.com/segment_anything/'
    'sam_vit_l_0b3195.pth',
    'vit_b':
    'https://dl.fbaipublicfiles.com/segment_anything/'
    'sam_vit_b_01ec64.pth',
}

#: model_type -> constructor of the random model (no arguments).
SAM_ARCHITECTURES = ArchitectureTable(
    'SAM', {
        t: partial(sam_model_registry[t], checkpoint=None)
        for t in ('vit_h', 'vit_l', 'vit_b')
    })

_MIB = 1 << 20


def resolve_device(device: Optional[str] = None) -> torch.device:
    """``device`` as a :class:`torch.device`; None -> cuda if available."""
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(device)


def checkpoint_identity(path: str) -> str:
    """A cheap identity of a checkpoint file.

    Args:
        path (str): The file.

    Returns:
        str: ``'<basename>:<size>:<sha256 of first+last MiB, 16 hex>'``.
    """
    size = os.path.getsize(path)
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        digest.update(f.read(_MIB))
        if size > _MIB:
            f.seek(max(size - _MIB, _MIB))
            digest.update(f.read(_MIB))
    return f'{osp.basename(path)}:{size}:{digest.hexdigest()[:16]}'


def _load_state_dict(path: str) -> dict:
    """Read a SAM checkpoint (weights only) onto the CPU."""
    from mmwsss.compat import load_local_checkpoint
    state = load_local_checkpoint(path, map_location='cpu')
    if isinstance(state, dict) and 'state_dict' in state and not any(
            k.startswith('image_encoder.') for k in state):
        state = state['state_dict']
    return state


def check_checkpoint_args(family: str,
                          model_type: str,
                          checkpoint: Optional[str],
                          random_init: bool,
                          url: Optional[str],
                          key: str = 'sam_generator.checkpoint',
                          url_note: str = '') -> None:
    """Check the checkpoint arguments of a SAM-family builder.

    Args:
        family (str): Family name for the messages (``'SAM-HQ'``, ...).
        model_type (str): The architecture (``'tiny'`` needs no weights).
        checkpoint (str, optional): Local checkpoint path.
        random_init (bool): Random weights allowed for an official
            architecture.
        url (str, optional): Where the official weights are downloaded
            (None: the architecture has no official weights).
        key (str): The config key that names the checkpoint, for the
            messages. Defaults to ``'sam_generator.checkpoint'``.
        url_note (str): Said after the URL (e.g. a licence to accept).

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: An official architecture with neither a checkpoint nor
            ``random_init``.
    """
    if checkpoint is not None and not osp.isfile(checkpoint):
        hint = (f' Download the official {model_type} weights from {url}'
                f'{url_note} and set {key} to the local file.' if url else
                ' The tiny model has no official weights; set '
                'checkpoint=None for a seeded random initialisation.')
        raise FileNotFoundError(
            f'{family} checkpoint {checkpoint!r} (model_type {model_type!r}) '
            f'does not exist.{hint}')
    if checkpoint is None and model_type != 'tiny' and not random_init:
        raise ValueError(
            f'{key} is required for {family} model_type {model_type!r}: '
            f'download {url}{url_note} and give its local path '
            '(random_init=True builds random weights, for benchmarks and '
            'tests only).')


def check_model_type(family: str, model_type: str,
                     model_types: Sequence[str]) -> None:
    """Raise KeyError unless ``model_type`` is one of ``model_types``.

    Args:
        family (str): Family name for the message (``'SAM'``, ...).
        model_type (str): The requested architecture.
        model_types (Sequence[str]): The family's architectures.
    """
    if model_type not in model_types:
        raise KeyError(f'Unknown {family} model_type {model_type!r}; '
                       f'expected one of {tuple(model_types)}.')


def build_seeded_model(
        family: str,
        model_type: str,
        construct: Callable[[], nn.Module],
        checkpoint: Optional[str],
        seed: int,
        device: Optional[str],
        read_state: Callable[[str], dict] = _load_state_dict) -> nn.Module:
    """Construct a model under a seed, load its checkpoint, move it.

    The common steps of every SAM-family builder, after its argument
    checks: ``construct()`` runs with the global RNG seeded by ``seed``
    (and restored afterwards, so building a model never changes the
    caller's random stream); the weights of ``checkpoint``, when given, are
    loaded strictly.

    Args:
        family (str): Family name for the messages (``'SAM'``, ...).
        model_type (str): The architecture (for the messages).
        construct (Callable): Builds the (random) model.
        checkpoint (str, optional): Local checkpoint path.
        seed (int): Seed of the random initialisation.
        device (str, optional): None -> cuda if available, else cpu.
        read_state (Callable): Reads the model's state dict from the
            checkpoint file (the family's key layout).

    Returns:
        nn.Module: The model in eval mode on ``device``.

    Raises:
        RuntimeError: The checkpoint does not fit the architecture.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = construct()
    if checkpoint is not None:
        state = read_state(checkpoint)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise RuntimeError(
                f'{family} checkpoint {checkpoint} does not fit model_type '
                f'{model_type!r}: {err}') from err
    return model.eval().to(resolve_device(device))


def build_sam_model(model_type: str = 'vit_h',
                    checkpoint: Optional[str] = None,
                    random_init: bool = False,
                    seed: int = 0,
                    device: Optional[str] = None) -> Sam:
    """Build a SAM model.

    Args:
        model_type (str): A key of :data:`SAM_ARCHITECTURES`
            (``'vit_h'``, ``'vit_l'``, ``'vit_b'``; ``'tiny'`` once
            :mod:`mmwsss.testing` is imported).
        checkpoint (str, optional): Local path of the weights (official
            key layout, i.e. the ``state_dict`` of
            :class:`segment_anything.modeling.Sam`).
        random_init (bool): Allow an official architecture without a
            checkpoint (random weights; benchmarks and tests only).
            ``'tiny'`` without a checkpoint is always random.
        seed (int): Seed of the random initialisation.
        device (str, optional): Target device; None -> cuda if available,
            else cpu.

    Returns:
        Sam: The model in eval mode on ``device``.

    Raises:
        KeyError: Unknown ``model_type``.
        FileNotFoundError: ``checkpoint`` does not exist (the message says
            where to download the official file).
        ValueError: An official architecture with neither a checkpoint nor
            ``random_init``.
    """
    construct = SAM_ARCHITECTURES.get(model_type)
    check_checkpoint_args('SAM', model_type, checkpoint, random_init,
                          SAM_CHECKPOINT_URLS.get(model_type))
    return build_seeded_model('SAM', model_type, construct, checkpoint, seed,
                              device)
