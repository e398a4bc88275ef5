# Copyright (c) mmdet-gan contributors. All rights reserved.
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch.profiler import ProfilerActivity, profile

from mmdet_gan.benchmark import memory

MiB = 2**20


def test_profiler_peak_bytes():
    """The CPU memory method sees a freed 4 MiB block as the peak."""
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        big = torch.ones(1024, 1024)  # 4 MiB
        del big
        small = torch.ones(256, 1024)  # 1 MiB, alive at the end
    peak = memory.profiler_peak_bytes(prof)
    assert 4 * MiB <= peak < 4 * MiB + 64 * 2**10
    assert small.numel() == 256 * 1024


def test_step_peak_bytes_on_cpu():

    def step():
        a = torch.ones(512, 1024)  # 2 MiB
        b = torch.ones(512, 1024)  # 2 MiB more: the peak
        del a, b
        return torch.ones(256, 1024)

    measured = memory.step_peak_bytes(step, torch.device('cpu'))
    assert 4 * MiB <= measured.peak_bytes < 4 * MiB + 64 * 2**10
    assert measured.method == memory.CPU_METHOD
    assert 'profile_memory' in measured.method
    assert measured.prof is not None


def test_tensor_bytes_counts_a_storage_once():
    x = torch.ones(10)
    assert memory.tensor_bytes([x, x[2:], x.view(2, 5), 'no tensor']) == 40
    assert memory.tensor_bytes([torch.ones(3, device='meta')]) == 0


def test_resident_bytes():
    model = torch.nn.Linear(10, 5)  # 55 floats
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert memory.resident_bytes(model, wrapper) == 55 * 4
    model(torch.ones(2, 10)).sum().backward()
    wrapper.step()  # gradients and momentum buffers
    assert memory.resident_bytes(model, wrapper) == 3 * 55 * 4
    # The state of every wrapper of a dict counts.
    other = torch.nn.Linear(2, 1)  # 3 floats, stateless SGD
    both = OptimWrapperDict(
        a=wrapper, b=OptimWrapper(torch.optim.SGD(other.parameters(), lr=0.1)))
    assert memory.resident_bytes(model, both) == 3 * 55 * 4
