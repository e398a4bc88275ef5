# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The steps a training benchmark runs: training, inference, and a training
step with the profiler ranges a stock detector does not emit."""
import contextlib
from typing import Callable, Dict, Iterator

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from torch import Tensor

from mmdet_gan.utils.profiling import (FORWARD, G_UPDATE, TRAIN_STEP,
                                       profile_range)


def has_stock_train_step(model: BaseModel) -> bool:
    """Whether ``model`` trains with MMEngine's ``BaseModel.train_step``
    (a stock detector such as ``MaskRCNN``, unlike ``GANMaskRCNN``)."""
    return type(model).train_step is BaseModel.train_step


def ranged_train_step(model: BaseModel, data: dict,
                      optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
    """``BaseModel.train_step`` with profiler ranges around its calls.

    The same calls in the same order as MMEngine's
    ``BaseModel.train_step``; the forward (``mode='loss'``) runs in a
    ``mmdet_gan::forward`` range and ``optim_wrapper.update_params`` in a
    ``mmdet_gan::g_update`` one, so a stock detector's step breaks down like
    a GAN step. The model itself is not touched.

    Args:
        model (BaseModel): a model with the stock ``train_step`` (see
            :func:`has_stock_train_step`).
        data (dict): a batch from the dataloader.
        optim_wrapper (OptimWrapper): its wrapper.

    Returns:
        dict[str, Tensor]: the log variables.
    """
    with optim_wrapper.optim_context(model):
        data = model.data_preprocessor(data, True)
        with profile_range(FORWARD):
            losses = model._run_forward(data, mode='loss')
    parsed_losses, log_vars = model.parse_losses(losses)
    with profile_range(G_UPDATE):
        optim_wrapper.update_params(parsed_losses)
    return log_vars


def train_step_fn(model: BaseModel,
                  optim_wrapper: OptimWrapper,
                  ranged: bool = False) -> Callable[[dict], object]:
    """One training step of ``model`` on a batch.

    Args:
        model (BaseModel): the model, in train mode.
        optim_wrapper (OptimWrapper | OptimWrapperDict): its wrapper(s).
        ranged (bool): emit the step's profiler ranges: the whole call in a
            ``mmdet_gan::train_step`` range, and for a model with the stock
            ``train_step`` :func:`ranged_train_step` instead of it (a model
            with its own ``train_step`` emits its own ranges).

    Returns:
        callable: ``step(data)``.
    """
    if not ranged:
        return lambda data: model.train_step(data, optim_wrapper)
    stock = has_stock_train_step(model)

    def step(data: dict) -> object:
        with profile_range(TRAIN_STEP):
            if stock:
                return ranged_train_step(model, data, optim_wrapper)
            return model.train_step(data, optim_wrapper)

    return step


def infer_step_fn(model: BaseModel) -> Callable[[dict], object]:
    """One inference step of ``model`` (``test_step`` without autograd)."""

    def step(data: dict) -> object:
        with torch.no_grad():
            return model.test_step(data)

    return step


@contextlib.contextmanager
def counting_adversarial_samples(model: BaseModel) -> Iterator[Dict[str, int]]:
    """Count the discriminators' samples of the GAN steps run in the block.

    The cost of the adversarial branch grows with the number of positives
    it judges (all of them in the reference branch), which the data and the
    generator's state decide, so a benchmark reports it next to the
    memory. The model's ``forward_generator`` is wrapped by an instance
    attribute for the block (removed at its end); a stock detector has
    none, and the counts stay empty.

    Yields:
        dict[str, int]: per branch (``'box'``, ``'mask'``), the samples
        summed over the steps (and over a cascade's judged stages).
    """
    counts: Dict[str, int] = {}
    forward = getattr(model, 'forward_generator', None)
    if forward is None:
        yield counts
        return

    def counted(*args, **kwargs):
        losses, samples = forward(*args, **kwargs)
        for branch in samples.branches():
            counts[branch] = counts.get(branch, 0) + sum(
                pair.num_samples for pair in samples[branch])
        return losses, samples

    model.forward_generator = counted
    try:
        yield counts
    finally:
        del model.forward_generator
