# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Floating-point operations of a training step, counted by torch's
``FlopCounterMode``: a cost that does not depend on the machine, its load or
its threads.

The counter knows the matrix products and the convolutions (forward and
backward), which are most of a detector's arithmetic; element-wise ops,
the RoI pooling (RoIAlign, our prRoIPool extension), the mask targets and
the optimizer steps count 0. With the same work (``--same-work``: the same
proposals and RoIs), the GAN's count less the baseline's is therefore what
the discriminators' convolutions add (forward, their weights' backward and
the generator's backward through them); the uncounted work of the branch
(pooling, its backward, element-wise products) only adds to it.
"""
from typing import Callable

from torch.utils.flop_counter import FlopCounterMode


def step_flops(step: Callable[[], object]) -> int:
    """The counted FLOPs of ``step()`` (e.g. one training step)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())
