"""Text-prompted SAM seeds (the WSSS survey's Grounded-SAM pipelines), as
pure functions: grounding outputs -> labelled boxes, box masks -> seed map,
image tags -> dataset classes.

No OpenMMLab imports; :class:`~.sam_text.SAMTextSeeder` is the mm glue.
"""
from typing import Dict, List, NamedTuple, Sequence

import torch
from torch import Tensor

__all__ = [
    'LabelledBoxes', 'assign_box_entities', 'paint_masks_by_score',
    'tag_class_table', 'tags_to_classes'
]


class LabelledBoxes(NamedTuple):
    """Boxes kept by :func:`assign_box_entities`, highest score first.

    Attributes:
        index (Tensor): (N,) indices of the kept queries.
        entity (Tensor): (N,) index of each box's phrase in the prompt.
        score (Tensor): (N,) box scores.
    """
    index: Tensor
    entity: Tensor
    score: Tensor


def assign_box_entities(token_probs: Tensor,
                        entity_tokens: Tensor,
                        box_threshold: float = 0.3,
                        text_threshold: float = 0.25) -> LabelledBoxes:
    """Grounding DINO's box and text thresholds, with the phrase of a box
    resolved to one prompt entity (class name).

    As in Grounding DINO / Grounded-SAM: a query is a box when its largest
    token probability exceeds ``box_threshold`` (that maximum is its score);
    its phrase is made of the tokens whose probability exceeds
    ``text_threshold``. Here the phrase is mapped to the prompt entity
    (class name) with the highest mean token probability among the entities
    that have at least one such token; a box whose tokens above the text
    threshold belong to no entity (e.g. only ``.`` or ``[SEP]``) is dropped.

    Args:
        token_probs (Tensor): (Q, T) sigmoid token probabilities of the
            queries (padding tokens 0).
        entity_tokens (Tensor): (E, T) bool, the tokens of each entity.
        box_threshold (float): Box threshold (survey: 0.3).
        text_threshold (float): Text threshold (survey: 0.25).

    Returns:
        LabelledBoxes: Kept queries, their entity and score, sorted by
        decreasing score (ties by query index).
    """
    probs = token_probs.float()
    ents = entity_tokens.bool().to(probs.device)
    if ents.shape[-1] != probs.shape[-1]:
        raise ValueError(f'entity_tokens has {ents.shape[-1]} tokens, '
                         f'token_probs {probs.shape[-1]}')
    if ents.shape[0] == 0 or probs.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long, device=probs.device)
        return LabelledBoxes(empty, empty, probs.new_zeros(0))
    score = probs.amax(-1)
    hit = ((probs > text_threshold).float() @ ents.float().T) > 0  # (Q, E)
    mean = (probs @ ents.float().T) / ents.sum(-1).clamp(min=1).float()
    best, entity = mean.masked_fill(~hit, -1.).max(-1)
    keep = torch.nonzero((score > box_threshold) & (best >= 0)).flatten()
    order = torch.argsort(score[keep], descending=True, stable=True)
    keep = keep[order]
    return LabelledBoxes(keep, entity[keep], score[keep])


def paint_masks_by_score(masks: Tensor, scores: Tensor,
                         labels: Tensor) -> Tensor:
    """Seed map from box masks: each pixel takes the label of the highest
    scoring mask covering it (the first one on equal scores); uncovered
    pixels are background (0).

    Args:
        masks (Tensor): (N, H, W) bool masks.
        scores (Tensor): (N,) scores.
        labels (Tensor): (N,) seed values (``c + 1`` for 0-based class c).

    Returns:
        Tensor: (H, W) int64 seed.
    """
    masks = masks.bool()
    if masks.dim() != 3 or masks.shape[0] != scores.numel() or \
            scores.numel() != labels.numel():
        raise ValueError(f'paint_masks_by_score: masks {tuple(masks.shape)}, '
                         f'{scores.numel()} scores, {labels.numel()} labels')
    h, w = masks.shape[-2:]
    if masks.shape[0] == 0:
        return torch.zeros((h, w), dtype=torch.long, device=masks.device)
    scores = scores.to(masks.device).float()
    per_pixel = torch.where(masks, scores[:, None, None],
                            scores.new_tensor(float('-inf')))
    best = per_pixel.argmax(0)
    lut = labels.to(masks.device).long()
    return torch.where(masks.any(0), lut[best], lut.new_zeros(()))


def tag_class_table(classes: Sequence[str], text_names: Sequence[str],
                    synonyms: Dict[str, str]) -> Dict[str, int]:
    """Tag -> 1-based class id: the class names, their plain-word names
    and the synonyms (tag -> class name), all lower case.

    Args:
        classes (Sequence[str]): Class names, background first.
        text_names (Sequence[str]): Plain-word names of ``classes[1:]``.
        synonyms (dict[str, str]): Tag -> class name (e.g. the survey's
            ``couch`` -> ``sofa``).

    Returns:
        dict[str, int]: The lookup table.
    """
    ids = {c: i for i, c in enumerate(classes) if i > 0}
    table = {c.lower(): i for c, i in ids.items()}
    table.update({n.lower(): i + 1 for i, n in enumerate(text_names)})
    for tag, cls in synonyms.items():
        if cls not in ids:
            raise KeyError(f'tag synonym {tag!r} -> {cls!r}: no such class')
        table[tag.lower()] = ids[cls]
    return table


def tags_to_classes(tags: Sequence[str], table: Dict[str, int]) -> List[int]:
    """Map image tags to dataset classes; tags the table lacks are dropped.

    Args:
        tags (Sequence[str]): Tags of one image (any case, spaces trimmed).
        table (dict[str, int]): From :func:`tag_class_table`.

    Returns:
        list[int]: Sorted unique 1-based class ids.
    """
    found = {table.get(t.strip().lower()) for t in tags}
    return sorted(i for i in found if i is not None)
