# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Interleaved timing of training or inference steps, and their statistics.

Two (or more) models are run in turn on the same batch (GAN, baseline, GAN,
baseline, ...), so that the noise of a shared machine hits all of them; each
call is timed by the wall clock and by the process CPU time (all threads).
"""
import copy
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

#: A step: takes one batch (a fresh deep copy) and returns nothing useful.
StepFn = Callable[[dict], object]
#: Called untimed before a role's step: ``prepare(role, batch_index)``
#: (e.g. ``replay.SameWorkReplay``).
PrepareFn = Callable[[str, int], None]


def device_sync(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work.

    Args:
        device (torch.device): where the steps run.

    Returns:
        callable: ``torch.cuda.synchronize(device)`` on CUDA, a no-op
        elsewhere.
    """
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def stats(values: Sequence[float]) -> Dict[str, float]:
    """Median, quartiles and IQR of ``values``.

    Args:
        values (Sequence[float]): at least one number.

    Returns:
        dict: ``median``, ``q1``, ``q3``, ``iqr`` (``q3 - q1``), ``min``
        (floats, linear interpolation between the order statistics as
        ``numpy.percentile``) and ``n`` (int, the number of values).
    """
    arr = np.asarray(values, dtype=np.float64)
    q1, median, q3 = np.percentile(arr, [25, 50, 75])
    return dict(
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        iqr=float(q3 - q1),
        min=float(arr.min()),
        n=int(arr.size))


def run_interleaved(steps: Dict[str, StepFn],
                    batches: List[dict],
                    warmup: int,
                    iters: int,
                    sync: Callable[[], None],
                    prepare: Optional[PrepareFn] = None) -> Dict[str, dict]:
    """Time the steps of several roles in turn on the same batches.

    Round ``i`` runs ``steps[role]`` for every role, in the dict's order, on
    a fresh deep copy of ``batches[i % len(batches)]``; the first ``warmup``
    rounds are not recorded.

    Args:
        steps (dict[str, callable]): ``{role: step}``.
        batches (list[dict]): the batches, cycled.
        warmup (int): untimed rounds first.
        iters (int): timed rounds.
        sync (callable): waits for the device (see :func:`device_sync`);
            called before and after each timed call.
        prepare (callable, optional): ``prepare(role, i % len(batches))``
            before each step, outside the timed span.

    Returns:
        dict: ``times`` ``{role: [wall seconds]}`` and ``cpu_times``
        ``{role: [process CPU seconds, all threads]}``, ``iters`` values
        each.
    """
    times = {role: [] for role in steps}
    cpu_times = {role: [] for role in steps}
    for i in range(warmup + iters):
        index = i % len(batches)
        batch = batches[index]
        for role, step in steps.items():
            if prepare is not None:
                prepare(role, index)
            data = copy.deepcopy(batch)
            sync()
            start, cpu_start = time.perf_counter(), time.process_time()
            step(data)
            sync()
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            if i >= warmup:
                times[role].append(elapsed)
                cpu_times[role].append(cpu)
    return dict(times=times, cpu_times=cpu_times)
