# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Timing helper shared by the benchmark tools."""
import math
import time
from typing import Callable

import torch


def best_time(fn: Callable[[], None], repeat: int, device: str) -> float:
    """Best wall time of ``repeat`` calls of ``fn``, after one warm-up call.

    Args:
        fn (callable): The work to time; takes no argument.
        repeat (int): Number of timed calls (>= 1).
        device (str): ``'cuda'`` synchronises the GPU around each call so
            that its queued kernels are counted; anything else does not.

    Returns:
        float: The shortest time of one call, in seconds.
    """
    if repeat < 1:
        raise ValueError(f'best_time needs repeat >= 1, got {repeat}')

    def sync():
        if str(device).startswith('cuda'):
            torch.cuda.synchronize()

    fn()
    sync()
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best
