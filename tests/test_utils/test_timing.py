# Copyright (c) mmdet-gan contributors. All rights reserved.
import time

import pytest

from mmdet_gan.utils.timing import best_time


def test_best_time_is_the_shortest_timed_call():
    sleeps = iter([0.05, 0.03, 0.001, 0.02])  # the first one is the warm-up
    calls = []

    def work():
        calls.append(1)
        time.sleep(next(sleeps))

    best = best_time(work, repeat=3, device='cpu')
    assert len(calls) == 4
    assert 0.001 <= best < 0.02


def test_best_time_needs_a_repeat():
    with pytest.raises(ValueError, match='repeat >= 1'):
        best_time(lambda: None, repeat=0, device='cpu')
