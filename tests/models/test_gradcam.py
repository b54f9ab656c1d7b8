"""Softmax-GradCAM, softmax masking and min-max normalisation."""
import math

import pytest
import torch
import torch.nn as nn

from mmwsss.functional.gradcam import grad_cam, min_max_normalize, softmax_scores


def linear_logits(target, W):
    """logits[b, k] = mean over patch tokens of target[b, 1:] @ W[:, k]
    (+ the CLS token, whose gradient GradCAM must not use)."""
    return target[:, 1:].mean(dim=1) @ W + 0.3 * target[:, 0] @ W


# ----------------------------------------------------------------------------
# softmax_scores
# ----------------------------------------------------------------------------


def test_softmax_scores_masks_absent_fg():
    # mode='exact' (CLIP-ES) since issue 11 made 'global_max' the default;
    # the assertions are unchanged
    logits = torch.tensor([[1., 2., 0., 3.], [5., 1., 2., 2.]])
    present = torch.tensor([[True, False], [False, False]])  # G=2, Q=2
    s = softmax_scores(logits, present, mode='exact')
    e0 = torch.tensor([math.e, 1., math.e**3])  # classes 0, 2, 3
    torch.testing.assert_close(
        s[0], torch.tensor([e0[0], 0., e0[1], e0[2]]) / e0.sum())
    torch.testing.assert_close(s[1], torch.tensor([0., 0., .5, .5]))
    assert s[0, 1] == 0 and s[1, :2].eq(0).all()


def test_softmax_scores_empty_row_is_zero_not_nan():
    logits = torch.randn(2, 3, requires_grad=True)
    present = torch.tensor([[1, 0, 1], [0, 0, 0]])  # no bg classes (Q=0)
    s = softmax_scores(logits, present, mode='exact')
    assert torch.equal(s[1], torch.zeros(3))
    s[:, 0].sum().backward()
    assert torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match='fg_present'):
        softmax_scores(logits, torch.ones(2, 4))


def _alchemycat_formula(x, mask, eps=1e-5):
    """The reference formula written out per row in float64 (AlchemyCat
    MaskedSoftmax): e = exp(x - max over ALL entries) * mask,
    p = e / (sum(e) + eps)."""
    out = []
    for row, m in zip(x.tolist(), mask.tolist()):
        top = max(row)
        e = [math.exp(v - top) * k for v, k in zip(row, m)]
        den = sum(e) + eps
        out.append([v / den for v in e])
    return torch.tensor(out, dtype=torch.float64)


def test_masked_softmax_global_max_values():
    """The default ('global_max') equals the formula, the mask being the
    present fg classes on the first G entries and 1 on every bg entry."""
    from mmwsss.functional.gradcam import masked_softmax
    # G=3 fg, Q=2 bg; row 0: a present class tops, row 1: an ABSENT class
    # tops the logits by 8, row 2: by 12 (CLIP logits at scale 100)
    logits = torch.tensor([[30., 22., 25., 24., 21.],
                           [20., 32., 21., 24., 23.],
                           [20., 36., 21., 24., 23.]])
    present = torch.tensor([[1, 0, 1], [1, 0, 0], [1, 0, 1]])
    mask = torch.cat([present, torch.ones(3, 2, dtype=torch.long)], 1)
    want = _alchemycat_formula(logits.double(), mask)
    got = softmax_scores(logits, present)
    torch.testing.assert_close(got.double(), want, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(masked_softmax(logits, mask).double(), want,
                               rtol=1e-6, atol=1e-9)
    exact = softmax_scores(logits, present, mode='exact')
    # a present class on top: equal up to the eps (relative ~1e-5)
    torch.testing.assert_close(got[0], exact[0], rtol=2e-5, atol=0)
    # absent class on top by 8: every kept score shrinks by
    # S / (S + eps * e^8), S = sum of exp(kept - 32)
    kept = torch.tensor([20., 24., 23.])
    S = torch.exp(kept - 32).sum()
    ratio = (S / (S + 1e-5)).item()
    torch.testing.assert_close(got[1, [0, 3, 4]] / exact[1, [0, 3, 4]],
                               torch.full((3, ), ratio))
    assert 0.97 < ratio < 0.99  # a visible difference (here ~2%)
    assert got[1, 1] == 0 and got[2, 1] == 0
    # by 12: a much larger shrink
    assert (got[2, 0] / exact[2, 0]).item() < 0.9


def test_softmax_scores_bad_mode():
    with pytest.raises(ValueError, match='mode'):
        softmax_scores(torch.zeros(1, 3), torch.ones(1, 2), mode='plain')


# ----------------------------------------------------------------------------
# grad_cam
# ----------------------------------------------------------------------------


def test_grad_cam_hand_linear():
    # C=2 channels, L=2 patches (grid 1x2), K=2 classes, scores = logits
    W = torch.tensor([[1., 2.], [3., -1.]])
    target = torch.tensor([[[9., 9.], [1., 0.], [2., 1.]]], requires_grad=True)
    scores = linear_logits(target, W)
    cams = grad_cam(target, scores, torch.tensor([[0, 0], [0, 1]]), (1, 2))
    # d scores[k] / d target[l, c] = W[c, k] / L  ->  w = W[:, k] / 2
    # k=0: w = (0.5, 1.5): cam = (1*.5 + 0*1.5, 2*.5 + 1*1.5) = (0.5, 2.5)
    # k=1: w = (1, -0.5):  cam = (1*1 + 0,      2*1 - 0.5)    = (1.0, 1.5)
    torch.testing.assert_close(cams, torch.tensor([[[0.5, 2.5]], [[1., 1.5]]]))
    assert not cams.requires_grad
    relu = grad_cam(target, linear_logits(target, -W),
                    torch.tensor([[0, 0]]), (1, 2), relu=True)
    torch.testing.assert_close(relu, torch.zeros(1, 1, 2))


def test_grad_cam_softmax_explicit():
    g = torch.Generator().manual_seed(0)
    B, h, w, C, G, Q = 2, 2, 3, 4, 3, 2
    W = torch.randn(C, G + Q, generator=g)
    base = torch.randn(B, 1 + h * w, C, generator=g)
    target = base.clone().requires_grad_(True)
    present = torch.tensor([[1, 0, 1], [0, 1, 0]])
    logits = linear_logits(target, W)
    # the exact softmax's Jacobian below (mode='exact' since issue 11)
    s = softmax_scores(logits, present, mode='exact')
    pairs = torch.nonzero(present)
    cams = grad_cam(target, s, pairs, (h, w))
    assert cams.shape == (3, h, w)
    L = h * w
    sd = s.detach()
    for p, (b, k) in enumerate(pairs.tolist()):
        # d s_k / d logit_j = s_k (delta_kj - s_j); d logit_j / d x_lc = W_cj/L
        ds = sd[b, k] * (torch.eye(G + Q)[k] - sd[b])
        wc = (W @ ds) / L
        expected = (base[b, 1:] @ wc).view(h, w)
        torch.testing.assert_close(cams[p], expected, atol=1e-6, rtol=1e-5)


def test_grad_cam_batched_equals_per_pair_loop():
    g = torch.Generator().manual_seed(1)
    B, h, w, C, K = 3, 3, 2, 5, 6
    W = torch.randn(C, K, generator=g)
    target = torch.randn(B, 1 + h * w, C, generator=g).requires_grad_(True)
    scores = linear_logits(torch.tanh(target), W).softmax(-1)
    pairs = torch.tensor([[2, 0], [0, 3], [2, 5], [0, 1], [2, 2], [1, 4]])
    batched = grad_cam(target, scores, pairs, (h, w))
    per_pair = grad_cam(target, scores, pairs, (h, w),
                        samples_independent=False)
    loop = []
    for b, k in pairs.tolist():
        grad, = torch.autograd.grad(scores[b, k], target, retain_graph=True)
        wts = grad[b, 1:].mean(0)
        loop.append((target[b, 1:].detach() @ wts).view(h, w))
    loop = torch.stack(loop)
    torch.testing.assert_close(batched, loop, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(per_pair, loop, atol=1e-6, rtol=1e-5)
    # the graph is kept (a loss on the logits can still back-propagate)
    scores.sum().backward()


def test_grad_cam_shapes_and_errors():
    target = torch.randn(2, 1 + 6, 3, requires_grad=True)
    scores = linear_logits(target, torch.randn(3, 4))
    assert grad_cam(target, scores, torch.tensor([[1, 2]]),
                    (2, 3)).shape == (1, 2, 3)
    assert grad_cam(target, scores, torch.tensor([[0, 0]]),
                    (3, 2)).shape == (1, 3, 2)
    assert grad_cam(target, scores, torch.zeros(0, 2, dtype=torch.long),
                    (2, 3)).shape == (0, 2, 3)
    with pytest.raises(ValueError, match='grid'):
        grad_cam(target, scores, torch.tensor([[0, 0]]), (2, 2))
    with pytest.raises(ValueError, match='pairs'):
        grad_cam(target, scores, torch.tensor([[2, 0]]), (2, 3))
    with pytest.raises(ValueError, match='require grad'):
        grad_cam(target.detach(), scores, torch.tensor([[0, 0]]), (2, 3))


class QuickGELU(nn.Module):

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class TinyBlock(nn.Module):
    """A CLIP-like residual block with explicit attention (need_weights)."""

    def __init__(self, C=8, heads=2):
        super().__init__()
        self.attn = nn.MultiheadAttention(C, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(C)
        self.mlp = nn.Sequential(
            nn.Linear(C, 2 * C), QuickGELU(), nn.Linear(2 * C, C), nn.GELU())
        self.ln_post = nn.LayerNorm(C)

    def forward(self, x, t):
        """x: block input, t = ln_1(x) (the GradCAM target)."""
        y = x + self.attn(t, t, t, need_weights=True)[0]
        y = y + self.mlp(self.ln_2(y))
        return self.ln_post(y[:, 1:].mean(1))


@pytest.mark.filterwarnings('error:grad_cam')  # the batched path must work
def test_grad_cam_second_order_matches_finite_differences():
    torch.manual_seed(0)
    B, h, w, C, G, Q = 2, 2, 2, 8, 2, 1
    block = TinyBlock(C).double().requires_grad_(False)
    ln_1 = nn.LayerNorm(C).double().requires_grad_(False)
    x = torch.randn(B, 1 + h * w, C, dtype=torch.float64)
    text0 = torch.randn(G + Q, C, dtype=torch.float64, requires_grad=True)
    present = torch.tensor([[1, 1], [0, 1]])
    pairs = torch.nonzero(present)
    weight = torch.randn(pairs.shape[0], h, w, dtype=torch.float64)

    def cams_of(text, create_graph=True):
        target = ln_1(x).detach().requires_grad_(True)
        emb = block(x, target)
        emb = emb / emb.norm(dim=-1, keepdim=True)
        txt = text / text.norm(dim=-1, keepdim=True)
        scores = softmax_scores(10 * emb @ txt.T, present)
        return grad_cam(target, scores, pairs, (h, w),
                        create_graph=create_graph)

    assert torch.autograd.gradcheck(cams_of, (text0, ))
    # a CAL-like loss trains the text features through the weights only
    loss = (cams_of(text0) * weight).sum()
    grad, = torch.autograd.grad(loss, text0)
    assert grad.abs().sum() > 0
    # without create_graph the CAMs carry no graph
    assert not cams_of(text0, create_graph=False).requires_grad


def test_grad_cam_loop_fallback_for_double_backward(monkeypatch):
    """If vmap cannot batch a double backward, a loop gives the same CAMs."""
    g = torch.Generator().manual_seed(4)
    W = torch.randn(3, 4, generator=g, dtype=torch.float64,
                    requires_grad=True)
    x = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    pairs = torch.tensor([[0, 1], [1, 2], [0, 3]])

    def run():
        target = x.clone().requires_grad_(True)
        scores = linear_logits(torch.tanh(target), W).softmax(-1)
        cams = grad_cam(target, scores, pairs, (2, 2), create_graph=True)
        return cams, torch.autograd.grad(cams.square().sum(), W)[0]

    cams, grad_w = run()
    original = torch.autograd.grad

    def no_batched(*args, **kwargs):
        if kwargs.get('is_grads_batched'):
            raise RuntimeError('vmap: batching rule not implemented')
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, 'grad', no_batched)
    with pytest.warns(UserWarning, match='loop'):
        cams2, grad_w2 = run()
    torch.testing.assert_close(cams2, cams)
    torch.testing.assert_close(grad_w2, grad_w)


# ----------------------------------------------------------------------------
# min_max_normalize
# ----------------------------------------------------------------------------


def test_min_max_normalize_reference_semantics():
    x = torch.tensor([[[-1., 0.], [2., 4.]], [[-3., -1.], [-2., -5.]],
                      [[3., 3.], [3., 3.]]])
    out = min_max_normalize(x)
    # clamp at 0 -> [0, 0, 2, 4] -> / (4 + 1e-7)
    torch.testing.assert_close(
        out[0], torch.tensor([[0., 0.], [2., 4.]]) / (4 + 1e-7))
    assert out[0].max() <= 1  # 4 / (4 + 1e-7) rounds to 1 in float32
    assert torch.equal(out[1], torch.zeros(2, 2))  # all <= 0
    assert torch.equal(out[2], torch.zeros(2, 2))  # constant
    small = min_max_normalize(torch.tensor([[[0., 1e-4]]]))
    assert small[0, 0, 1].item() == pytest.approx(1e-4 / (1e-4 + 1e-7),
                                                  rel=1e-5)  # 0.999
    # no clamp, over one dim
    raw = min_max_normalize(torch.tensor([[-2., 0., 2.]]), dim=-1,
                            thresh=None, eps=0.)
    torch.testing.assert_close(raw, torch.tensor([[0., 0.5, 1.]]))
