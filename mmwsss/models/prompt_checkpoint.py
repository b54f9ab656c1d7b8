"""The checkpoint policy of prompt models: the prompts, nothing else.

A prompt model's checkpoint holds its learned prompt contexts only; CLIP's
weights always come from ``clip.pretrained`` (see
:func:`~.baselines.frozen_parts.exclude_from_checkpoint`). Loading a
checkpoint without the prompts (``tools/test.py CONFIG none``, or a
checkpoint of another model given by mistake) is an error naming what is
missing, unless the model allows untrained prompts on purpose.
"""
import logging

from mmengine.logging import print_log
from torch import nn

__all__ = ['check_prompt_checkpoint']


def check_prompt_checkpoint(model: nn.Module, state_dict: dict, prefix: str,
                            allow_untrained: bool = False) -> None:
    """Check that a state dict holds the model's learned prompts.

    CLIP weights in it are dropped (in place) with a warning; CLIP's own
    keys are never reported missing. Call it from the model's
    ``_load_from_state_dict``, which both ``torch.nn.Module.load_state_dict``
    and mmengine's ``load_checkpoint`` (always ``strict=False``) call on the
    model before its children, with the whole state dict.

    Args:
        model (nn.Module): The prompt model (its ``state_dict()`` names the
            keys a checkpoint must hold).
        state_dict (dict): The state dict being loaded.
        prefix (str): The model's prefix in it.
        allow_untrained (bool): Missing prompts are a warning (their
            initial values stay) instead of an error. Defaults to False.

    Raises:
        RuntimeError: If a prompt key is missing and ``allow_untrained`` is
            False; the message names the keys and how to proceed.
    """
    clip_keys = [k for k in state_dict if k.startswith(prefix + 'clip.')]
    for key in clip_keys:
        del state_dict[key]
    if clip_keys:
        print_log(
            f'FMAPromptModel: ignored {len(clip_keys)} CLIP weights in the '
            'checkpoint; CLIP is loaded from clip.pretrained',
            logger='current',
            level=logging.WARNING)
    missing = [k for k in model.state_dict() if prefix + k not in state_dict]
    if missing and not allow_untrained:
        others = [k for k in state_dict if k.startswith(prefix)]
        found = (f'it holds {len(others)} keys, e.g. '
                 f'{others[0]!r}' if others else 'it is empty')
        raise RuntimeError(
            'FMAPromptModel: the checkpoint lacks learned prompts '
            f'(missing {", ".join(missing)}; {found}). Give the '
            'checkpoint written by tools/train.py with a configs/fma '
            '*_prompts.py config, or set '
            'model.allow_untrained_prompts=True to use untrained prompts '
            'on purpose.')
    if missing:
        print_log(
            'FMAPromptModel: untrained prompts (allow_untrained_prompts'
            f'=True), not in the checkpoint: {", ".join(missing)}',
            logger='current',
            level=logging.WARNING)
