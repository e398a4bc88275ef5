# Copyright (c) mmdet-gan contributors. All rights reserved.
"""multi_level_max_prroi_pool: one autograd node for the max over levels of
Precise RoI Pooling, checked against torch.maximum over prroi_pool."""
import pytest
import torch
from torch.autograd import gradcheck

from mmdet_gan.ops import multi_level_max_prroi_pool, prroi_pool

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]

STRIDES = (4, 8, 16)
IMG = 64


def make_inputs(dtype=torch.float64,
                device='cpu',
                channels=3,
                seed=0,
                img=IMG):
    gen = torch.Generator().manual_seed(seed)
    feats = [
        torch.randn(
            2, channels, img // s, img // s, generator=gen, dtype=dtype)
        for s in STRIDES
    ]
    xy = torch.rand(7, 2, generator=gen, dtype=dtype) * 30
    wh = 4 + torch.rand(7, 2, generator=gen, dtype=dtype) * 30
    batch_idx = (torch.arange(7) % 2).to(dtype)[:, None]
    rois = torch.cat([batch_idx, xy, xy + wh], dim=1)
    return [f.to(device) for f in feats], rois.to(device)


def chained_maximum(feats, rois, output_size):
    out = None
    for feat, stride in zip(feats, STRIDES):
        pooled = prroi_pool(feat, rois, output_size, 1 / stride)
        out = pooled if out is None else torch.maximum(out, pooled)
    return out


def values_and_grads(fn, feats, rois, grad_out=None):
    feats = [f.clone().requires_grad_() for f in feats]
    rois = rois.clone().requires_grad_()
    out = fn(feats, rois)
    if grad_out is None:
        grad_out = torch.randn(
            out.shape,
            generator=torch.Generator().manual_seed(5),
            dtype=out.dtype).to(out.device)
    out.backward(grad_out)
    return out.detach(), rois.grad, [f.grad for f in feats]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('output_size', [(4, 5), 7])
def test_matches_chained_maximum(device, output_size):
    feats, rois = make_inputs(device=device)
    fused = values_and_grads(
        lambda f, r: multi_level_max_prroi_pool(
            f, r, output_size, [1 / s for s in STRIDES]), feats, rois)
    chained = values_and_grads(lambda f, r: chained_maximum(f, r, output_size),
                               feats, rois)
    torch.testing.assert_close(fused[0], chained[0])
    torch.testing.assert_close(fused[1], chained[1])
    for fused_grad, chained_grad in zip(fused[2], chained[2]):
        torch.testing.assert_close(fused_grad, chained_grad)
    # every level wins somewhere, so all three gradients are exercised
    assert all(grad.abs().sum() > 0 for grad in fused[2])


def test_gradcheck():
    feats, rois = make_inputs(channels=1, img=32)
    feats = [f.requires_grad_() for f in feats]
    batch_idx, coords = rois[:3, :1], rois[:3, 1:].requires_grad_()

    def pool(c, *f):
        return multi_level_max_prroi_pool(f, torch.cat([batch_idx, c], 1), 3,
                                          [1 / s for s in STRIDES])

    assert gradcheck(pool, (coords, *feats), eps=1e-6, atol=1e-6)


def test_keeps_one_float_tensor_of_the_output_size():
    feats, rois = make_inputs(dtype=torch.float32)
    rois.requires_grad_()
    shapes = []

    def pack(tensor):
        shapes.append((tensor.dtype, tuple(tensor.shape)))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = multi_level_max_prroi_pool(feats, rois, 7,
                                         [1 / s for s in STRIDES])
    kept = [dtype for dtype, shape in shapes if shape == tuple(out.shape)]
    assert sorted(kept, key=str) == [torch.float32, torch.uint8]
    shapes.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        chained_maximum(feats, rois, 7)
    # what it replaces: every level's output and the partial maxima
    assert sum(shape == tuple(out.shape) for _, shape in shapes) >= 5


def test_ties_go_to_the_first_level():
    # the same map twice at the same scale: every element is a tie
    feats, rois = make_inputs()
    twice = [feats[0], feats[0].clone()]
    grads = values_and_grads(
        lambda f, r: multi_level_max_prroi_pool(f, r, 5, [0.25, 0.25]), twice,
        rois)
    single = values_and_grads(lambda f, r: prroi_pool(f[0], r, 5, 0.25),
                              twice[:1], rois)
    torch.testing.assert_close(grads[0], single[0])
    torch.testing.assert_close(grads[1], single[1])
    torch.testing.assert_close(grads[2][0], single[2][0])
    assert (grads[2][1] == 0).all()


def test_a_nan_level_gives_nan_as_torch_maximum_does():
    """A level with NaN features is not skipped by the max: the NaN shows
    (and the game's non-finite policy sees it)."""
    feats, rois = make_inputs()
    feats[1] = torch.full_like(feats[1], float('nan'))
    fused = multi_level_max_prroi_pool(feats, rois, 5,
                                       [1 / s for s in STRIDES])
    torch.testing.assert_close(
        fused, chained_maximum(feats, rois, 5), equal_nan=True)
    assert fused.isnan().all()


def test_argument_errors():
    feats, rois = make_inputs(dtype=torch.float32)
    with pytest.raises(ValueError, match='one spatial scale per'):
        multi_level_max_prroi_pool(feats, rois, 7, [0.25])
    with pytest.raises(ValueError, match='one spatial scale per'):
        multi_level_max_prroi_pool([], rois, 7, [])
