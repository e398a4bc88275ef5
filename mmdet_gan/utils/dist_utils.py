"""Gradient synchronisation for models that step several optimizers."""
from typing import Iterable

import torch
from mmengine.dist import all_reduce_params, get_world_size
from torch import nn


def all_reduce_grads(params: Iterable[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over all processes (no-op when
    not distributed).

    Parameters without a gradient on this process get a zero gradient first,
    so every process reduces the same list of tensors in the same order
    (e.g. a rank whose batch had no positives still takes part).
    """
    if get_world_size() <= 1:
        return
    grads = []
    for param in params:
        if not param.requires_grad:
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        grads.append(param.grad)
    if grads:
        all_reduce_params(grads, op='mean')
