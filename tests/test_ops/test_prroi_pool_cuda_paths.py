# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The CUDA-specific paths of Precise RoI Pooling: value checks without host
synchronisation in the backward, the multi-block coordinate backward for
few RoIs, and the determinism flag. The CUDA cases need a GPU (marker
``cuda``); the CPU case pins that ``check_values=False`` never skips the
checks on CPU, where they cost no synchronisation."""
import pytest
import torch

from mmdet_gan.ops import multi_level_max_prroi_pool, prroi_pool
from mmdet_gan.ops.prroi_pool import _load_ext


def make_case(device, num_rois=4, channels=8, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, channels, 20, 24, generator=gen, dtype=dtype)
    xy = torch.rand(num_rois, 2, generator=gen, dtype=dtype) * 60
    wh = torch.rand(num_rois, 2, generator=gen, dtype=dtype) * 30 + 4
    idx = torch.randint(0, 2, (num_rois, 1), generator=gen).to(dtype)
    rois = torch.cat([idx, xy, xy + wh], dim=1)
    return feats.to(device), rois.to(device)


def test_cpu_checks_values_even_when_told_not_to():
    feats, rois = make_case('cpu')
    rois[0, 1] = float('nan')
    grad = torch.zeros(rois.size(0), feats.size(1), 7, 7)
    for kwargs in (dict(), dict(check_values=False)):
        with pytest.raises(ValueError, match='NaN or Inf'):
            _load_ext().prroi_pool_backward(grad, feats, rois, 7, 7, 0.25,
                                            **kwargs)


@pytest.mark.cuda
def test_backward_has_no_host_sync():
    feats, rois = make_case('cuda')
    feats.requires_grad_(True)
    rois.requires_grad_(True)
    loss = prroi_pool(feats, rois, 7, 0.25).square().sum()
    levels = [feats, feats[:, :, ::2, ::2].contiguous()]
    fused = multi_level_max_prroi_pool(levels, rois, 7, [0.25, 0.125])
    loss = loss + fused.square().sum()
    torch.cuda.set_sync_debug_mode('error')
    try:
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(rois.grad).all() and rois.grad[:, 1:].abs().sum()


@pytest.mark.cuda
@pytest.mark.parametrize('num_rois', [1, 4, 700])
def test_coordinate_backward_matches_cpu(num_rois):
    """Few RoIs take the multi-block (atomic partial sums) path; many the
    one-block-per-RoI path; both equal the CPU gradient."""
    grads = {}
    for device in ('cpu', 'cuda'):
        feats, rois = make_case(
            device, num_rois=num_rois, channels=64, dtype=torch.float64)
        rois.requires_grad_(True)
        prroi_pool(feats, rois, 28, 0.25).sin().sum().backward()
        grads[device] = rois.grad.cpu()
    torch.testing.assert_close(grads['cuda'], grads['cpu'])


@pytest.mark.cuda
def test_determinism_flag():
    feats, rois = make_case('cuda', num_rois=3, channels=64)
    rois.requires_grad_(True)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        # the coordinate gradient has a deterministic path: bitwise equal
        results = []
        for _ in range(2):
            rois.grad = None
            prroi_pool(feats, rois, 28, 0.25).sum().backward()
            results.append(rois.grad.clone())
        assert torch.equal(results[0], results[1])
        # the feature gradient scatters with atomics: torch is told
        feats.requires_grad_(True)
        with pytest.raises(RuntimeError, match='prroi_pool_backward_cuda'):
            prroi_pool(feats, rois, 7, 0.25).sum().backward()
    finally:
        torch.use_deterministic_algorithms(previous)
