# Copyright (c) mmdet-gan contributors. All rights reserved.
import math
import os.path as osp

import pytest
import torch

from mmdet_gan.benchmark import train
from mmdet_gan.benchmark.flops import step_flops

RATIOS = dict(
    train_time_ratio=1.1,
    train_cpu_ratio=1.0,
    infer_time_ratio=None,
    memory_ratio=1.2)


def test_check_ratios():
    train.check_ratios(RATIOS)  # no inference timed: None is fine
    for key in RATIOS:
        for bad in (0., -1., math.inf, math.nan):
            with pytest.raises(RuntimeError, match=key):
                train.check_ratios(dict(RATIOS, **{key: bad}))


def test_display_path(tmp_path):
    root = str(tmp_path)
    inside = osp.join(root, 'configs', 'a.py')
    assert train._display_path(inside, root) == osp.join('configs', 'a.py')
    outside = osp.join(root + 'x', 'a.py')  # a sibling with the same start
    assert train._display_path(outside, root) == outside
    assert train._display_path(inside, None) == inside


def test_step_flops_counts_forward_and_backward():
    """A linear layer: 2 * n * in * out FLOPs forward, twice that backward
    (the input's and the weight's gradients)."""
    layer = torch.nn.Linear(8, 4, bias=False)
    x = torch.randn(3, 8, requires_grad=True)
    assert step_flops(lambda: layer(x)) == 2 * 3 * 8 * 4
    assert step_flops(lambda: layer(x).sum().backward()) == 3 * 2 * 3 * 8 * 4
