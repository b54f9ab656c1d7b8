"""FrozenCLIP.random_attn_scale: sharper attention for random-weight demos
(query/key projections x scale), nothing else changed."""
import torch

from mmwsss.models.clip.frozen_clip import FrozenCLIP


def _clip(scale=None):
    torch.manual_seed(0)
    return FrozenCLIP(
        model_name='mmwsss-tiny-ViT-16',
        pretrained=None,
        attn_layers=3,
        random_attn_scale=scale)


def test_query_key_scaled_values_untouched_attention_sharper():
    plain, sharp = _clip(), _clip(4.0)
    for a, b in zip(plain.model.visual.transformer.resblocks,
                    sharp.model.visual.transformer.resblocks):
        d = a.attn.embed_dim
        torch.testing.assert_close(b.attn.in_proj_weight[:2 * d],
                                   4 * a.attn.in_proj_weight[:2 * d])
        torch.testing.assert_close(b.attn.in_proj_weight[2 * d:],
                                   a.attn.in_proj_weight[2 * d:])
        torch.testing.assert_close(b.attn.in_proj_bias[:2 * d],
                                   4 * a.attn.in_proj_bias[:2 * d])
    # the text tower is untouched
    for p, q in zip(plain.model.transformer.parameters(),
                    sharp.model.transformer.parameters()):
        assert torch.equal(p, q)
    img = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    a_plain = plain.encode_image(img, target_grad=False).attn
    a_sharp = sharp.encode_image(img, target_grad=False).attn
    # random attention is near uniform (1/197); sharpened it is not
    assert a_plain.max() < 0.05 < a_sharp.max()
