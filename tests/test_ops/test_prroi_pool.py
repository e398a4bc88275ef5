# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Tests of mmdet_gan.ops.prroi_pool against an independent reference.

The reference integrates the bilinear surface numerically (midpoint rule,
thousands of samples per bin and axis) in float64 and gets its gradients by
autograd, so it shares no code or formula with the closed form.

Two CPU code paths are tested: the default separable driver (through the
public autograd function) and the "elementwise" driver, which runs the
per-output-element functions that the CUDA kernels run.
"""
import importlib
import sys

import numpy as np
import pytest
import torch
from torch.autograd import Function, gradcheck

import mmdet_gan
from mmdet_gan.ops import PrRoIPool, prroi_pool

prroi_pool_module = importlib.import_module('mmdet_gan.ops.prroi_pool')

ext = prroi_pool_module._load_ext()
requires_cuda = pytest.mark.cuda
#: the public op on CPU, and on CUDA where a GPU and the CUDA build are
DEVICES = ['cpu', pytest.param('cuda', marks=requires_cuda)]


# --------------------------------------------------------------------------
# Reference and helpers
# --------------------------------------------------------------------------
def _hat(t):
    return (1 - t.abs()).clamp(min=0)


def reference_prroi_pool(features,
                         rois,
                         output_size,
                         spatial_scale=1.0,
                         samples=2048):
    """Mean of the bilinear surface over each bin by the midpoint rule.

    f(x, y) = sum_ij F[j, i] k(x - i) k(y - j) is sampled at ``samples``
    points per bin and axis. Sampling is separable, so the mean of f over a
    bin is ``ay @ F @ ax.T`` with ``ax[p, i]`` the average of k(x_s - i) over
    the samples x_s of bin column p. Differentiable w.r.t. features and RoI
    coordinates. Zero-area bins give 0.
    """
    features = features.double()
    rois = rois.double()
    ph, pw = output_size
    _, channels, height, width = features.shape
    if rois.size(0) == 0:
        return features.new_zeros(0, channels, ph, pw)
    t = (torch.arange(samples, dtype=torch.float64) + 0.5) / samples
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale).unbind(1)
    bin_w = (x2 - x1).clamp(min=0) / pw
    bin_h = (y2 - y1).clamp(min=0) / ph
    # sample positions, (K, bins, samples)
    xs = x1[:, None,
            None] + (torch.arange(pw)[:, None] + t) * bin_w[:, None, None]
    ys = y1[:, None,
            None] + (torch.arange(ph)[:, None] + t) * bin_h[:, None, None]
    ax = _hat(xs[..., None] - torch.arange(width)).mean(2)  # (K, pw, W)
    ay = _hat(ys[..., None] - torch.arange(height)).mean(2)  # (K, ph, H)
    planes = features[rois[:, 0].long()]  # (K, C, H, W)
    out = torch.einsum('kph,kchw,kqw->kcpq', ay, planes, ax)
    valid = (bin_w > 0) & (bin_h > 0)
    return out * valid[:, None, None, None]


def reference_with_grads(features,
                         rois,
                         output_size,
                         spatial_scale,
                         grad_output,
                         samples=2048):
    x = features.detach().double().requires_grad_()
    r = rois.detach().double().requires_grad_()
    out = reference_prroi_pool(x, r, output_size, spatial_scale, samples)
    out.backward(grad_output.double())
    return out.detach(), x.grad, r.grad


class _ElementwisePrRoIPool(Function):
    """The public function's contract on the elementwise CPU driver."""

    @staticmethod
    def forward(ctx, features, rois, output_size, spatial_scale):
        ph, pw = output_size
        out = ext.prroi_pool_forward(
            features, rois, ph, pw, spatial_scale, elementwise=True)
        ctx.save_for_backward(features, rois, out)
        ctx.params = (ph, pw, spatial_scale)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        features, rois, out = ctx.saved_tensors
        ph, pw, scale = ctx.params
        grad_output = grad_output.contiguous()
        return (ext.prroi_pool_backward(
            grad_output, features, rois, ph, pw, scale, elementwise=True),
                ext.prroi_pool_coor_backward(
                    grad_output,
                    out,
                    features,
                    rois,
                    ph,
                    pw,
                    scale,
                    elementwise=True), None, None)


IMPLS = {
    'separable': prroi_pool,
    'elementwise': _ElementwisePrRoIPool.apply,
}


def run_with_grads(impl, features, rois, output_size, spatial_scale,
                   grad_output):
    x = features.detach().clone().requires_grad_()
    r = rois.detach().clone().requires_grad_()
    out = IMPLS[impl](x, r, tuple(output_size), spatial_scale)
    out.backward(grad_output.to(out))
    return out.detach(), x.grad, r.grad


def random_rois(gen, num, batch, height, width, spatial_scale):
    """Boxes of many kinds, in image coordinates (feature / spatial_scale).

    Sub-pixel boxes, large boxes, boxes crossing the border, boxes fully
    outside, degenerate (x2 == x1) and inverted (x2 < x1) boxes.
    """
    s = 1 / spatial_scale
    rows = []
    for k in range(num):
        kind = k % 6
        cx = torch.rand(1, generator=gen).item() * width
        cy = torch.rand(1, generator=gen).item() * height
        if kind == 0:  # sub-pixel
            w, h = (torch.rand(2, generator=gen) * 0.9 + 0.05).tolist()
        elif kind == 1:  # a few pixels
            w, h = (torch.rand(2, generator=gen) * 5 + 1).tolist()
        elif kind == 2:  # large, often crossing the border
            w, h = (torch.rand(2, generator=gen) * 1.5 * width + 2).tolist()
        elif kind == 3:  # fully outside (left/top or right/bottom)
            w, h = 2.5, 1.5
            cx, cy = ((-4.0, -3.0) if (k // 6) % 2 else
                      (width + 3.0, height + 4.0))
        elif kind == 4:  # straddling a corner
            w, h = 3.3, 2.7
            cx, cy = -0.2, height - 0.4
        else:  # inverted in x (x2 < x1), or zero height
            w, h = (-1.5, 2.0) if (k // 6) % 2 else (2.0, 0.0)
        rows.append([
            k % batch, (cx - w / 2) * s, (cy - h / 2) * s, (cx + w / 2) * s,
            (cy + h / 2) * s
        ])
    return torch.tensor(rows, dtype=torch.float64)


# mmcv's hand-checked cases (tests/test_ops/test_prroi_pool.py in mmcv 2.1),
# pooled 2x2 with spatial_scale 1 and grad_output = 1, re-derived below.
HAND_CASES = [
    # 1) f = 1 + x + 2y on [0, 1]^2; a 0.5 x 0.5 bin's mean is f at its
    #    centre: 1.75, 2.25, 2.75, 3.25. Each pixel's weight summed over
    #    the 4 bins is 1. With L = sum of the 4 means = 4 * mean of f over
    #    the RoI (2.5): dL/dx2 = 4 * (mean of f on x = 1 (3) - 2.5) = 2,
    #    dL/dx1 = 4 * (2.5 - mean on x = 0 (2)) = 2, dL/dy2 = 4 * (3.5 -
    #    2.5) = 4, dL/dy1 = 4 * (2.5 - 1.5) = 4.
    dict(
        input=[[[[1., 2.], [3., 4.]]]],
        rois=[[0., 0., 0., 1., 1.]],
        output=[[[[1.75, 2.25], [2.75, 3.25]]]],
        input_grad=[[[[1., 1.], [1., 1.]]]],
        rois_grad=[[0., 2., 4., 2., 4.]]),
    # 2) a second channel 5 - f: the channel sum is constant (5) on the
    #    RoI, so the coordinate gradients of the two channels cancel.
    dict(
        input=[[[[1., 2.], [3., 4.]], [[4., 3.], [2., 1.]]]],
        rois=[[0., 0., 0., 1., 1.]],
        output=[[[[1.75, 2.25], [2.75, 3.25]], [[3.25, 2.75], [2.25, 1.75]]]],
        input_grad=[[[[1., 1.], [1., 1.]], [[1., 1.], [1., 1.]]]],
        rois_grad=[[0., 0., 0., 0., 0.]]),
    # 3) 4x4 map, RoI [0, 3]^2, bins 1.5 wide. Axis weights (integral of
    #    the tent k(x - i) over [0, 1.5], / 1.5) are (1/3, 7/12, 1/12, 0)
    #    and, for [1.5, 3], (0, 1/12, 7/12, 1/3). Bin (0, 0):
    #    wy @ F @ wx = 540/144 = 3.75; input grad = outer product of the
    #    per-axis weight sums (1/3, 2/3, 2/3, 1/3), i.e. (1/9, 2/9, ...).
    #    Coordinate grads: 10/3 and 20/3 (the fine-quadrature reference
    #    reproduces all of these, see test_reference_rederives_hand_cases).
    dict(
        input=[[[[1., 2., 5., 6.], [3., 4., 7., 8.], [9., 10., 13., 14.],
                 [11., 12., 15., 16.]]]],
        rois=[[0., 0., 0., 3., 3.]],
        output=[[[[3.75, 83 / 12], [121 / 12, 13.25]]]],
        input_grad=np.outer([1, 2, 2, 1], [1, 2, 2, 1])[None, None] / 9,
        rois_grad=[[0., 10 / 3, 20 / 3, 10 / 3, 20 / 3]]),
]


def _hand_case(case, device, dtype=torch.float32):
    return {
        k: torch.as_tensor(np.asarray(v, dtype=np.float64)).to(device, dtype)
        for k, v in case.items()
    }


# --------------------------------------------------------------------------
# Values and gradients
# --------------------------------------------------------------------------
@pytest.mark.parametrize('impl', list(IMPLS))
@pytest.mark.parametrize('case', HAND_CASES)
def test_hand_checked_cases(case, impl):
    c = _hand_case(case, 'cpu')
    out, grad_x, grad_r = run_with_grads(impl, c['input'], c['rois'], (2, 2),
                                         1.0, torch.ones_like(c['output']))
    torch.testing.assert_close(out, c['output'], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_x, c['input_grad'], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_r, c['rois_grad'], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('case', HAND_CASES)
def test_reference_rederives_hand_cases(case):
    c = _hand_case(case, 'cpu', torch.float64)
    out, grad_x, grad_r = reference_with_grads(c['input'], c['rois'],
                                               (2, 2), 1.0,
                                               torch.ones_like(c['output']))
    torch.testing.assert_close(out, c['output'], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad_x, c['input_grad'], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad_r, c['rois_grad'], rtol=0, atol=2e-3)


REFERENCE_CASES = [
    (torch.float64, (2, 3), 1.0, (2, 3, 9, 11)),
    (torch.float64, (7, 7), 0.5, (2, 2, 12, 10)),
    (torch.float32, (3, 2), 0.25, (1, 3, 7, 13)),
    (torch.float32, (5, 4), 1 / 3, (3, 2, 16, 16)),
]


@pytest.mark.parametrize('impl', list(IMPLS))
@pytest.mark.parametrize('dtype,output_size,spatial_scale,shape',
                         REFERENCE_CASES)
def test_matches_reference(impl, dtype, output_size, spatial_scale, shape):
    check_matches_reference(impl, dtype, output_size, spatial_scale, shape,
                            'cpu')


def check_matches_reference(impl, dtype, output_size, spatial_scale, shape,
                            device):
    """Values and both gradients of ``impl`` on ``device`` against the
    float64 reference, on boxes of every kind (degenerate, inverted, outside
    the map, crossing the border, sub-pixel, large)."""
    gen = torch.Generator().manual_seed(hash((output_size, shape)) % 2**31)
    batch, _, height, width = shape
    features = torch.randn(shape, generator=gen, dtype=torch.float64)
    rois = random_rois(gen, 24, batch, height, width, spatial_scale)
    grad_output = torch.randn(
        rois.size(0),
        shape[1],
        *output_size,
        generator=gen,
        dtype=torch.float64)
    ref_out, ref_gx, ref_gr = reference_with_grads(features, rois, output_size,
                                                   spatial_scale, grad_output)
    out, grad_x, grad_r = (
        t.cpu() for t in run_with_grads(impl, features.to(
            device, dtype), rois.to(device, dtype), output_size, spatial_scale,
                                        grad_output.to(device)))
    assert out.dtype == grad_x.dtype == grad_r.dtype == dtype
    assert torch.isfinite(out).all() and torch.isfinite(grad_r).all()
    tol = 1e-5 if dtype == torch.float64 else 2e-4
    torch.testing.assert_close(out.double(), ref_out, rtol=tol, atol=tol)
    torch.testing.assert_close(grad_x.double(), ref_gx, rtol=tol, atol=tol)
    # The reference's coordinate gradient is a Riemann sum of the tent's
    # discontinuous derivative: accurate to ~1/samples.
    scale = ref_gr.abs().max().item()
    torch.testing.assert_close(
        grad_r.double(), ref_gr, rtol=0, atol=2e-3 * max(scale, 1.0))
    assert (grad_r[:, 0] == 0).all()


@pytest.mark.parametrize('device', DEVICES)
def test_degenerate_and_outside_boxes_are_exactly_zero(device):
    features = torch.randn(1, 2, 6, 6, device=device)
    rois = torch.tensor(
        [
            [0., 2., 2., 1., 4.],  # x2 < x1
            [0., 2., 2., 2., 4.],  # zero width
            [0., 2., 3., 4., 3.],  # zero height
            [0., -9., -9., -3., -2.],  # fully outside (left/top)
            [0., 7., 1., 9., 3.],  # fully outside (right: f = 0 for x >= W)
        ],
        device=device,
        requires_grad=True)
    x = features.clone().requires_grad_()
    out = prroi_pool(x, rois, (3, 3), 1.0)
    out.backward(torch.ones_like(out))
    assert (out == 0).all()
    assert (x.grad == 0).all()
    assert (rois.grad == 0).all()


def test_border_is_integrated_as_zero_padding():
    # Constant map of ones: f = 1 on [0, W-1], falls linearly to 0 at -1
    # and at W. The RoI [-1, 0] x [0, 2] sees the rising ramp: mean 1/2.
    features = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    rois = torch.tensor([[0., -1., 0., 0., 2.]], dtype=torch.float64)
    out = prroi_pool(features, rois, 1, 1.0)
    torch.testing.assert_close(out.flatten(), torch.tensor([0.5]).double())


def test_float32_and_float64_agree():
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(2, 4, 20, 24, generator=gen, dtype=torch.float64)
    # float32 coordinates for both (rounding moves sub-pixel boxes)
    rois = random_rois(gen, 30, 2, 20, 24, 0.5).float().double()
    out64 = prroi_pool(features, rois, (7, 7), 0.5)
    out32 = prroi_pool(features.float(), rois.float(), (7, 7), 0.5)
    torch.testing.assert_close(out32.double(), out64, rtol=1e-5, atol=1e-5)


def test_separable_and_elementwise_paths_agree():
    gen = torch.Generator().manual_seed(4)
    features = torch.randn(2, 5, 17, 19, generator=gen)
    rois = random_rois(gen, 36, 2, 17, 19, 0.25).float()
    grad_output = torch.randn(36, 5, 7, 6, generator=gen)
    results = [
        run_with_grads(impl, features, rois, (7, 6), 0.25, grad_output)
        for impl in IMPLS
    ]
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _kink_free_rois(gen,
                    num,
                    batch,
                    height,
                    width,
                    output_size,
                    spatial_scale,
                    margin=0.02):
    """Random boxes whose bin edges all stay ``margin`` away from integer
    feature coordinates (the kinks of the bilinear surface) and that keep a
    positive size, so finite differences are valid."""
    rows = []
    while len(rows) < num:
        x1, y1 = (torch.rand(2, generator=gen) *
                  torch.tensor([width + 2., height + 2.]) - 2).tolist()
        w, h = (torch.rand(2, generator=gen) * 6 + 0.3).tolist()
        xe = x1 + w * np.arange(output_size[1] + 1) / output_size[1]
        ye = y1 + h * np.arange(output_size[0] + 1) / output_size[0]
        edges = np.concatenate([xe, ye])
        if np.abs(edges - np.round(edges)).min() < margin:
            continue
        rows.append([x1, y1, x1 + w, y1 + h])
    coords = torch.tensor(rows, dtype=torch.float64) / spatial_scale
    batch_idx = (torch.arange(num) % batch).double()[:, None]
    return batch_idx, coords


@pytest.mark.parametrize('impl', list(IMPLS))
def test_gradcheck_features_and_coordinates(impl):
    gen = torch.Generator().manual_seed(5)
    output_size, spatial_scale = (3, 2), 0.5
    features = torch.randn(
        2, 2, 6, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    batch_idx, coords = _kink_free_rois(gen, 5, 2, 6, 7, output_size,
                                        spatial_scale)
    coords.requires_grad_()

    def pool(x, c):
        rois = torch.cat([batch_idx, c], dim=1)
        return IMPLS[impl](x, rois, output_size, spatial_scale)

    assert gradcheck(pool, (features, coords), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize('device', DEVICES)
def test_empty_rois(device):
    features = torch.randn(2, 3, 8, 8, device=device, requires_grad=True)
    rois = torch.zeros(0, 5, device=device, requires_grad=True)
    out = prroi_pool(features, rois, (7, 5), 0.5)
    assert out.shape == (0, 3, 7, 5)
    out.sum().backward()
    assert features.grad.shape == features.shape
    assert (features.grad == 0).all()
    assert rois.grad.shape == (0, 5)


def test_non_contiguous_inputs():
    gen = torch.Generator().manual_seed(6)
    features = torch.randn(2, 3, 12, 14, generator=gen)
    rois = random_rois(gen, 12, 2, 12, 14, 1.0).float()
    grad_output = torch.randn(12, 3, 4, 4, generator=gen)
    expected = run_with_grads('separable', features, rois, (4, 4), 1.0,
                              grad_output)
    # channels-last features, rois as a column slice of a wider tensor
    features_nc = features.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    rois_nc = torch.cat([rois, torch.zeros(12, 2)], dim=1)[:, :5]
    grad_nc = grad_output.transpose(2, 3).contiguous().transpose(2, 3)
    assert not features_nc.is_contiguous() and not rois_nc.is_contiguous()
    x = features_nc.clone().requires_grad_()
    r = rois_nc.clone().requires_grad_()
    out = prroi_pool(x, r, (4, 4), 1.0)
    out.backward(grad_nc)
    for got, want in zip((out, x.grad, r.grad), expected):
        torch.testing.assert_close(got, want)


def test_low_precision_inputs_are_pooled_in_float32():
    gen = torch.Generator().manual_seed(7)
    features = torch.randn(1, 2, 10, 10, generator=gen)
    rois = torch.tensor([[0., 1.3, 2.2, 7.9, 8.4]])
    expected = prroi_pool(features.half().float(), rois, (3, 3), 1.0)
    x = features.half().requires_grad_()
    out = prroi_pool(x, rois, (3, 3), 1.0)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert x.grad.dtype == torch.float16
    # the module returns the dtype of the features, like other layers
    assert PrRoIPool(3)(features.bfloat16(), rois).dtype == torch.bfloat16


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------
@pytest.mark.parametrize('features,rois,kwargs,error,match', [
    (torch.zeros(1, 8, 8), torch.zeros(
        1, 5), {}, ValueError, r'`input` must be a 4-D \(N, C, H, W\)'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(
        2, 4), {}, ValueError, r'`rois` must have shape \(K, 5\)'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(5), {}, ValueError,
     r'`rois` must have shape \(K, 5\)'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(1, 5, dtype=torch.float64), {},
     TypeError, r'`rois` dtype Double does not match `input` dtype'),
    (torch.zeros(1, 1, 8, 8, dtype=torch.int32), torch.zeros(
        1, 5), {}, TypeError, r'`input` must be float32 or float64'),
    (torch.zeros(2, 1, 8, 8), torch.tensor([[2., 0, 0, 1, 1]]), {}, ValueError,
     r'`rois\[:, 0\]` \(batch index\) must hold integers in '
     r'\[0, 2\)'),
    (torch.zeros(2, 1, 8, 8), torch.tensor(
        [[-1., 0, 0, 1, 1]]), {}, ValueError, r'batch index'),
    (torch.zeros(2, 1, 8, 8), torch.tensor(
        [[0.5, 0, 0, 1, 1]]), {}, ValueError, r'batch index'),
    (torch.zeros(1, 1, 8, 8), torch.tensor([[0., 0, float('nan'), 1, 1]]), {},
     ValueError, r'`rois` contains NaN or Inf'),
    (torch.zeros(1, 1, 8, 8), torch.tensor([[
        0., 0, 0, float('inf'), 1
    ]]), {}, ValueError, r'`rois` contains NaN or Inf'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(1, 5), dict(output_size=0),
     ValueError, r'`output_size` must be positive'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(1, 5), dict(spatial_scale=0.),
     ValueError, r'`spatial_scale` must be a positive finite number'),
    (torch.zeros(1, 1, 8, 8), torch.zeros(1, 5, device='meta'), {},
     RuntimeError, r'`rois` is on meta but `input` is on cpu'),
    (torch.zeros(1, 1, 8, 8, device='meta'), torch.zeros(
        1, 5, device='meta'), {}, RuntimeError, r'unsupported device meta'),
])
def test_argument_errors(features, rois, kwargs, error, match):
    kwargs = {'output_size': 2, 'spatial_scale': 1.0, **kwargs}
    with pytest.raises(error, match=match):
        prroi_pool(features, rois, kwargs['output_size'],
                   kwargs['spatial_scale'])


def test_backward_checks_grad_output_shape():
    features, rois = torch.zeros(1, 2, 4, 4), torch.zeros(1, 5)
    with pytest.raises(ValueError, match=r'`grad_output` must have shape'):
        ext.prroi_pool_backward(
            torch.zeros(1, 2, 3, 3), features, rois, 2, 2, 1.0)


def test_missing_extension_gives_build_hint(monkeypatch):
    prroi_pool_module._load_ext.cache_clear()
    monkeypatch.delattr(mmdet_gan, '_ext', raising=False)
    monkeypatch.setitem(sys.modules, 'mmdet_gan._ext', None)
    try:
        with pytest.raises(
                ImportError, match=r'pip install --no-build-isolation -e \.'):
            prroi_pool(torch.zeros(1, 1, 2, 2), torch.zeros(1, 5), 1, 1.0)
    finally:
        prroi_pool_module._load_ext.cache_clear()


# --------------------------------------------------------------------------
# Module
# --------------------------------------------------------------------------
def test_module():
    layer = PrRoIPool((3, 5), spatial_scale=0.25)
    assert layer.output_size == (3, 5)
    assert repr(layer) == 'PrRoIPool(output_size=(3, 5), spatial_scale=0.25)'
    assert PrRoIPool(7).output_size == (7, 7)
    # A linear map f = 10 b + c + x / 2 + 2 y (b: image, c: channel, x, y:
    # feature coordinates) is its own bilinear interpolation on the map,
    # so a bin's exact mean is f at the bin's centre.
    b, c, y, x = torch.meshgrid(
        *(torch.arange(n, dtype=torch.float64) for n in (2, 3, 16, 16)),
        indexing='ij')
    features = 10 * b + c + x / 2 + 2 * y
    # image coordinates; x4 smaller on the map: [1, 2, 10, 7.5] and
    # [0.5, 0.25, 14.5, 14], inside [0, 15]
    rois = torch.tensor([[0., 4., 8., 40., 30.], [1., 2., 1., 58., 56.]],
                        dtype=torch.float64)
    expected = torch.empty(2, 3, 3, 5, dtype=torch.float64)
    for k, (img, x1, y1, x2, y2) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (v * 0.25 for v in (x1, y1, x2, y2))
        for i in range(3):
            for j in range(5):
                xc = x1 + (j + 0.5) * (x2 - x1) / 5
                yc = y1 + (i + 0.5) * (y2 - y1) / 3
                for ch in range(3):
                    expected[k, ch, i, j] = 10 * img + ch + xc / 2 + 2 * yc
    torch.testing.assert_close(layer(features, rois), expected)
    torch.testing.assert_close(
        layer(features.float(), rois.float()), expected.float())
    # the module returns the dtype of the features, like other layers
    out = layer(features.bfloat16(), rois.float())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), expected, rtol=1e-2, atol=0.25)


# --------------------------------------------------------------------------
# CUDA
# --------------------------------------------------------------------------
@requires_cuda
@pytest.mark.parametrize('case', HAND_CASES)
def test_hand_checked_cases_cuda(case):
    c = _hand_case(case, 'cuda')
    x = c['input'].clone().requires_grad_()
    r = c['rois'].clone().requires_grad_()
    out = prroi_pool(x, r, (2, 2), 1.0)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(out, c['output'], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, c['input_grad'], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(r.grad, c['rois_grad'], rtol=1e-5, atol=1e-5)


@requires_cuda
@pytest.mark.parametrize('dtype,output_size,spatial_scale,shape',
                         REFERENCE_CASES)
def test_matches_reference_cuda(dtype, output_size, spatial_scale, shape):
    check_matches_reference('separable', dtype, output_size, spatial_scale,
                            shape, 'cuda')


@requires_cuda
def test_gradcheck_cuda():
    gen = torch.Generator().manual_seed(5)
    output_size, spatial_scale = (3, 2), 0.5
    features = torch.randn(
        2, 2, 6, 7, generator=gen, dtype=torch.float64).cuda()
    batch_idx, coords = _kink_free_rois(gen, 5, 2, 6, 7, output_size,
                                        spatial_scale)
    batch_idx, coords = batch_idx.cuda(), coords.cuda()
    features.requires_grad_()
    coords.requires_grad_()

    def pool(x, c):
        rois = torch.cat([batch_idx, c], dim=1)
        return prroi_pool(x, rois, output_size, spatial_scale)

    # the feature backward scatters with atomicAdd: not bitwise
    # reproducible, which gradcheck's nondet_tol allows for
    assert gradcheck(
        pool, (features, coords), eps=1e-6, atol=1e-6, nondet_tol=1e-12)


@requires_cuda
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_cpu_and_cuda_agree(dtype):
    gen = torch.Generator().manual_seed(8)
    features = torch.randn(2, 8, 30, 26, generator=gen, dtype=dtype)
    rois = random_rois(gen, 60, 2, 30, 26, 0.25).to(dtype)
    grad_output = torch.randn(60, 8, 7, 7, generator=gen, dtype=dtype)
    cpu = run_with_grads('separable', features, rois, (7, 7), 0.25,
                         grad_output)
    cuda = run_with_grads('separable', features.cuda(), rois.cuda(), (7, 7),
                          0.25, grad_output.cuda())
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for a, b in zip(cpu, cuda):
        torch.testing.assert_close(b.cpu(), a, rtol=tol, atol=tol)


@requires_cuda
def test_matches_mmcv_cuda():
    mmcv_ops = pytest.importorskip('mmcv.ops')
    gen = torch.Generator().manual_seed(9)
    features = torch.randn(2, 4, 20, 20, generator=gen).cuda()
    rois = random_rois(gen, 18, 2, 20, 20, 0.5).float().cuda()
    keep = (rois[:, 3] > rois[:, 1]) & (rois[:, 4] > rois[:, 2])
    rois = rois[keep]
    ours = prroi_pool(features, rois, (7, 7), 0.5)
    theirs = mmcv_ops.prroi_pool(features, rois, (7, 7), 0.5)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


@requires_cuda
def test_autocast_cuda():
    features = torch.randn(1, 4, 16, 16, device='cuda')
    rois = torch.tensor([[0., 1.5, 2.5, 9.0, 12.0]], device='cuda')
    expected = prroi_pool(features.half().float(), rois, 4, 1.0)
    with torch.autocast('cuda', dtype=torch.float16):
        out = prroi_pool(features.half(), rois, 4, 1.0)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=1e-3, atol=1e-3)
