import math

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from mmdet_gan.models.losses import (GANLoss, MultiScaleL1Loss,
                                     adversarial_losses, discriminator_scores,
                                     mean_abs_diff)

register_all_modules()

# discriminator outputs used by the hand-computed cases below
REAL = [[0.5], [-1.0]]
FAKE = [[2.0], [0.0]]


def small_box_discriminator():
    """A BoxDiscriminator on (N, 8, 16, 16) inputs, in training mode."""
    return MODELS.build(
        dict(
            type='BoxDiscriminator',
            in_channels=8,
            base_channels=4,
            roi_size=16)).train()


def softplus(v):
    return math.log(1 + math.exp(v))


def _inputs(real=REAL, fake=FAKE):
    real = torch.tensor(real, requires_grad=True)
    fake = torch.tensor(fake, requires_grad=True)
    return real, fake


# BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x); D sums the two halves
VANILLA_D = ((softplus(-0.5) + softplus(1.0)) / 2 +
             (softplus(2.0) + softplus(0.0)) / 2)
VANILLA_G = (softplus(-2.0) + softplus(0.0)) / 2
# ((0.5-1)^2 + (-1-1)^2) / 2 + (2^2 + 0^2) / 2
LSGAN_D = (0.25 + 4.0) / 2 + (4.0 + 0.0) / 2
LSGAN_G = ((2.0 - 1)**2 + (0.0 - 1)**2) / 2
# (relu(1-0.5) + relu(1+1)) / 2 + (relu(1+2) + relu(1+0)) / 2
HINGE_D = (0.5 + 2.0) / 2 + (3.0 + 1.0) / 2
HINGE_G = -(2.0 + 0.0) / 2


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


# Gradients w.r.t. (real, fake), each averaged over its N = 2 samples:
# d softplus(-x) / dx = -sigmoid(-x), d softplus(x) / dx = sigmoid(x),
# d (x - y)^2 / dx = 2 (x - y), d relu(1 - x) / dx = -[x < 1],
# d relu(1 + x) / dx = [x > -1]; None: the loss ignores the real samples.
VANILLA_D_GRAD = (
    [-sigmoid(-0.5) / 2, -sigmoid(1.0) / 2],  # real
    [sigmoid(2.0) / 2, sigmoid(0.0) / 2])  # fake
VANILLA_G_GRAD = (None, [-sigmoid(-2.0) / 2, -sigmoid(0.0) / 2])
LSGAN_D_GRAD = ([2 * (0.5 - 1) / 2, 2 * (-1 - 1) / 2], [2 * 2.0 / 2, 0.0])
LSGAN_G_GRAD = (None, [2 * (2.0 - 1) / 2, 2 * (0.0 - 1) / 2])
HINGE_D_GRAD = ([-1 / 2, -1 / 2], [1 / 2, 1 / 2])
HINGE_G_GRAD = (None, [-1 / 2, -1 / 2])


@pytest.mark.parametrize('gan_type, is_disc, expected, expected_grads', [
    ('vanilla', True, VANILLA_D, VANILLA_D_GRAD),
    ('vanilla', False, VANILLA_G, VANILLA_G_GRAD),
    ('lsgan', True, LSGAN_D, LSGAN_D_GRAD),
    ('lsgan', False, LSGAN_G, LSGAN_G_GRAD),
    ('hinge', True, HINGE_D, HINGE_D_GRAD),
    ('hinge', False, HINGE_G, HINGE_G_GRAD),
])
def test_gan_loss_values(gan_type, is_disc, expected, expected_grads):
    loss_fn = MODELS.build(dict(type='GANLoss', gan_type=gan_type))
    assert isinstance(loss_fn, GANLoss)
    real, fake = _inputs()
    loss = loss_fn(real, fake, is_disc=is_disc)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    real_grad, fake_grad = expected_grads
    torch.testing.assert_close(fake.grad, torch.tensor(fake_grad)[:, None])
    if real_grad is None:
        assert real.grad is None
    else:
        torch.testing.assert_close(real.grad, torch.tensor(real_grad)[:, None])


@pytest.mark.parametrize('loss_weight', [1.0, 0.025])
def test_zero_logits_cost_log_2(loss_weight):
    """A discriminator that cannot tell (logit 0, probability 1/2): BCE is
    log 2 per term, the discriminator's two terms 2 log 2."""
    loss_fn = GANLoss('vanilla', loss_weight=loss_weight)
    log2 = loss_weight * math.log(2)
    zeros = torch.zeros(5, 1)
    loss_g = loss_fn(zeros, zeros, is_disc=False).item()
    loss_d = loss_fn(zeros, zeros, is_disc=True).item()
    assert loss_g == pytest.approx(log2, rel=1e-6)
    assert loss_d == pytest.approx(2 * log2, rel=1e-6)
    # through a box discriminator whose logit layer is zeroed
    disc = small_box_discriminator()
    last = disc.convs[-1].conv
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    x = torch.rand(3, 8, 16, 16)
    logits = disc(x)
    assert (logits == 0).all()
    loss_d = loss_fn(logits, logits, is_disc=True).item()
    assert loss_d == pytest.approx(2 * log2, rel=1e-6)
    assert GANLoss('vanilla').scores(logits, logits) == {
        'score_real': 0.5,
        'score_fake': 0.5
    }


def test_gan_loss_generator_ignores_real():
    loss_fn = GANLoss('vanilla')
    _, fake = _inputs()
    for real in (torch.zeros(2, 1), torch.full((2, 1), 9.0)):
        loss = loss_fn(real, fake, is_disc=False)
        assert loss.item() == pytest.approx(VANILLA_G, rel=1e-6)


def test_gan_loss_custom_labels():
    loss_fn = GANLoss('lsgan', real_label=0.9, fake_label=0.1)
    real, fake = _inputs()
    d = ((0.5 - 0.9)**2 + (-1 - 0.9)**2) / 2 + ((2 - 0.1)**2 +
                                                (0 - 0.1)**2) / 2
    g = ((2 - 0.9)**2 + (0 - 0.9)**2) / 2
    assert loss_fn(real, fake, True).item() == pytest.approx(d, rel=1e-6)
    assert loss_fn(real, fake, False).item() == pytest.approx(g, rel=1e-6)
    # vanilla with a smoothed real label: BCE(x, y) = softplus(x) - x * y
    loss_fn = GANLoss('vanilla', real_label=0.9)
    g = ((softplus(2.0) - 2.0 * 0.9) + (softplus(0.0) - 0.0)) / 2
    assert loss_fn(real, fake, False).item() == pytest.approx(g, rel=1e-6)


@pytest.mark.parametrize('is_disc, sign', [(False, 1.0), (True, -1.0)])
def test_multiscale_l1_values(is_disc, sign):
    loss_fn = MODELS.build(dict(type='MultiScaleL1Loss', loss_weight=0.5))
    assert isinstance(loss_fn, MultiScaleL1Loss)
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    fake = torch.tensor([[0.0, 2.5], [5.0, 1.0]], requires_grad=True)
    # |diffs| = 1, 0.5, 2, 3 -> mean 1.625
    loss = loss_fn(real, fake, is_disc=is_disc)
    assert loss.item() == pytest.approx(sign * 0.5 * 1.625)
    loss.backward()
    # d/dfake of mean|real - fake| = sign(fake - real) / numel
    expected = sign * 0.5 * torch.tensor([[-1.0, 1.0], [1.0, -1.0]]) / 4
    torch.testing.assert_close(fake.grad, expected)
    torch.testing.assert_close(real.grad, -expected)


@pytest.mark.parametrize('grad_a, grad_b', [(True, True), (False, True),
                                            (True, False)])
def test_mean_abs_diff_matches_torch_abs(grad_a, grad_b):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(6, 50, generator=gen, dtype=torch.float64)
    b = torch.randn(6, 50, generator=gen, dtype=torch.float64)
    b[0, :5] = a[0, :5]  # ties: abs's gradient there is 0
    grads = []
    for fn in (mean_abs_diff, lambda x, y: torch.abs(x - y).mean()):
        x = a.clone().requires_grad_(grad_a)
        y = b.clone().requires_grad_(grad_b)
        out = fn(x, y)
        (out * 3.0).backward()
        grads.append((out.detach(), x.grad, y.grad))
    (lean, lean_ga, lean_gb), (ref, ref_ga, ref_gb) = grads
    torch.testing.assert_close(lean, ref)
    for lean_g, ref_g in ((lean_ga, ref_ga), (lean_gb, ref_gb)):
        if ref_g is None:
            assert lean_g is None
        else:
            torch.testing.assert_close(lean_g, ref_g)


def test_mean_abs_diff_keeps_only_an_int8_sign():
    saved = []
    real = torch.randn(4, 1000, requires_grad=True)
    fake = torch.randn(4, 1000, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t) or t, lambda t: t):
        mean_abs_diff(real, fake)
    assert [(t.dtype, t.numel()) for t in saved] == [(torch.int8, 4000)]
    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t) or t, lambda t: t):
        torch.abs(real - fake).mean()
    # what it replaces: the float difference
    assert [t.dtype for t in saved] == [torch.float32]


def _layers(seed, requires_grad=True):
    """Per-layer features of 3 samples, the input's block the largest."""
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(3, dim, generator=gen, dtype=torch.float64).requires_grad_(
            requires_grad) for dim in (300, 40, 7, 1))


@pytest.mark.parametrize('is_disc', [False, True])
def test_multiscale_l1_per_layer_equals_concatenation(is_disc):
    """The loss on per-layer features (what MaskDiscriminator returns) is
    the loss on their concatenation, values and gradients."""
    loss_fn = MultiScaleL1Loss(loss_weight=0.5)
    real, fake = _layers(0), _layers(1)
    loss = loss_fn(real, fake, is_disc)
    loss.backward()
    grads = [t.grad.clone() for t in real + fake]
    real_cat = torch.cat([t.detach() for t in real], 1).requires_grad_()
    fake_cat = torch.cat([t.detach() for t in fake], 1).requires_grad_()
    ref = (-1. if is_disc else 1.) * 0.5 * torch.abs(real_cat -
                                                     fake_cat).mean()
    ref.backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(
        torch.cat(grads[:4], 1), real_cat.grad, msg='real grads')
    torch.testing.assert_close(
        torch.cat(grads[4:], 1), fake_cat.grad, msg='fake grads')


def test_multiscale_l1_per_layer_mismatch():
    real, fake = _layers(0), _layers(1)
    with pytest.raises(ValueError, match='same number of layers'):
        MultiScaleL1Loss()(real, fake[:3], True)
    with pytest.raises(ValueError, match='same shape'):
        MultiScaleL1Loss()(real, fake[:3] + (torch.zeros(3, 2), ), True)


def test_sum_abs_diff_in_chunks(monkeypatch):
    """Chunks of a few rows (and rows longer than a chunk) give the sum and
    the gradients of torch.abs(a - b).sum()."""
    monkeypatch.setattr(adversarial_losses, 'SUM_ABS_DIFF_CHUNK', 64)
    gen = torch.Generator().manual_seed(0)
    for shape in ((7, 20), (5, 100), (4, 3, 5, 5)):
        a = torch.randn(*shape, generator=gen, dtype=torch.float64)
        b = torch.randn(*shape, generator=gen, dtype=torch.float64)
        b[0] = a[0]  # ties: gradient 0
        x, y = a.clone().requires_grad_(), b.clone().requires_grad_()
        out = adversarial_losses.sum_abs_diff(x, y)
        (out * 2.).backward()
        x_ref, y_ref = a.clone().requires_grad_(), b.clone().requires_grad_()
        ref = torch.abs(x_ref - y_ref).sum()
        (ref * 2.).backward()
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(x.grad, x_ref.grad)
        torch.testing.assert_close(y.grad, y_ref.grad)


def test_multiscale_l1_makes_no_float_copy_of_its_inputs():
    """The loss's forward allocates at most an int8 sign of the inputs and
    float temporaries of one chunk: never a float tensor of their size
    (the concatenation or the difference that the reference computes)."""
    from torch.profiler import ProfilerActivity, profile

    from mmdet_gan.benchmark.memory import profiler_peak_bytes
    real = (torch.randn(64, 200_000), torch.randn(64, 2_000))
    fake = tuple(t.clone().requires_grad_() for t in real)
    input_bytes = sum(t.numel() * 4 for t in real)
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        MultiScaleL1Loss()(real, fake, is_disc=False)
    peak = profiler_peak_bytes(prof)
    chunk_bytes = 3 * 4 * adversarial_losses.SUM_ABS_DIFF_CHUNK
    assert peak <= input_bytes // 4 + chunk_bytes, (peak, input_bytes)
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        torch.abs(torch.cat(real, 1) - torch.cat(fake, 1)).mean()
    # what it replaces: more than the inputs' size again
    assert profiler_peak_bytes(prof) > input_bytes


@pytest.mark.parametrize('loss_cfg', [
    dict(type='GANLoss', gan_type='vanilla', loss_weight=0.3),
    dict(type='GANLoss', gan_type='hinge'),
    dict(type='MultiScaleL1Loss', loss_weight=0.5),
])
def test_game_losses_are_both_players_losses(loss_cfg):
    loss_fn = MODELS.build(loss_cfg)
    if loss_cfg['type'] == 'GANLoss':
        real, fake = (
            torch.tensor(v, requires_grad=True) for v in (REAL, FAKE))
    else:
        real, fake = _layers(0), _layers(1)
    gen_loss, disc_loss = loss_fn.game_losses(real, fake)
    torch.testing.assert_close(gen_loss, loss_fn(real, fake, is_disc=False))
    torch.testing.assert_close(disc_loss, loss_fn(real, fake, is_disc=True))


def test_multiscale_l1_game_losses_evaluate_once():
    """One int8 sign per layer is saved for both players' losses."""
    saved = []
    real, fake = _layers(0), _layers(1)
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t) or t, lambda t: t):
        MultiScaleL1Loss().game_losses(real, fake)
    assert [t.dtype for t in saved] == [torch.int8] * len(real)


def test_gan_loss_refuses_multiscale_features():
    real, fake = _layers(0), _layers(1)
    with pytest.raises(TypeError, match='use MultiScaleL1Loss'):
        GANLoss()(real, fake, is_disc=True)


def test_multiscale_l1_shape_mismatch():
    with pytest.raises(ValueError, match='same shape'):
        MultiScaleL1Loss()(torch.zeros(2, 3), torch.zeros(2, 4), True)


@pytest.mark.parametrize('loss_cfg', [
    dict(type='GANLoss', gan_type='vanilla'),
    dict(type='GANLoss', gan_type='lsgan'),
    dict(type='GANLoss', gan_type='hinge'),
    dict(type='MultiScaleL1Loss'),
])
@pytest.mark.parametrize('is_disc', [True, False])
def test_loss_weight_scaling(loss_cfg, is_disc):
    real, fake = _inputs()
    base = MODELS.build(loss_cfg)(real, fake, is_disc)
    scaled = MODELS.build(dict(loss_cfg, loss_weight=0.025))(real, fake,
                                                             is_disc)
    assert scaled.item() == pytest.approx(0.025 * base.item(), rel=1e-6)


@pytest.mark.parametrize('loss_cfg', [
    dict(type='GANLoss', gan_type='vanilla'),
    dict(type='GANLoss', gan_type='lsgan'),
    dict(type='GANLoss', gan_type='hinge'),
    dict(type='MultiScaleL1Loss'),
])
@pytest.mark.parametrize('is_disc', [True, False])
@pytest.mark.parametrize('dim', [1, 37])
def test_no_positives(loss_cfg, is_disc, dim):
    loss_fn = MODELS.build(loss_cfg)
    real = torch.zeros(0, dim, requires_grad=True)
    fake = torch.zeros(0, dim, requires_grad=True)
    loss = loss_fn(real, fake, is_disc)
    assert loss.dim() == 0
    assert torch.isfinite(loss) and loss.item() == 0
    assert loss.requires_grad
    loss.backward()
    assert fake.grad is not None and fake.grad.shape == (0, dim)
    assert loss_fn.scores(real, fake) == {}


def test_no_positives_through_discriminator():
    """An empty batch through a discriminator and a loss still gives a
    graph reaching the discriminator's parameters."""
    disc = small_box_discriminator()
    loss_fn = GANLoss()
    x = torch.zeros(0, 8, 16, 16)
    loss = loss_fn(disc(x), disc(x), is_disc=True)
    loss.backward()
    assert loss.item() == 0
    assert all(p.grad is not None for p in disc.parameters())


def test_unknown_gan_type():
    with pytest.raises(ValueError) as err:
        MODELS.build(dict(type='GANLoss', gan_type='wgan'))
    msg = str(err.value)
    assert "'wgan'" in msg
    for name in ('vanilla', 'lsgan', 'hinge'):
        assert name in msg


def test_scores():
    real, fake = _inputs()
    scores = GANLoss('vanilla').scores(real, fake)
    sig = [1 / (1 + math.exp(-v)) for v in (0.5, -1.0, 2.0, 0.0)]
    assert set(scores) == {'score_real', 'score_fake'}
    assert not any('loss' in k for k in scores)
    assert scores['score_real'].item() == pytest.approx((sig[0] + sig[1]) / 2)
    assert scores['score_fake'].item() == pytest.approx((sig[2] + sig[3]) / 2)
    assert not scores['score_real'].requires_grad
    raw = GANLoss('lsgan').scores(real, fake)
    assert raw['score_real'].item() == pytest.approx(-0.25)
    assert raw['score_fake'].item() == pytest.approx(1.0)
    assert MultiScaleL1Loss().scores(real, fake) == {}
    score_real, score_fake = discriminator_scores(real, fake)
    assert score_real.item() == pytest.approx((sig[0] + sig[1]) / 2)
    with pytest.raises(ValueError, match='non-empty'):
        discriminator_scores(torch.zeros(0, 1), fake)


def test_with_discriminators_end_to_end():
    """Box branch with BCE, mask branch with multi-scale L1: D and G losses
    both reach the discriminators' parameters and the fake inputs."""
    torch.manual_seed(0)
    box_d = MODELS.build(
        dict(
            type='BoxDiscriminator',
            in_channels=8,
            base_channels=4,
            roi_size=28)).train()
    mask_d = MODELS.build(
        dict(
            type='MaskDiscriminator',
            in_channels=8,
            base_channels=4,
            roi_size=28)).train()
    box_loss = MODELS.build(dict(type='GANLoss', loss_weight=0.025))
    mask_loss = MODELS.build(dict(type='MultiScaleL1Loss', loss_weight=0.5))
    real = torch.rand(3, 8, 28, 28)
    fake = torch.rand(3, 8, 28, 28, requires_grad=True)
    loss_g = (
        box_loss(box_d(real), box_d(fake), is_disc=False) +
        mask_loss(mask_d(real), mask_d(fake), is_disc=False))
    loss_g.backward()
    assert fake.grad.abs().sum() > 0
    box_d.zero_grad()
    mask_d.zero_grad()
    loss_d = (
        box_loss(box_d(real), box_d(fake.detach()), is_disc=True) +
        mask_loss(mask_d(real), mask_d(fake.detach()), is_disc=True))
    assert torch.isfinite(loss_d)
    loss_d.backward()
    for p in list(box_d.parameters()) + list(mask_d.parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all()
