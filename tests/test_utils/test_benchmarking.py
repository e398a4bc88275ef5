# Copyright (c) mmdet-gan contributors. All rights reserved.
import pytest
import torch

from mmdet_gan.utils import benchmarking
from mmdet_gan.utils.benchmarking import best_time, random_rois


def test_best_time_is_the_shortest_timed_call(monkeypatch):
    """A fake clock that each call advances by its own duration: the
    result does not depend on how loaded the machine is."""
    durations = iter([0.05, 0.03, 0.001, 0.02])  # the first is the warm-up
    clock = [100.0]
    monkeypatch.setattr(benchmarking.time, 'perf_counter', lambda: clock[0])

    def work():
        clock[0] += next(durations)

    best = best_time(work, repeat=3, device='cpu')
    assert next(durations, None) is None  # warm-up + 3 timed calls
    assert best == pytest.approx(0.001)


def test_best_time_needs_a_repeat():
    with pytest.raises(ValueError, match='repeat >= 1'):
        best_time(lambda: None, repeat=0, device='cpu')


def test_random_rois_are_in_the_image_with_the_asked_scales():
    gen = torch.Generator().manual_seed(0)
    rois = random_rois(500, (100, 300), (16., 64.), gen)
    assert rois.shape == (500, 5)
    assert (rois[:, 0] == 0).all()
    x1, y1, x2, y2 = rois[:, 1:].unbind(1)
    assert (x1 >= 0).all() and (x2 <= 300).all() and (x1 <= x2).all()
    assert (y1 >= 0).all() and (y2 <= 100).all() and (y1 <= y2).all()
    # before clipping, sqrt(w * h) is the scale: clipping only shrinks it
    side = ((x2 - x1) * (y2 - y1)).sqrt()
    assert side.max() <= 64. + 1e-4
    assert (side > 32.).any()
