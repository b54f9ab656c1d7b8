"""Prompt learners: token layout (label end / front / none), parameter
counts, init, and the fixed CLIP-ES prompts."""
import pytest
import torch
from torch import nn

from mmwsss.class_names import get_dataset_info
from mmwsss.models.clip import FrozenCLIP
from mmwsss.models.prompt_learners import (ClsPromptLearner,
                                           FixedPromptLearner,
                                           SegPromptLearner)


@pytest.fixture(scope='module')
def clip():
    torch.manual_seed(0)
    return FrozenCLIP('mmwsss-tiny-ViT-16', pretrained=None)


def _name_embeds(clip, name):
    ids = clip.tokenize([name])[0]
    n = int(ids.argmax()) - 1  # tokens between SOS and EOT
    return clip.token_embedding(ids[None])[0, 1:1 + n].float(), n


def test_label_end_layout(clip):
    learner = ClsPromptLearner(clip, ['dog', 'potted plant'], ['sky'], n_ctx=4)
    with torch.no_grad():
        learner.ctx.copy_(
            torch.arange(4 * clip.text_width).view(4, -1).float())
        embeds, eot = learner()
    assert embeds.shape[:2] == (3, clip.context_length)
    for row, name in enumerate(['dog', 'potted plant', 'sky']):
        ref_ids = clip.tokenize(['X X X X ' + name + '.'])[0]
        ref = clip.token_embedding(ref_ids[None])[0].float()
        assert eot[row] == ref_ids.argmax()
        # SOS, 4 ctx, name, '.', EOT
        torch.testing.assert_close(embeds[row, 0], ref[0])
        torch.testing.assert_close(embeds[row, 1:5], learner.ctx)
        torch.testing.assert_close(embeds[row, 5:], ref[5:])


def test_label_front_layout_and_context_only_bg(clip):
    learner = SegPromptLearner(
        clip, ['cat', 'dining table'], num_bg=2, n_ctx=3)
    assert learner.ctx.shape == (4, 3, clip.text_width)  # class-specific
    embeds, eot = learner()
    dot = clip.token_embedding(clip.tokenize(['.']))[0, 1].float()
    sos = clip.token_embedding(clip.tokenize(['x']))[0, 0].float()
    for row, name in enumerate(['cat', 'dining table']):
        name_emb, n = _name_embeds(clip, name)
        torch.testing.assert_close(embeds[row, 0], sos)
        torch.testing.assert_close(embeds[row, 1:1 + n], name_emb)
        torch.testing.assert_close(embeds[row, 1 + n:4 + n], learner.ctx[row])
        torch.testing.assert_close(embeds[row, 4 + n], dot)
        assert eot[row] == 5 + n
    for row in (2, 3):  # background: SOS ctx '.' EOT
        torch.testing.assert_close(embeds[row, 1:4], learner.ctx[row])
        torch.testing.assert_close(embeds[row, 4], dot)
        assert eot[row] == 5


def test_gradients_reach_only_their_context(clip):
    learner = SegPromptLearner(clip, ['cat', 'dog'], num_bg=1, n_ctx=2)
    embeds, eot = learner()
    feats = clip.encode_text(embeds, eot)
    feats[0].sum().backward()
    grad = learner.ctx.grad
    assert grad[0].abs().sum() > 0
    assert torch.all(grad[1:] == 0)  # CSC: prompt 0 uses only ctx[0]


def test_ctx_init_from_phrase(clip):
    learner = ClsPromptLearner(clip, ['dog'], ctx_init='a photo of a')
    ids = clip.tokenize(['a photo of a'])[0]
    assert learner.n_ctx == int(ids.argmax()) - 1 == 4
    torch.testing.assert_close(learner.ctx,
                               clip.token_embedding(ids[None])[0, 1:5].float())


def test_init_std_and_state(clip):
    torch.manual_seed(1)
    learner = SegPromptLearner(clip, ['a'] * 20, num_bg=25, ctx_std=0.125)
    assert abs(learner.ctx.std().item() - 0.125) < 0.005
    assert list(learner.state_dict()) == ['ctx']  # buffers not persistent


def test_paper_parameter_count():
    """VOC with a ViT-B/16 text width (512): 16 x 512 unified cls context +
    (20 + 25) x 16 x 512 class-specific seg contexts = 376,832 (~0.8 M,
    paper Table S1)."""

    class Width512:  # the learners only need the tokenizer + embedding
        text_width = 512

        def __init__(self, tiny):
            self.tokenize = tiny.tokenize
            self.embed = nn.Embedding(49408, 512)

        def token_embedding(self, ids):
            return self.embed(ids)

    tiny = FrozenCLIP('mmwsss-tiny-ViT-16', pretrained=None)
    clip = Width512(tiny)
    info = get_dataset_info('voc')
    cls_p = ClsPromptLearner(clip, info['prompt_names'], info['bg_classes'])
    seg_p = SegPromptLearner(clip, info['prompt_names'], num_bg=25)
    assert cls_p.ctx.numel() + seg_p.ctx.numel() == 376_832


def test_fixed_prompts(clip):
    fixed = FixedPromptLearner(clip, ['dog'], ['sky'])
    embeds, eot = fixed()
    ids = clip.tokenize(['a clean origami dog.', 'a clean origami sky.'])
    torch.testing.assert_close(embeds, clip.token_embedding(ids).float())
    assert list(fixed.parameters()) == []
    with pytest.raises(ValueError, match='slot'):
        FixedPromptLearner(clip, ['dog'], template='no slot')


def test_bad_arguments(clip):
    with pytest.raises(ValueError, match='label_position'):
        SegPromptLearner(clip, ['dog'], label_position='middle')
    with pytest.raises(ValueError, match='at least one'):
        ClsPromptLearner(clip, [])
