# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Rounds that repeat the same work: every model back in one saved state,
the generators' weights shared, and the RNGs at one seed per batch.

Without it, the work of the two models drifts apart from the first step:
the GAN's generator gets other gradients, so within a few steps its
proposals, its sampled RoIs and its number of positives differ from the
baseline's, and since both draw from the global RNG, one model's draws
shift the other's sampling. A round's time then mixes the adversarial cost
with a different workload: on the demo data the time ratio of one config
moved between 1.04 and 1.10 from one idle run to the next (machine D,
``docs/benchmarks.md``).

With :class:`SameWorkReplay`, every round on batch ``b`` starts each model
from the state saved after the warm-up, with the generator's weights copied
from the baseline, and every RNG seeded with ``seed + b``: the generator and
the baseline sample the same proposals and RoIs, every repeat of a batch
does the same work, and the ratio measures the adversarial part alone.
"""
import copy
from typing import Dict

from mmengine.optim import OptimWrapper
from mmengine.runner import set_random_seed
from torch import nn


class SameWorkReplay:
    """Saves the models' and optim wrappers' states and restores them, with
    the RNGs reseeded, before each round (``prepare`` of
    ``timing.run_interleaved`` and ``pieces.profile_interleaved``).

    Args:
        models (dict[str, nn.Module]): ``{role: model}``.
        wrappers (dict[str, OptimWrapper]): ``{role: optim wrapper}`` (an
            ``OptimWrapperDict`` for the GAN).
        reference (str): the role whose weights every other model takes for
            the parameters and buffers of the same name (the baseline: the
            GAN model's generator takes its weights; its discriminators keep
            their own).
        seed (int): round ``b``'s RNG seed is ``seed + b``.

    Raises:
        ValueError: if a model lacks one of the reference's tensors (its
            generator is not the reference's architecture), naming them.
    """

    def __init__(self, models: Dict[str, nn.Module],
                 wrappers: Dict[str, OptimWrapper], reference: str,
                 seed: int) -> None:
        shared = models[reference].state_dict()
        for role, model in models.items():
            if role == reference:
                continue
            own = model.state_dict()
            missing = [
                name for name, value in shared.items()
                if name not in own or own[name].shape != value.shape
            ]
            if missing:
                raise ValueError(
                    f'SameWorkReplay: the {role} model has no tensor of '
                    f'the {reference} model\'s name and shape for '
                    f'{missing[:5]} ({len(missing)} in all): the two '
                    'generators must be the same architecture')
            model.load_state_dict(shared, strict=False)
        self.models = models
        self.wrappers = wrappers
        self.seed = seed
        self._model_states = {
            role: copy.deepcopy(model.state_dict())
            for role, model in models.items()
        }
        self._wrapper_states = {
            role: copy.deepcopy(wrapper.state_dict())
            for role, wrapper in wrappers.items()
        }

    def __call__(self, role: str, batch_index: int) -> None:
        """Put ``role``'s model and optim wrapper back into the saved state
        and seed every RNG for batch ``batch_index``."""
        self.models[role].load_state_dict(self._model_states[role])
        self.wrappers[role].load_state_dict(
            copy.deepcopy(self._wrapper_states[role]))
        set_random_seed(self.seed + batch_index)
