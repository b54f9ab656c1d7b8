"""Any class list (issue 13): class tables, prompt learners, the prompt
model and both losses with C = 3 and 5 (not VOC's 20 or COCO's 80)."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmwsss.class_names import (CLIP_ES_BG_VOC, class_info, resolve_class_info)
from mmwsss.models.clip import FrozenCLIP
from mmwsss.models.losses import CALLoss, MCLLoss
from mmwsss.models.prompt_learners import ClsPromptLearner, SegPromptLearner

CLASSES = ['dog', 'person', 'car']


@pytest.fixture(scope='module')
def clip():
    torch.manual_seed(0)
    return FrozenCLIP('mmwsss-tiny-ViT-16', pretrained=None)


def test_class_info_of_a_custom_list():
    info = class_info(CLASSES, prompt_names={'person': 'person with clothes'})
    assert info['classes'] == ('background', 'dog', 'person', 'car')
    assert info['prompt_names'] == ('dog', 'person with clothes', 'car')
    assert info['bg_classes'] == CLIP_ES_BG_VOC  # the 25 by default
    assert len(info['palette']) == 4
    # a class named like a background prompt takes it out of the bg set
    info = class_info(['building', 'road_sign'],
                      bg_classes=['building', 'sky'])
    assert info['bg_classes'] == ('sky', )
    assert info['prompt_names'] == ('building', 'road sign')
    assert 'road sign' in info['tag_vocabulary']


def test_class_info_errors_name_the_item():
    with pytest.raises(ValueError, match='"Dog" is given twice'):
        class_info(['dog', 'Dog'])
    with pytest.raises(ValueError, match='prompt_names: 2 names for 3'):
        class_info(CLASSES, prompt_names=['a', 'b'])
    with pytest.raises(KeyError, match="'cat'"):
        class_info(CLASSES, prompt_names={'cat': 'kitty'})


def test_resolve_keeps_voc_tables_for_the_voc_list():
    voc = resolve_class_info('voc')
    same = resolve_class_info('voc', classes=list(voc['classes']))
    assert same['prompt_names'] == voc['prompt_names']
    assert 'pottedplant' in voc['classes']
    mapped = resolve_class_info(None, ['pottedplant', 'dog'],
                                {'pottedplant': 'potted plant'})
    assert mapped['prompt_names'] == ('potted plant', 'dog')


def test_prompt_learners_with_three_classes(clip):
    names = class_info(CLASSES)['prompt_names']
    cls = ClsPromptLearner(clip, names, CLIP_ES_BG_VOC, n_ctx=4)
    seg = SegPromptLearner(clip, names, num_bg=25, n_ctx=4)
    for learner in (cls, seg):
        embeds, eot = learner()
        assert learner.num_fg == 3 and learner.num_prompts == 28
        assert embeds.shape[:2] == (28, clip.context_length)
    assert cls.ctx.shape == (4, clip.text_width)  # unified context
    assert seg.ctx.shape == (28, 4, clip.text_width)  # class-specific


def _model(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='FMAPromptModel',
            clip=dict(
                type='FrozenCLIP',
                model_name='mmwsss-tiny-ViT-16',
                pretrained=None),
            data_preprocessor=dict(type='SegDataPreProcessor'),
            seeder=dict(
                cls=dict(type='ThresholdSeeder', bg_threshold=0.4),
                seg=dict(type='ThresholdSeeder', bg_threshold=0.5)),
            **kwargs))


def test_prompt_model_trains_both_phases_with_three_classes():
    model = _model(dataset=None, classes=CLASSES)
    assert model.dataset_classes == ('background', ) + tuple(CLASSES)
    assert model.num_fg == 3 and model.cls_prompt.num_prompts == 28
    # the example: class_names alone, another count than VOC's
    assert _model(class_names=['dog', 'cat']).num_fg == 2
    model.train()
    x = torch.rand(2, 3, 32, 32)
    samples = []
    for labels in ([1, 3], [2]):
        s = SegDataSample(metainfo=dict(img_labels=labels, img_path='a.jpg'))
        seed = torch.zeros(1, 32, 32, dtype=torch.long)
        seed[:, :16] = labels[0]
        s.gt_sem_seg = PixelData(data=seed)
        samples.append(s)
    model.phase = 'cls'
    assert torch.isfinite(model.loss(x, samples)['loss_mcl'])
    model.phase = 'seg'
    losses = model.loss(x, samples)
    total = sum(losses.values())
    assert torch.isfinite(total) and total.requires_grad
    bad = SegDataSample(metainfo=dict(img_labels=[4], img_path='x/b.jpg'))
    with pytest.raises(ValueError, match='x/b.jpg.*class id 4'):
        model.loss(x[:1], [bad])


def test_mcl_five_classes_hand_value():
    # one positive (class 0) against 4 negatives:
    # log(e^2 + e^0 + e^1 + e^0 + e^0) - 2
    s = torch.tensor([[2., 0., 1., 0., 0.]])
    y = torch.tensor([[1, 0, 0, 0, 0]])
    ref = math.log(math.e**2 + 3 + math.e) - 2
    assert MCLLoss()(s, y).item() == pytest.approx(ref, abs=1e-6)


def test_cal_three_classes_hand_value():
    # pair (image 0, class 1 -> label 2); label 3 (another of the 3
    # classes) counts as background: F = left column, B = right column
    cam = torch.tensor([[[1., 0.], [2., 3.]]])
    fg_lb = torch.tensor([[0, 1, 0]])
    lb = torch.tensor([[[2, 0], [2, 3]]])
    out = CALLoss()(cam, fg_lb, lb)
    # m = 2; fg |2 - 1| + |2 - 2| = 1; bg 0 + 3 = 3; 4 pixels
    assert out['loss_cal_fg'].item() == pytest.approx(0.25)
    assert out['loss_cal_bg'].item() == pytest.approx(0.75)
