"""Gradient and state synchronisation for models that step several
optimizers."""
from collections import OrderedDict
from typing import Iterable, List

import torch
import torch.distributed as torch_dist
from mmengine.dist import all_reduce, all_reduce_params, get_world_size
from torch import Tensor, nn


def all_reduce_grads(params: Iterable[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over all processes, as DDP does
    (no-op when not distributed).

    A parameter that no process computed a gradient for keeps
    ``grad=None``, so its optimizer skips it (no momentum or weight-decay
    update), exactly as in a single process. A parameter that some
    processes used gets a zero gradient on the others first, and the mean
    is over all processes (what one big batch would give). Costs one small
    all-reduce of the "used" flags plus MMEngine's bucketed all-reduce of
    the gradients.
    """
    if get_world_size() <= 1:
        return
    params = [param for param in params if param.requires_grad]
    if not params:
        return
    used = torch.tensor([param.grad is not None for param in params],
                        dtype=torch.float32,
                        device=params[0].device)
    all_reduce(used, op='sum')
    grads = []
    for param, num_users in zip(params, used.tolist()):
        if num_users == 0:
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        grads.append(param.grad)
    if grads:
        all_reduce_params(grads, op='mean')


def broadcast_coalesced(tensors: Iterable[Tensor], src: int = 0) -> int:
    """Broadcast ``tensors`` from ``src`` in place, with one collective per
    (device, dtype) group instead of one per tensor.

    Args:
        tensors (Iterable[Tensor]): e.g. a model's buffers.
        src (int): The rank whose values everyone takes.

    Returns:
        int: The number of collectives issued (0 when not distributed).
    """
    if get_world_size() <= 1:
        return 0
    groups: 'OrderedDict[tuple, List[Tensor]]' = OrderedDict()
    for tensor in tensors:
        if tensor.numel():
            groups.setdefault((tensor.device, tensor.dtype), []).append(tensor)
    for group in groups.values():
        flat = torch.cat([tensor.detach().reshape(-1) for tensor in group])
        torch_dist.broadcast(flat, src=src)
        offset = 0
        with torch.no_grad():
            for tensor in group:
                tensor.copy_(flat[offset:offset +
                                  tensor.numel()].view_as(tensor))
                offset += tensor.numel()
    return len(groups)
