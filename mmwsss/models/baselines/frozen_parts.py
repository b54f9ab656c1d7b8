"""Keep frozen foundation models out of a model's checkpoints.

Training-free baselines hold only frozen, separately loaded networks
(Grounding DINO, SAM, CLIP). :func:`exclude_from_checkpoint` drops their
weights from the model's ``state_dict`` and makes loading a checkpoint that
lacks them silent, so ``tools/test.py CONFIG none`` (an empty checkpoint,
see :mod:`mmwsss.compat`) or any saved state of the model works without
copying gigabytes of third-party weights.
"""
from typing import Sequence

from torch import nn

__all__ = ['exclude_from_checkpoint']


def exclude_from_checkpoint(module: nn.Module,
                            prefixes: Sequence[str]) -> None:
    """Drop the submodules ``prefixes`` from ``module``'s state dicts.

    Args:
        module (nn.Module): The model (the root of what is saved/loaded).
        prefixes (Sequence[str]): Attribute names of the frozen submodules,
            e.g. ``('detector', 'sam')``.
    """
    names = tuple(p.rstrip('.') + '.' for p in prefixes)

    def _drop(mod, state_dict, prefix, local_metadata):
        for key in [
                k for k in state_dict if k[len(prefix):].startswith(names)
        ]:
            del state_dict[key]
        return state_dict

    def _forgive(mod, incompatible):
        incompatible.missing_keys[:] = [
            k for k in incompatible.missing_keys if not k.startswith(names)
        ]

    module._register_state_dict_hook(_drop)
    module.register_load_state_dict_post_hook(_forgive)
