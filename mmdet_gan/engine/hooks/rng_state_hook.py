"""Save the random number generators in checkpoints; restore them on resume."""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

#: Checkpoint key of the saved states.
RNG_STATE_KEY = 'rng_state'


def get_rng_state() -> dict:
    """The states of the generators a training process draws from.

    Returns:
        dict: ``python`` (``random.getstate()``), ``numpy``
        (``np.random.get_state()``: a tuple holding a uint32 ndarray),
        ``torch`` (CPU ``ByteTensor``) and ``cuda`` (the current device's
        ``ByteTensor``, or None when CUDA is not initialised). Every value
        loads with ``torch.load(weights_only=True)`` under the allow-list of
        :mod:`mmdet_gan.utils.checkpoint_safety`.
    """
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state()
    return dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
        cuda=cuda)


def set_rng_state(state: dict) -> None:
    """Restore states returned by :func:`get_rng_state` (tensors may come
    back on another device: ``--resume`` maps checkpoints to the GPU)."""
    random.setstate(_as_tuple(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    if state.get('cuda') is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())


def _as_tuple(value):
    """``random.setstate`` needs tuples all the way down."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(v) for v in value)
    return value


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make ``--resume`` continue the random streams of the interrupted run.

    MMEngine checkpoints hold the weights, optimizers, schedulers and the
    message hub, but not the generators: a resumed run re-seeds them from
    ``randomness.seed``, so the data augmentation (python / numpy), the RoI
    samplers and the data loader's base seed (torch) of the epochs after
    the checkpoint differ from the uninterrupted run's. This hook saves the
    python, numpy, torch CPU and current-CUDA-device states into every
    checkpoint (``checkpoint['rng_state']``) and, when training resumes from
    it, restores them at the start of the first epoch run after loading
    (after everything the runner seeds or initialises when it is built), so
    a resumed epoch-based run draws what the uninterrupted run drew.

    Limits:

    - Checkpoints are written by rank 0 only, so in distributed training the
      states are not restored (each process keeps the seeded ones; a warning
      says so).
    - Data loader workers re-seed themselves (``worker_init_fn``) and are
      not checkpointed: with ``persistent_workers=True`` a resumed epoch
      restarts them, so worker-side augmentation differs from the
      uninterrupted run. ``num_workers=0`` or non-persistent workers are
      exact.
    - Exact for checkpoints saved at the end of an epoch (``CheckpointHook``
      with ``by_epoch=True``, MMDetection's default). Iteration-based loops
      resume mid-epoch by re-reading (and re-augmenting) the skipped
      batches, and epoch-based loops restart a checkpointed epoch from its
      first batch: both draw random numbers the uninterrupted run did not
      draw at that point, so they are reproducible but not exact.

    A checkpoint without ``rng_state`` (written without this hook) resumes
    as before, with seeded generators. ``load_from`` without ``resume``
    never restores the states.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add ``rng_state`` (see :func:`get_rng_state`) to ``checkpoint``."""
        checkpoint[RNG_STATE_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the saved states until the loop starts (restoring now would
        be undone by what the runner does after loading, e.g. re-seeding
        when the checkpoint's seed differs from the config's)."""
        state = checkpoint.get(RNG_STATE_KEY)
        meta = checkpoint.get('meta', {})
        if state is None:
            self._pending = None
            print_log(
                'The checkpoint has no random generator states (it was '
                'saved without RNGStateHook): the run continues from the '
                'seeded generators.',
                logger='current')
            return
        self._pending = dict(
            state=state, epoch=meta.get('epoch'), iter=meta.get('iter'))

    def before_train_epoch(self, runner) -> None:
        """Restore the saved states if this epoch continues the checkpoint
        (a resume, not a ``load_from`` fine-tune)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if (runner.epoch, runner.iter) != (pending['epoch'], pending['iter']):
            return
        if get_world_size() > 1:
            print_log(
                'RNGStateHook: the checkpoint holds rank 0\'s generator '
                'states only; in distributed training every process keeps '
                'its seeded generators.',
                logger='current',
                level=logging.WARNING)
            return
        set_rng_state(pending['state'])
        print_log(
            f'Restored the random generator states of epoch '
            f'{runner.epoch}, iteration {runner.iter}.',
            logger='current')
