"""The mask branch's samples kept as factors: same values and gradients as
the plain products, and the products are not kept by the graph."""
import gc
import weakref

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from mmdet_gan.models.losses import MultiScaleL1Loss
from mmdet_gan.models.roi_heads import AdversarialPair, MaskedFeaturesPair

register_all_modules()


def _factors(seed=0, n=5, channels=8, size=16):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, channels, size, size, generator=gen)
    real_masks = (torch.rand(n, size, size, generator=gen) > 0.5).float()
    logits = torch.randn(n, size, size, generator=gen, requires_grad=True)
    return feats, real_masks, logits


def _discriminator():
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MaskDiscriminator',
            in_channels=8,
            roi_size=16,
            base_channels=4)).train()


def _step(pair, disc, detach=False):
    """One loss of both players through the discriminator, as the game
    builds it: (generator's loss, discriminator's loss)."""
    with pair.saved_as_factors():
        real, fake = pair.samples(detach)
        out_real, out_fake = disc(real), disc(fake)
    return MultiScaleL1Loss().game_losses(out_real, out_fake)


@pytest.mark.parametrize('detach', [False, True])
def test_factored_pair_gives_the_products_values_and_gradients(detach):
    feats, real_masks, logits = _factors()
    results = []
    for factored in (True, False):
        disc = _discriminator()
        fake_masks = logits.sigmoid()
        if factored:
            pair = MaskedFeaturesPair(feats, real_masks, fake_masks)
        else:
            pair = AdversarialPair(feats * real_masks[:, None],
                                   feats * fake_masks[:, None])
        logits.grad = None
        gen_loss, disc_loss = _step(pair, disc, detach)
        disc_loss.backward(inputs=list(disc.parameters()), retain_graph=True)
        disc_grads = [p.grad.clone() for p in disc.parameters()]
        if not detach:
            gen_loss.backward(inputs=[logits])
        results.append((gen_loss.detach(), disc_grads, logits.grad))
    (gen_a, disc_a, logit_a), (gen_b, disc_b, logit_b) = results
    torch.testing.assert_close(gen_a, gen_b)
    for grad_a, grad_b in zip(disc_a, disc_b):
        torch.testing.assert_close(grad_a, grad_b)
    if detach:
        assert logit_a is None and logit_b is None
    else:
        assert logit_a is not None and logit_a.abs().sum() > 0
        torch.testing.assert_close(logit_a, logit_b)


def test_the_graph_does_not_keep_the_products():
    """Between the forward and the backward pass only the factors live:
    the (n, C, S, S) products the discriminator's first conv saved are
    made again when the backward pass needs them."""
    feats, real_masks, logits = _factors()
    pair = MaskedFeaturesPair(feats, real_masks, logits.sigmoid())
    disc = _discriminator()
    refs = []
    with pair.saved_as_factors():
        real, fake = pair.samples()
        refs += [weakref.ref(real), weakref.ref(fake)]
        out_real, out_fake = disc(real), disc(fake)
    gen_loss, disc_loss = MultiScaleL1Loss().game_losses(out_real, out_fake)
    del real, fake, out_real, out_fake
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    disc_loss.backward(inputs=list(disc.parameters()), retain_graph=True)
    gen_loss.backward(inputs=[logits])
    assert logits.grad.abs().sum() > 0
    # made outside the block, a product is saved as it is
    real, fake = pair.samples()
    ref = weakref.ref(real)
    out = disc(real)
    del real, fake
    gc.collect()
    assert ref() is not None
    del out


def test_real_and_fake_properties():
    feats, real_masks, logits = _factors()
    fake_masks = logits.sigmoid()
    pair = MaskedFeaturesPair(feats, real_masks, fake_masks)
    torch.testing.assert_close(pair.real, feats * real_masks[:, None])
    torch.testing.assert_close(pair.fake, feats * fake_masks[:, None])
    assert pair.fake.requires_grad and not pair.samples(True)[1].requires_grad


@pytest.mark.parametrize('backward',
                         ['both_players', 'discriminator_only', 'none'])
def test_nothing_outlives_the_step(backward):
    """The saved-tensor hooks make no reference cycle: once a step's
    losses and samples are dropped, the features and the discriminator's
    activations are freed, also when a backward pass does not run some of
    the graph's nodes (the generator's pass skips D(real); a skipped
    non-finite step runs none). The discriminator's in-place LeakyReLU and
    BatchNorm save their outputs, which a pack hook returning the tensor
    itself would keep alive forever."""
    feats, real_masks, logits = _factors()
    disc = _discriminator()
    pair = MaskedFeaturesPair(feats, real_masks, logits.sigmoid())
    refs = [weakref.ref(feats)]
    with pair.saved_as_factors():
        real, fake = pair.samples()
        out_real, out_fake = disc(real), disc(fake)
    refs += [weakref.ref(t) for t in out_real + out_fake]
    gen_loss, disc_loss = MultiScaleL1Loss().game_losses(out_real, out_fake)
    if backward != 'none':
        disc_loss.backward(inputs=list(disc.parameters()), retain_graph=True)
    if backward == 'both_players':
        gen_loss.backward(inputs=[logits])
    del feats, pair, real, fake, out_real, out_fake, gen_loss, disc_loss
    gc.collect()
    assert [ref() is None for ref in refs] == [True] * len(refs)
