# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The steps a training benchmark runs: training, inference, and a training
step with the profiler ranges a stock detector does not emit."""
from typing import Callable, Dict

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
