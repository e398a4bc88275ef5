# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Gradient accumulation (``optim_wrapper.accumulative_counts``) in the
game: the non-finite ``'skip'`` policy drops only the bad batch, and the
discriminator's window counts its own backward passes."""
from unittest import mock

import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmdet_gan.models.game import AdversarialGame
from mmdet_gan.utils.players import GENERATOR


def scalar_player(accumulative_counts: int, max_counts: int):
    """One parameter at 0, SGD with lr 1: after a step it holds minus the
    summed (scaled) gradients."""
    module = nn.Module()
    module.param = nn.Parameter(torch.zeros(()))
    wrapper = OptimWrapper(
        torch.optim.SGD(module.parameters(), lr=1.),
        accumulative_counts=accumulative_counts)
    wrapper.initialize_count_status(module, 0, max_counts)
    return module, wrapper


def play(game, module, wrapper, factors):
    """One ``_update_params`` per batch, with loss ``factor * param`` (so
    the batch's gradient is ``factor``; NaN for a bad batch)."""
    for it, factor in enumerate(factors):
        loss = module.param * factor
        game._update_params(wrapper, loss, module.parameters(), GENERATOR, it)


def test_skipped_batch_keeps_the_window_of_the_other_batches():
    module, wrapper = scalar_player(accumulative_counts=2, max_counts=4)
    play(
        AdversarialGame(nonfinite_loss='skip'), module, wrapper,
        [1., float('nan'), 1., 1.])
    # window 1: (1 + nothing) / 2; window 2: (1 + 1) / 2
    assert module.param.item() == pytest.approx(-1.5)
    assert wrapper.inner_count == 4


def test_window_of_skipped_batches_does_not_step():
    module, wrapper = scalar_player(accumulative_counts=2, max_counts=4)
    with mock.patch.object(wrapper, 'step', wraps=wrapper.step) as step:
        play(
            AdversarialGame(nonfinite_loss='skip'), module, wrapper,
            [float('nan'), float('nan'), 1., 1.])
    assert step.call_count == 1
    assert module.param.item() == pytest.approx(-1.)


def test_discriminator_window_starts_at_disc_start_iter():
    """The runner starts the count at the iteration; D's backward passes
    begin at ``disc_start_iter``, so its count is moved back by that much
    (once) and its last window still steps."""
    game = AdversarialGame(disc_start_iter=3)
    module, wrapper = scalar_player(accumulative_counts=4, max_counts=10)
    wrapper.initialize_count_status(module, 5, 10)  # resumed at iter 5
    game._align_discriminator_counts(module, wrapper)
    assert (wrapper._inner_count, wrapper._max_counts) == (2, 7)
    game._align_discriminator_counts(module, wrapper)  # once only
    assert (wrapper._inner_count, wrapper._max_counts) == (2, 7)
    # iterations 5..9 are D's passes 3..7: one step at 4, one at 7 (the
    # last, partial window of 3 passes, each scaled by 1/3)
    with mock.patch.object(wrapper, 'step', wraps=wrapper.step) as step:
        play(game, module, wrapper, [1.] * 5)
    assert step.call_count == 2
    assert module.param.item() == pytest.approx(-(2 / 4 + 3 / 3))
    # a new run (the runner initialises again) is aligned again
    wrapper.initialize_count_status(module, 0, 10)
    game._align_discriminator_counts(module, wrapper)
    assert (wrapper._inner_count, wrapper._max_counts) == (0, 7)


def test_discriminator_without_accumulation_is_left_alone():
    game = AdversarialGame(disc_start_iter=3, disc_steps=2)
    module, wrapper = scalar_player(accumulative_counts=1, max_counts=10)
    wrapper.initialize_count_status(module, 5, 10)
    game._align_discriminator_counts(module, wrapper)
    assert (wrapper._inner_count, wrapper._max_counts) == (5, 10)


def test_several_disc_steps_cannot_accumulate():
    game = AdversarialGame(disc_steps=2)
    module, wrapper = scalar_player(accumulative_counts=2, max_counts=10)
    with pytest.raises(
            ValueError,
            match=r'disc_steps=2.*accumulative_counts'
            r'=2.*Set gan_cfg.disc_steps=1'):
        game._align_discriminator_counts(module, wrapper)
