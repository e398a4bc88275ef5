# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Peak training memory: resident tensor bytes plus a step's peak.

Peak training memory = the bytes of the tensors a training run keeps between
iterations (parameters, their gradients, buffers, optimizer state; counted
directly) + the peak of the bytes one step allocates on top. On CPU the
latter is the peak of the running sum of the allocation and free events that
``torch.profiler`` records with ``profile_memory=True`` (tensors of
PyTorch's CPU allocator only: numpy buffers and the allocator's caching and
fragmentation are not counted, so it is not the process RSS); on CUDA it is
``torch.cuda.max_memory_allocated`` after a reset, minus the bytes allocated
before the step.
"""
from typing import Callable, Iterable, NamedTuple, Optional

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn
from torch.profiler import ProfilerActivity, profile

#: ``StepMemory.method`` on CPU and on CUDA.
CPU_METHOD = ('torch.profiler(profile_memory=True): peak running sum of '
              'CPU allocator alloc/free events during the step')
CUDA_METHOD = ('torch.cuda.max_memory_allocated - memory_allocated before '
               'the step')


class StepMemory(NamedTuple):
    """What :func:`step_peak_bytes` measured.

    Attributes:
        peak_bytes (int): the peak of the bytes the step allocated on top
            of those alive before it.
        method (str): how (:data:`CPU_METHOD` or :data:`CUDA_METHOD`).
        prof (torch.profiler.profile, optional): the CPU memory profile of
            the step (None on CUDA), e.g. for ``pieces.top_operators``.
    """
    peak_bytes: int
    method: str
    prof: Optional[profile]


def tensor_bytes(tensors: Iterable[object]) -> int:
    """Bytes of the storages of ``tensors``, each storage counted once.

    Args:
        tensors (Iterable): tensors (views of one storage count it once;
            meta tensors, empty storages and non-tensors count 0).

    Returns:
        int: the total ``untyped_storage().nbytes()``.
    """
    seen, total = set(), 0
    for tensor in tensors:
        if not isinstance(tensor,
                          torch.Tensor) or tensor.device.type == 'meta':
            continue
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), tensor.device)
        if key in seen or storage.data_ptr() == 0:
            continue
        seen.add(key)
        total += storage.nbytes()
    return total


def resident_bytes(model: nn.Module, optim_wrapper: OptimWrapper) -> int:
    """Bytes of the tensors a training run keeps between iterations.

    Args:
        model (nn.Module): the model.
        optim_wrapper (OptimWrapper | OptimWrapperDict): its optimizer
            wrapper(s).

    Returns:
        int: parameters, their gradients if any, buffers and the tensors of
        every optimizer's state (shared storages counted once).
    """
    wrappers = optim_wrapper.values() if isinstance(
        optim_wrapper, OptimWrapperDict) else [optim_wrapper]
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    for wrapper in wrappers:
        for state in wrapper.optimizer.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v)]
    return tensor_bytes(tensors)


def profiler_peak_bytes(prof: profile) -> int:
    """Peak of the running sum of a memory profile's CPU allocations.

    Args:
        prof (torch.profiler.profile): a finished profile made with
            ``profile_memory=True``.

    Returns:
        int: the peak, relative to the profile's start, of the running sum
        of the ``[memory]`` events (allocations positive, frees negative)
        of the CPU allocator, in time order.
    """
    try:
        events = prof.profiler.kineto_results.events()
    except AttributeError as err:  # pragma: no cover - torch internals
        raise RuntimeError(
            'this torch version does not expose the profiler\'s memory '
            'events (prof.profiler.kineto_results.events()); run on CUDA '
            'or update mmdet_gan/benchmark/memory.py') from err
    mem = sorted((e.start_ns(), e.nbytes()) for e in events
                 if e.name() == '[memory]'
                 and e.device_type() == torch.autograd.DeviceType.CPU)
    running = peak = 0
    for _, nbytes in mem:
        running += nbytes
        peak = max(peak, running)
    return peak


def step_peak_bytes(step: Callable[[], object],
                    device: torch.device) -> StepMemory:
    """Run ``step()`` once and measure the peak of what it allocates.

    Args:
        step (callable): one training step (no argument).
        device (torch.device): CUDA uses the caching allocator's peak
            statistics, anything else a CPU memory profile.

    Returns:
        StepMemory: the peak bytes, the method, and the CPU profile.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        return StepMemory(peak, CUDA_METHOD, None)
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    return StepMemory(profiler_peak_bytes(prof), CPU_METHOD, prof)
