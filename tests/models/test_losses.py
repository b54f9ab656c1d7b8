"""MCL and CAL losses against hand-computed values and gradients."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses import CALLoss, MCLLoss, cal_loss, mcl_loss

# ----------------------------------------------------------------------------
# MCL
# ----------------------------------------------------------------------------

# rows: anchor (1 pos), anchor (2 pos), all positive, all negative
MCL_S = torch.tensor([[1., 0., 2.], [0., 3., 1.], [5., 4., 3.], [1., 1., 1.]])
MCL_Y = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]])
# l(0,0) = log(e^1 + e^0 + e^2) - 1             = 1.4076059644
# l(1,0) = log(e^0 + e^1) - 0                   = 1.3132616875
# l(1,1) = log(e^3 + e^1) - 3                   = 0.1269280110
L00 = math.log(math.e + 1 + math.e**2) - 1
L10 = math.log(1 + math.e)
L11 = math.log(math.e**3 + math.e) - 3


def naive_mcl(S, y, reduce='pos_mean'):
    """The reference formula, literally, one positive at a time."""
    losses, rows = [], []
    for n in range(S.shape[0]):
        pos = [c for c in range(S.shape[1]) if y[n, c] == 1]
        neg = [c for c in range(S.shape[1]) if y[n, c] == 0]
        if not pos or not neg:
            continue
        row = []
        for c in pos:
            row.append(-(S[n, c] - torch.log(
                torch.exp(S[n, c]) + sum(torch.exp(S[n, j]) for j in neg))))
        losses += row
        rows.append(sum(row) / len(row))
    if reduce == 'pos_mean':
        return sum(losses) / len(losses)
    return sum(rows) / len(rows)


def test_mcl_hand_values():
    assert L00 == pytest.approx(1.4076059644, abs=1e-9)
    assert L11 == pytest.approx(0.1269280110, abs=1e-9)
    pos_mean = (L00 + L10 + L11) / 3  # 0.9492652210
    sample_mean = (L00 + (L10 + L11) / 2) / 2  # 1.0638504068
    assert mcl_loss(MCL_S, MCL_Y).item() == pytest.approx(pos_mean, abs=1e-6)
    assert mcl_loss(MCL_S, MCL_Y, reduce='sample_mean').item() == \
        pytest.approx(sample_mean, abs=1e-6)


def test_mcl_gamma_scales_logits():
    out = mcl_loss(MCL_S, MCL_Y, gamma=0.5)
    assert out.item() == pytest.approx(mcl_loss(MCL_S * 0.5, MCL_Y).item(),
                                       abs=1e-7)


def test_mcl_gradient_hand():
    # one anchor row [1, 0, 2], positive 0: dl/dS = softmax(S) - onehot(0)
    S = torch.tensor([[1., 0., 2.]], requires_grad=True)
    mcl_loss(S, torch.tensor([[1, 0, 0]])).backward()
    e = torch.tensor([math.e, 1., math.e**2])
    expected = e / e.sum() - torch.tensor([1., 0., 0.])
    torch.testing.assert_close(S.grad[0], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize('reduce', ['pos_mean', 'sample_mean'])
def test_mcl_matches_literal_reference(reduce):
    g = torch.Generator().manual_seed(0)
    S = (15 + 20 * torch.rand(6, 5, generator=g)).requires_grad_(True)
    y = (torch.rand(6, 5, generator=g) > 0.6).long()
    y[0] = torch.tensor([1, 1, 1, 1, 1])  # not an anchor
    y[1] = torch.tensor([0, 1, 0, 0, 0])
    ours = mcl_loss(S, y, reduce=reduce)
    ref = naive_mcl(S, y, reduce)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-5)
    g1, = torch.autograd.grad(ours, S)
    g2, = torch.autograd.grad(ref, S)
    torch.testing.assert_close(g1, g2, atol=1e-4, rtol=1e-5)
    assert g1[0].abs().sum() == 0  # non-anchor row has no gradient


@pytest.mark.parametrize('reduce', ['pos_mean', 'sample_mean'])
def test_mcl_gradcheck(reduce):
    g = torch.Generator().manual_seed(1)
    S = torch.randn(4, 5, generator=g, dtype=torch.float64,
                    requires_grad=True)
    y = torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 1, 0], [1, 1, 1, 1, 1],
                      [1, 1, 0, 1, 0]])
    assert torch.autograd.gradcheck(
        lambda s: mcl_loss(s, y, gamma=2.0, reduce=reduce), (S, ))


def test_mcl_no_anchor_is_zero_with_zero_grad():
    S = torch.randn(3, 4, requires_grad=True)
    y = torch.tensor([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]])
    out = mcl_loss(S, y)
    assert out.item() == 0
    out.backward()
    assert torch.equal(S.grad, torch.zeros_like(S))
    empty = torch.zeros(0, 4, requires_grad=True)
    assert mcl_loss(empty, torch.zeros(0, 4)).item() == 0


def test_mcl_overflow_robust():
    # exp(200) overflows float32: the literal formula is not finite here
    assert not torch.isfinite(naive_mcl(MCL_S + 200, MCL_Y))
    S = (MCL_S + 200).requires_grad_(True)
    out = mcl_loss(S, MCL_Y)
    assert torch.isfinite(out)
    # the loss is invariant to a per-row shift of the logits
    assert out.item() == pytest.approx(mcl_loss(MCL_S, MCL_Y).item(),
                                       abs=1e-5)
    out.backward()
    assert torch.isfinite(S.grad).all()


def test_mcl_bad_input():
    with pytest.raises(ValueError, match='reduce'):
        mcl_loss(MCL_S, MCL_Y, reduce='mean')
    with pytest.raises(ValueError, match='same shape'):
        mcl_loss(MCL_S, MCL_Y[:, :2])


def test_mcl_module_and_registry():
    from mmseg.registry import MODELS
    loss = MODELS.build(dict(type='MCLLoss', loss_weight=0.5))
    assert isinstance(loss, MCLLoss)
    assert loss.loss_name == 'loss_mcl'
    assert loss(MCL_S, MCL_Y).item() == pytest.approx(
        0.5 * mcl_loss(MCL_S, MCL_Y).item(), abs=1e-7)


# ----------------------------------------------------------------------------
# CAL
# ----------------------------------------------------------------------------

# one image, classes 0 and 1 present -> pairs (0, 0), (0, 1)
CAL_LB = torch.tensor([[[1, 1, 0], [2, 255, 0]]])
CAL_FG = torch.tensor([[1, 1]])
CAL_CAM = torch.tensor([
    [[2., 1., 0.5], [-1., 7., -0.5]],  # class 0: F = lb==1, B = lb in {0,2}
    [[-3., 0.25, 1.], [-2., 4., 0.]],  # class 1: F = lb==2, B = lb in {0,1}
])
# pair 0: m = 2; fg |2-2| + |2-1| = 1; bg relu(0.5) + relu(-1) + relu(-.5) = .5
# pair 1: m = max(0, -2) = 0; fg |0-(-2)| = 2; bg relu(-3)+.25+1+relu(0)=1.25
# non-ignored pixels: (2 F + 3 B) + (1 F + 4 B) = 10 (the 7 and 4 are ignored)
CAL_FG_LOSS = (1 + 2) / 10
CAL_BG_LOSS = (0.5 + 1.25) / 10
# d/dcam: fg -1/10 below the max, 0 at the max pixel; bg +1/10 where cam > 0
CAL_GRAD = torch.tensor([
    [[0., -0.1, 0.1], [0., 0., 0.]],
    [[0., 0.1, 0.1], [-0.1, 0., 0.]],
])


def test_cal_hand_values_and_gradient():
    cam = CAL_CAM.clone().requires_grad_(True)
    fg, bg = cal_loss(cam, CAL_FG, CAL_LB)
    assert fg.item() == pytest.approx(CAL_FG_LOSS, abs=1e-7)
    assert bg.item() == pytest.approx(CAL_BG_LOSS, abs=1e-7)
    (fg + bg).backward()
    torch.testing.assert_close(cam.grad, CAL_GRAD, atol=1e-7, rtol=0)


def test_cal_separate_term_gradients():
    cam = CAL_CAM.clone().requires_grad_(True)
    fg, bg = cal_loss(cam, CAL_FG, CAL_LB)
    g_fg, = torch.autograd.grad(fg, cam, retain_graph=True)
    g_bg, = torch.autograd.grad(bg, cam)
    # the max pixel (0,0) of pair 0 gets exactly zero fg gradient
    assert g_fg[0, 0, 0] == 0
    torch.testing.assert_close(g_fg, CAL_GRAD.clamp(max=0), atol=1e-7, rtol=0)
    torch.testing.assert_close(g_bg, CAL_GRAD.clamp(min=0), atol=1e-7, rtol=0)


def test_cal_other_classes_are_background_and_ignore_excluded():
    # pair 0 sees lb == 2 at (1,0) as background: cam -1 there -> no loss;
    # raising it to +3 adds relu(3) = 3 to the bg sum
    cam = CAL_CAM.clone()
    cam[0, 1, 0] = 3.
    _, bg = cal_loss(cam, CAL_FG, CAL_LB)
    assert bg.item() == pytest.approx((0.5 + 3 + 1.25) / 10, abs=1e-7)
    # changing the ignored pixel's CAM changes nothing
    cam2 = CAL_CAM.clone()
    cam2[:, 1, 1] = -100.
    assert cal_loss(cam2, CAL_FG, CAL_LB)[0].item() == pytest.approx(
        CAL_FG_LOSS, abs=1e-7)
    # one more ignored pixel: (0,2) of lb -> 255. The denominator drops by
    # 2 (one B pixel in each pair) and both bg contributions there vanish.
    lb = CAL_LB.clone()
    lb[0, 0, 2] = 255
    fg, bg = cal_loss(CAL_CAM, CAL_FG, lb)
    assert fg.item() == pytest.approx(3 / 8, abs=1e-7)
    assert bg.item() == pytest.approx(0.25 / 8, abs=1e-7)


def test_cal_bg_thresh():
    _, bg = cal_loss(CAL_CAM, CAL_FG, CAL_LB, bg_thresh=0.3)
    # relu(cam - 0.3) on B: pair 0: 0.2; pair 1: 0 + 0.7 = 0.7
    assert bg.item() == pytest.approx((0.2 + 0.7) / 10, abs=1e-6)


def test_cal_variants_hand():
    fg, bg = cal_loss(CAL_CAM, CAL_FG, CAL_LB, loss_type='l2')
    # fg 0.5*(1^2) + 0.5*(2^2) = 2.5; bg 0.5*(.5^2) + 0.5*(.25^2 + 1^2)
    assert fg.item() == pytest.approx(2.5 / 10, abs=1e-7)
    assert bg.item() == pytest.approx(0.65625 / 10, abs=1e-7)
    eps = 1e-5
    fg, bg = cal_loss(CAL_CAM, CAL_FG, CAL_LB, reduce='fg-bg')
    assert fg.item() == pytest.approx(0.5 * 3 / (3 + eps), abs=1e-6)
    assert bg.item() == pytest.approx(0.5 * 1.75 / (7 + eps), abs=1e-6)
    fg, bg = cal_loss(CAL_CAM, CAL_FG, CAL_LB, reduce='fg-bg-per-pos')
    fg_ref = (0.5 * 1 / (2 + eps) + 0.5 * 2 / (1 + eps)) / 2
    bg_ref = (0.5 * 0.5 / (3 + eps) + 0.5 * 1.25 / (4 + eps)) / 2
    assert fg.item() == pytest.approx(fg_ref, abs=1e-6)
    assert bg.item() == pytest.approx(bg_ref, abs=1e-6)


def test_cal_detach_max_false_gradient_hand():
    cam = CAL_CAM.clone().requires_grad_(True)
    fg, bg = cal_loss(cam, CAL_FG, CAL_LB, detach_max=False)
    (fg + bg).backward()
    expected = CAL_GRAD.clone()
    # pair 0: m = cam(0,0) now gets +1/10 from the pixel at |2 - 1|
    expected[0, 0, 0] = 0.1
    torch.testing.assert_close(cam.grad, expected, atol=1e-7, rtol=0)


@pytest.mark.parametrize('loss_type', ['l1', 'l2'])
@pytest.mark.parametrize('reduce', ['all', 'fg-bg', 'fg-bg-per-pos'])
def test_cal_gradcheck_with_upsampling(loss_type, reduce):
    g = torch.Generator().manual_seed(2)
    fg_lb = torch.tensor([[1, 0, 1], [0, 1, 0]])
    lb = torch.randint(0, 5, (2, 6, 5), generator=g)  # labels 0..3
    lb[lb == 4] = 255
    lb[0, 0, 0], lb[0, 1, 1], lb[1, 2, 2] = 1, 3, 2  # every pair has F
    cam = torch.randn(3, 3, 4, generator=g, dtype=torch.float64,
                      requires_grad=True)
    for i in range(2):
        assert torch.autograd.gradcheck(
            lambda c: cal_loss(c, fg_lb, lb, loss_type=loss_type,
                               reduce=reduce, detach_max=False,
                               bg_thresh=0.05)[i], (cam, ))


def test_cal_upsampling_adjoint_explicit():
    """Gradient through the bilinear upsampling = W^T (per-pixel gradient)."""
    g = torch.Generator().manual_seed(3)
    h, w, H, W = 2, 3, 4, 5
    cam = torch.randn(1, h, w, generator=g, dtype=torch.float64)
    lb = torch.tensor([[[1, 1, 0, 0, 255], [1, 1, 1, 0, 0], [0, 1, 1, 0, 0],
                        [0, 0, 255, 0, 0]]])
    fg_lb = torch.tensor([[1]])
    # explicit interpolation matrix W (H*W, h*w) from basis maps
    basis = torch.eye(h * w, dtype=torch.float64).view(h * w, 1, h, w)
    Wm = F.interpolate(basis, size=(H, W), mode='bilinear',
                       align_corners=False).view(h * w, H * W).T
    up = (Wm @ cam.view(-1)).view(H, W)
    Fm = (lb[0] == 1).double()
    Bm = ((lb[0] != 1) & (lb[0] != 255)).double()
    N = Fm.sum() + Bm.sum()
    m = (up * Fm).max().clamp(min=0)
    g_fg = torch.where((Fm > 0) & (up * Fm != m), -torch.sign(m - up), 0.)
    g_bg = torch.where((Bm > 0) & (up > 0), 1., 0.)
    expected_up = (g_fg + g_bg) / N
    expected = (Wm.T @ expected_up.view(-1)).view(1, h, w)
    x = cam.clone().requires_grad_(True)
    fg, bg = cal_loss(x, fg_lb, lb)
    (fg + bg).backward()
    torch.testing.assert_close(x.grad, expected, atol=1e-10, rtol=0)
    fg_ref = ((m - up).abs() * Fm).sum() / N
    bg_ref = (up.clamp(min=0) * Bm).sum() / N
    assert fg.item() == pytest.approx(fg_ref.item(), abs=1e-10)
    assert bg.item() == pytest.approx(bg_ref.item(), abs=1e-10)


def test_cal_degenerate_cases_are_zero_with_graph():
    cam = torch.randn(2, 2, 3, requires_grad=True)
    lb = torch.full((1, 2, 3), 255)
    fg, bg = cal_loss(cam, CAL_FG, lb)
    assert fg.item() == 0 and bg.item() == 0
    (fg + bg).backward()
    assert torch.equal(cam.grad, torch.zeros_like(cam))
    empty = torch.zeros(0, 2, 3, requires_grad=True)
    fg, bg = cal_loss(empty, torch.zeros(1, 2), CAL_LB)
    assert fg.item() == 0 and bg.item() == 0
    (fg + bg).backward()
    fg, bg = cal_loss(empty, torch.zeros(1, 2), CAL_LB,
                      reduce='fg-bg-per-pos')
    assert fg.item() == 0 and bg.item() == 0


def test_cal_bad_input():
    with pytest.raises(ValueError, match='positive'):
        cal_loss(CAL_CAM[:1], CAL_FG, CAL_LB)
    with pytest.raises(ValueError, match='loss_type'):
        cal_loss(CAL_CAM, CAL_FG, CAL_LB, loss_type='l3')
    with pytest.raises(ValueError, match='reduce'):
        cal_loss(CAL_CAM, CAL_FG, CAL_LB, reduce='mean')
    with pytest.raises(ValueError, match='loss_weight'):
        CALLoss(loss_weight=(1., 2., 3.))


def test_cal_module_and_registry():
    from mmseg.registry import MODELS
    loss = MODELS.build(dict(type='CALLoss', loss_weight=(2.0, 0.5)))
    assert isinstance(loss, CALLoss) and loss.loss_name == 'loss_cal'
    out = loss(CAL_CAM, CAL_FG, CAL_LB)
    assert set(out) == {'loss_cal_fg', 'loss_cal_bg'}
    assert out['loss_cal_fg'].item() == pytest.approx(2 * CAL_FG_LOSS,
                                                      abs=1e-6)
    assert out['loss_cal_bg'].item() == pytest.approx(0.5 * CAL_BG_LOSS,
                                                      abs=1e-6)
    single = CALLoss(loss_weight=3.0)(CAL_CAM, CAL_FG, CAL_LB)
    assert single['loss_cal_bg'].item() == pytest.approx(3 * CAL_BG_LOSS,
                                                         abs=1e-6)
