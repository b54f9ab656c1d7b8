"""A tiny random BERT written to a folder, for tests and CPU demos.

mmdet's Grounding DINO loads its text encoder with
``transformers.AutoTokenizer / BertModel.from_pretrained(name)``, i.e. from
the Hugging Face hub or a local folder. Where the hub cannot be reached (CI,
this repository's tests) :func:`write_tiny_bert` writes a randomly
initialised BERT (1 layer by default) with a word-level vocabulary of the
given words into a folder; ``language_model.name`` then points at that
folder. Real runs use ``bert-base-uncased`` (or a local copy of it).

Importing this module adds the writer as ``'tiny_bert'`` to
:data:`~mmwsss.models.baselines.grounding_dino.LANGUAGE_MODEL_WRITERS`
(``GroundingDINOBoxes(tiny_bert_words=...)``, the ``detector_tiny_bert``
option of the SAM-text configs).
"""
import os
import os.path as osp
from typing import Iterable

from mmwsss.models.baselines.grounding_dino import LANGUAGE_MODEL_WRITERS

__all__ = ['TINY_BERT_SPECIAL_TOKENS', 'write_tiny_bert']

#: BERT's special tokens plus the punctuation Grounding DINO's prompts use.
TINY_BERT_SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.',
                            '?', ',')


def write_tiny_bert(folder: str,
                    words: Iterable[str],
                    hidden_size: int = 32,
                    num_layers: int = 1,
                    num_heads: int = 2,
                    seed: int = 0) -> str:
    """Write a tiny random BERT (config, weights, tokenizer) to ``folder``.

    Args:
        folder (str): Output folder (created); reused if it holds a
            ``config.json`` already.
        words (Iterable[str]): Vocabulary words (split on spaces, lower
            case); other words tokenize to ``[UNK]``.
        hidden_size (int): Width of the encoder.
        num_layers (int): Encoder layers (BERT-base: 12, with width 768
            and 12 heads, for timing the real architecture).
        num_heads (int): Attention heads.
        seed (int): Seed of the random weights.

    Returns:
        str: ``folder``.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer
    if osp.isfile(osp.join(folder, 'config.json')):
        return folder
    os.makedirs(folder, exist_ok=True)
    vocab = dict.fromkeys(TINY_BERT_SPECIAL_TOKENS)
    for phrase in words:
        vocab.update(dict.fromkeys(phrase.lower().split()))
    vocab_file = osp.join(folder, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    BertTokenizer(vocab_file).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=256)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        BertModel(config).save_pretrained(folder)
    return folder


LANGUAGE_MODEL_WRITERS.register('tiny_bert', write_tiny_bert, force=True)
