"""The authors' WeCLIP / WeCLIP+ checkpoints -> :class:`~.segmentor.WeCLIP`.

The authors save ``model.state_dict()`` of their ``WeCLIP`` / ``WeCLIP_Plus``
module (``scripts/dist_clip_voc.py``: ``wetr_iter_<n>.pth``); a run wrapped
in ``DistributedDataParallel`` prefixes every key with ``module.``. Their
keys are:

* ``encoder.*``: the frozen CLIP (OpenAI layout) - not converted: our
  :class:`~mmwsss.models.clip.FrozenCLIP` loads CLIP from its own file;
* ``dino_encoder.*``: the frozen DINOv2 (WeCLIP+) - not converted, loaded by
  the DINOv2 backbone from its own file;
* ``par.kernel``: PAR's fixed neighbour kernel (a buffer) - not converted;
* ``decoder_fts_fuse.*``, ``dino_decoder_fts_fuse.*``, ``decoder.*``: the
  trained heads and decoder. :class:`~.segmentor.WeCLIP` uses the same
  attribute and submodule names, so these keys are kept as they are.
"""
from collections import OrderedDict
from typing import Dict, Mapping, Tuple

from torch import Tensor

__all__ = ['TRAINED_PREFIXES', 'FROZEN_PREFIXES', 'convert_weclip_state_dict']

#: Key prefixes of the trained parts (same in theirs and ours).
TRAINED_PREFIXES: Tuple[str, ...] = ('decoder_fts_fuse.',
                                     'dino_decoder_fts_fuse.', 'decoder.')
#: Key prefixes of the parts that are not trained (dropped).
FROZEN_PREFIXES: Tuple[str, ...] = ('encoder.', 'dino_encoder.', 'par.')


def convert_weclip_state_dict(
        state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Keep the trained heads and decoder of an authors' state dict.

    Args:
        state_dict (Mapping[str, Tensor]): The authors' saved state dict
            (optionally wrapped as ``{'state_dict': ...}`` or
            ``{'model': ...}``, keys optionally prefixed ``module.``).

    Returns:
        dict[str, Tensor]: ``decoder_fts_fuse.*``, ``dino_decoder_fts_fuse.*``
        (WeCLIP+ only) and ``decoder.*`` keys, in their order.

    Raises:
        ValueError: No decoder key (not a WeCLIP checkpoint), or keys that
            are neither trained nor a known frozen part (named).
    """
    for wrapper in ('state_dict', 'model'):
        if wrapper in state_dict and isinstance(state_dict[wrapper], Mapping):
            state_dict = state_dict[wrapper]
            break
    out: Dict[str, Tensor] = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        k = key[len('module.'):] if key.startswith('module.') else key
        if k.startswith(TRAINED_PREFIXES):
            out[k] = value
        elif not k.startswith(FROZEN_PREFIXES):
            unknown.append(key)
    if unknown:
        raise ValueError(
            f'not a WeCLIP / WeCLIP+ state dict: {len(unknown)} unknown keys, '
            f'e.g. {unknown[:5]}')
    if not any(k.startswith('decoder.') for k in out):
        raise ValueError('not a WeCLIP / WeCLIP+ state dict: no decoder.* key '
                         f'among {len(state_dict)} keys')
    return out
