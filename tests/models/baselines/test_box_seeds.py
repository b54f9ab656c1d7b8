"""Pure parts of the text-prompted SAM pipelines: Grounding DINO's box /
text thresholds with phrase -> entity, score painting, tag -> class."""
import pytest
import torch

from mmwsss.class_names import get_dataset_info
from mmwsss.models.baselines import (assign_box_entities, paint_masks_by_score,
                                     tag_class_table, tags_to_classes)


def test_assign_box_entities_by_hand():
    # tokens: 0 [CLS], 1-2 "dining table", 3 ".", 4 "dog", 5 ".", 6 pad
    ents = torch.zeros(2, 7, dtype=torch.bool)
    ents[0, 1:3] = True
    ents[1, 4] = True
    probs = torch.tensor([
        [0.1, 0.50, 0.40, 0.1, 0.20, 0.1, 0.],  # table: score .5
        [0.1, 0.20, 0.10, 0.1, 0.90, 0.1, 0.],  # dog: score .9
        [0.1, 0.28, 0.10, 0.1, 0.29, 0.1, 0.],  # below box threshold
        [0.1, 0.10, 0.10, 0.6, 0.10, 0.1, 0.],  # only "." fires: dropped
        [0.1, 0.35, 0.35, 0.1, 0.31, 0.1, 0.],  # both: table mean .35 wins
        [0.1, 0.26, 0.02, 0.1, 0.20, 0.1, 0.],  # below box threshold
        [0.1, 0.30, 0.90, 0.1, 0.80, 0.1, 0.],  # table mean .6 < dog .8
    ])
    out = assign_box_entities(probs, ents, 0.3, 0.25)
    assert out.index.tolist() == [1, 6, 0, 4]  # ties by query index
    assert out.entity.tolist() == [1, 1, 0, 0]
    torch.testing.assert_close(out.score, torch.tensor([0.9, 0.9, 0.5, 0.35]))
    # a higher text threshold drops the phrase of query 4
    out = assign_box_entities(probs, ents, 0.3, 0.36)
    assert out.index.tolist() == [1, 6, 0]
    empty = assign_box_entities(probs, ents[:0], 0.3, 0.25)
    assert empty.index.numel() == 0
    with pytest.raises(ValueError, match='tokens'):
        assign_box_entities(probs, ents[:, :5], 0.3, 0.25)


def test_paint_masks_by_score():
    masks = torch.zeros(3, 4, 5, dtype=torch.bool)
    masks[0, :2, :3] = True  # score .5, label 3
    masks[1, 1:, 2:] = True  # score .9, label 7
    masks[2, :, :1] = True  # score .5, label 1 (equal to mask 0)
    seed = paint_masks_by_score(masks, torch.tensor([.5, .9, .5]),
                                torch.tensor([3, 7, 1]))
    assert seed.dtype == torch.int64
    assert seed.tolist() == [
        [3, 3, 3, 0, 0],
        [3, 3, 7, 7, 7],
        [1, 0, 7, 7, 7],
        [1, 0, 7, 7, 7],
    ]
    none = paint_masks_by_score(masks[:0], torch.zeros(0),
                                torch.zeros(0, dtype=torch.long))
    assert none.shape == (4, 5) and not none.any()
    with pytest.raises(ValueError, match='labels'):
        paint_masks_by_score(masks, torch.zeros(3), torch.zeros(2))


def test_survey_tag_mapping():
    info = get_dataset_info('voc')
    table = tag_class_table(info['classes'], info['text_names'],
                            info['tag_synonyms'])
    cls = {c: i for i, c in enumerate(info['classes'])}
    survey = {
        'couch': 'sofa',
        'plane': 'aeroplane',
        'plant': 'pottedplant',
        'monitor': 'tvmonitor',
        'screen': 'tvmonitor',
        'television': 'tvmonitor',
        'person': 'person',
        'man': 'person',
        'woman': 'person',
        'boy': 'person',
        'girl': 'person',
        'child': 'person',
        'baby': 'person',
        'dining table': 'diningtable',
        'diningtable': 'diningtable',
        'tv monitor': 'tvmonitor'
    }
    for tag, name in survey.items():
        assert tags_to_classes([tag], table) == [cls[name]], tag
    assert tags_to_classes(['Man', ' woman ', 'couch', 'sky', 'grass', 'dog'],
                           table) == [cls['dog'], cls['person'], cls['sofa']]
    assert tags_to_classes([], table) == []
    # every vocabulary word is either a class or a background word
    vocab = info['tag_vocabulary']
    assert len(set(vocab)) == len(vocab)
    assert {'sky', 'grass', 'couch', 'potted plant'} <= set(vocab)
    assert set(tags_to_classes(vocab, table)) == set(range(1, 21))
    with pytest.raises(KeyError, match='no such class'):
        tag_class_table(info['classes'], info['text_names'],
                        {'kitty': 'kitten'})
    # COCO: class names are the tags
    coco = get_dataset_info('coco')
    ctable = tag_class_table(coco['classes'], coco['text_names'],
                             coco['tag_synonyms'])
    assert tags_to_classes(['teddy bear', 'sky'],
                           ctable) == [coco['classes'].index('teddy bear')]
