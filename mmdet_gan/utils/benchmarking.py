# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Helpers shared by the benchmark tools: timing and random boxes."""
import math
import time
from typing import Callable, Tuple

import torch
from torch import Tensor


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


def random_rois(num: int, image_size: Tuple[int, int], scales: Tuple[float,
                                                                     float],
                generator: torch.Generator) -> Tensor:
    """(num, 5) boxes in one image: log-uniform scale in ``scales``, aspect
    ratio in [1/2, 2], centres uniform, clipped to the image."""
    img_h, img_w = image_size
    lo, hi = math.log(scales[0]), math.log(scales[1])
    scale = torch.exp(torch.rand(num, generator=generator) * (hi - lo) + lo)
    ratio = torch.exp(
        (torch.rand(num, generator=generator) - 0.5) * math.log(4))
    w, h = scale * ratio.sqrt(), scale / ratio.sqrt()
    cx = torch.rand(num, generator=generator) * img_w
    cy = torch.rand(num, generator=generator) * img_h
    return torch.stack([
        torch.zeros(num), (cx - w / 2).clamp(0, img_w),
        (cy - h / 2).clamp(0, img_h), (cx + w / 2).clamp(0, img_w),
        (cy + h / 2).clamp(0, img_h)
    ],
                       dim=1)
