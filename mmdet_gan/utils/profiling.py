# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Names of the ``torch.profiler`` ranges a GAN training step emits.

:class:`~mmdet_gan.models.AdversarialGame` and the adversarial RoI heads
(:class:`~mmdet_gan.models.AdversarialHeadMixin`) wrap the pieces of their
training step in :func:`profile_range` (``torch.profiler.record_function``):
without a running profiler a range costs about a microsecond and changes
nothing; under ``torch.profiler.profile`` each one is an event named as
below, which ``mmdet_gan.benchmark.pieces`` turns into the step breakdown of
``tools/analysis_tools/benchmark_train.py``. Every name starts with
:data:`RANGE_PREFIX`.

Nesting in a ``generator_first`` step (one shared discriminator forward)::

    train_step
      forward                        forward_generator (Mask R-CNN's loss)
        mask_targets                 mask_head.get_targets (once: the stock
                                     mask loss's, recorded for the mask D)
        adv_box_inputs               add_box_samples
          pool_box                   prRoIPool of the real and fake boxes
        adv_mask_inputs              add_mask_samples
          pool_mask                  prRoIPool of the mask positives
      d_forward                      discriminate (every call)
      d_backward, g_backward         each player's backward
      g_step, d_step                 each player's clip + step
"""
from torch.profiler import record_function

from .players import DISCRIMINATOR, GENERATOR

#: Prefix of every range name of this project.
RANGE_PREFIX = 'mmdet_gan::'

#: ``AdversarialGame.train_step``: the whole iteration.
TRAIN_STEP = RANGE_PREFIX + 'train_step'
#: ``GANDetectorMixin.forward_generator``: the detector's training forward
#: with the discriminators' inputs.
FORWARD = RANGE_PREFIX + 'forward'
#: ``AdversarialHeadMixin.add_box_samples``.
ADV_BOX_INPUTS = RANGE_PREFIX + 'adv_box_inputs'
#: Pooling of the real and fake boxes for the box discriminator.
POOL_BOX = RANGE_PREFIX + 'pool_box'
#: ``AdversarialHeadMixin.add_mask_samples``.
ADV_MASK_INPUTS = RANGE_PREFIX + 'adv_mask_inputs'
#: Pooling of the positives' features for the mask discriminator.
POOL_MASK = RANGE_PREFIX + 'pool_mask'
#: The mask targets (the mask loss's and the mask discriminator's real
#: samples, computed once).
MASK_TARGETS = RANGE_PREFIX + 'mask_targets'
#: ``AdversarialGame.discriminate``: the discriminators' forward.
D_FORWARD = RANGE_PREFIX + 'd_forward'
#: The generator's backward (through the discriminators and the prRoIPool
#: coordinates).
G_BACKWARD = RANGE_PREFIX + 'g_backward'
#: The generator's gradient reduction, clip and optimizer step.
G_STEP = RANGE_PREFIX + 'g_step'
#: The discriminator's backward.
D_BACKWARD = RANGE_PREFIX + 'd_backward'
#: The discriminator's gradient reduction, clip and optimizer step.
D_STEP = RANGE_PREFIX + 'd_step'
#: Backward + step of a model without separate ranges for them (a stock
#: detector's ``optim_wrapper.update_params``, ranged by the benchmark).
G_UPDATE = RANGE_PREFIX + 'g_update'

#: Backward and step range of each player of the game.
BACKWARD_RANGES = {GENERATOR: G_BACKWARD, DISCRIMINATOR: D_BACKWARD}
STEP_RANGES = {GENERATOR: G_STEP, DISCRIMINATOR: D_STEP}

#: Every range name above.
RANGE_NAMES = (TRAIN_STEP, FORWARD, ADV_BOX_INPUTS, POOL_BOX, ADV_MASK_INPUTS,
               POOL_MASK, MASK_TARGETS, D_FORWARD, G_BACKWARD, G_STEP,
               D_BACKWARD, D_STEP, G_UPDATE)


def profile_range(name: str) -> record_function:
    """A ``torch.profiler`` range around a block.

    Args:
        name (str): the range's name, one of :data:`RANGE_NAMES`.

    Returns:
        torch.profiler.record_function: a context manager; the block runs
        unchanged, and under a running profiler it is recorded as an event
        named ``name``.
    """
    return record_function(name)
