import copy

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from mmdet_gan.models.discriminators import BoxDiscriminator

register_all_modules()

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]


def _build(**kwargs):
    cfg = dict(type='BoxDiscriminator', in_channels=8, base_channels=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.mark.parametrize('roi_size, num_convs, last_kernel', [(28, 5, 1),
                                                              (56, 5, 3),
                                                              (16, 5, 1),
                                                              (32, 5, 2),
                                                              (14, 4, 1),
                                                              (7, 3, 1),
                                                              (7, 1, 7)])
@pytest.mark.parametrize('device', DEVICES)
def test_output_shape(roi_size, num_convs, last_kernel, device):
    model = _build(roi_size=roi_size, num_convs=num_convs).to(device)
    assert isinstance(model, BoxDiscriminator)
    assert len(model.convs) == num_convs
    assert model.convs[-1].conv.kernel_size == (last_kernel, last_kernel)
    for mode in (True, False):
        model.train(mode)
        x = torch.randn(3, 8, roi_size, roi_size, device=device)
        out = model(x)
        assert out.shape == (3, 1)
        assert torch.isfinite(out).all()


def test_default_architecture():
    """Reference layout: 256 -> 64 -> 128 -> 256 -> 512 -> 1, maps 28 -> 14
    -> 7 -> 3 -> 1 -> 1, BN on layers 2-4, LeakyReLU(0.2) on 1-4."""
    model = MODELS.build(dict(type='BoxDiscriminator'))
    assert [m.conv.in_channels
            for m in model.convs] == [256, 64, 128, 256, 512]
    assert [m.conv.out_channels for m in model.convs] == [64, 128, 256, 512, 1]
    for i, m in enumerate(model.convs[:4]):
        assert m.conv.kernel_size == (4, 4)
        assert m.conv.stride == (2, 2)
        assert m.conv.padding == (1, 1)
        assert m.with_activation
        assert isinstance(m.activate, nn.LeakyReLU)
        assert m.activate.negative_slope == 0.2
        assert m.with_norm == (i > 0)
        if i > 0:
            assert isinstance(m.norm, nn.BatchNorm2d)
            assert m.conv.bias is None  # bias='auto': no bias before BN
    last = model.convs[-1]
    assert (last.conv.kernel_size, last.conv.stride,
            last.conv.padding) == ((1, 1), (1, 1), (0, 0))
    assert not last.with_norm and not last.with_activation
    assert last.conv.bias is not None
    sizes = [
        o.shape[-1] for o in model.forward_layers(torch.randn(2, 256, 28, 28))
    ]
    assert sizes == [14, 7, 3, 1, 1]


@pytest.mark.parametrize('roi_size, num_convs, sizes, strides', [
    (14, 5, [14, 7, 3, 1, 1], [1, 2, 2, 2, 1]),
    (7, 5, [7, 7, 3, 1, 1], [1, 1, 2, 2, 1]),
    (7, 4, [7, 3, 1, 1], [1, 2, 2, 1]),
    (1, 2, [1, 1], [1, 1]),
    (56, 5, [28, 14, 7, 3, 1], [2, 2, 2, 2, 1]),
])
def test_small_roi_sizes_keep_num_convs(roi_size, num_convs, sizes, strides):
    """Below 2 ** (num_convs - 1) the first hidden convs are 3x3 stride 1
    (size kept), so any RoI size gets its num_convs layers and one logit."""
    model = _build(roi_size=roi_size, num_convs=num_convs)
    assert len(model.convs) == num_convs
    assert [m.conv.stride[0] for m in model.convs] == strides
    for m, stride in zip(model.convs[:-1], strides):
        assert m.conv.kernel_size[0] == (3 if stride == 1 else 4)
    outs = model.forward_layers(torch.randn(2, 8, roi_size, roi_size))
    assert [o.shape[-1] for o in outs] == sizes
    assert model(torch.randn(2, 8, roi_size, roi_size)).shape == (2, 1)


@pytest.mark.parametrize('kwargs', [dict(num_convs=0), dict(roi_size=0)])
def test_invalid_args(kwargs):
    with pytest.raises(ValueError, match='must be an int >= 1'):
        _build(**kwargs)


def test_wrong_input_shape():
    model = _build(roi_size=16)
    with pytest.raises(ValueError, match=r'expects input of shape \(N, 8, 16'):
        model(torch.randn(2, 8, 28, 28))
    with pytest.raises(ValueError, match='expects input of shape'):
        model(torch.randn(8, 16, 16))


@pytest.mark.parametrize('device', DEVICES)
def test_gradients_reach_input_and_params(device):
    model = _build(roi_size=28).to(device).train()
    x = torch.randn(4, 8, 28, 28, device=device, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('train', [True, False])
def test_empty_batch(train):
    model = _build(roi_size=28).train(train)
    bn_stats = [(m.norm.running_mean.clone(), m.norm.running_var.clone())
                for m in model.convs if m.with_norm]
    x = torch.randn(0, 8, 28, 28, requires_grad=True)
    out = model(x)
    assert out.shape == (0, 1)
    out.sum().backward()
    assert x.grad.shape == x.shape
    # an empty batch must not touch the running statistics
    for (mean, var), m in zip(bn_stats,
                              [m for m in model.convs if m.with_norm]):
        assert torch.equal(m.norm.running_mean, mean)
        assert torch.equal(m.norm.running_var, var)


def test_single_sample_in_training():
    """N = 1 reaches a 1x1 BatchNorm (layer 4 at roi_size 28), which torch
    refuses in training; it falls back to running statistics there."""
    model = _build(roi_size=28).train()
    x = torch.randn(1, 8, 28, 28, requires_grad=True)
    norms = [m.norm for m in model.convs if m.with_norm]
    before = [n.running_mean.clone() for n in norms]
    out = model(x)
    assert out.shape == (1, 1)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # layers 2 (7x7) and 3 (3x3) use batch statistics, layer 4 (1x1) not
    assert not torch.equal(norms[0].running_mean, before[0])
    assert not torch.equal(norms[1].running_mean, before[1])
    assert torch.equal(norms[2].running_mean, before[2])
    assert model.training and all(n.training for n in norms)


def test_sync_bn_is_not_bypassed(monkeypatch):
    """SyncBN statistics span all processes, so even an empty local batch
    must go through the SyncBN layer (its all-reduce)."""
    model = _build(roi_size=16, norm_cfg=dict(type='SyncBN')).train()
    calls = []
    for m in model.convs:
        if m.with_norm:
            assert isinstance(m.norm, nn.SyncBatchNorm)
            monkeypatch.setattr(
                m.norm,
                'forward',
                lambda x, calls=calls: (calls.append(x.shape), x)[1])
    assert model(torch.randn(0, 8, 16, 16)).shape == (0, 1)
    assert len(calls) == 3


def test_without_norm():
    model = _build(roi_size=16, norm_cfg=None).train()
    assert not any(m.with_norm for m in model.convs)
    assert model(torch.randn(1, 8, 16, 16)).shape == (1, 1)


def test_init_weights():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='BoxDiscriminator'))
    model.init_weights()
    conv = model.convs[1].conv  # 64 -> 128, 4x4
    expected_std = (2.0 / (4 * 4 * 128))**0.5
    assert abs(conv.weight.std().item() - expected_std) < 0.1 * expected_std
    bn = model.convs[3].norm
    assert abs(bn.weight.mean().item() - 1.0) < 0.01
    assert 0.01 < bn.weight.std().item() < 0.03
    assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(model.convs[0].conv.bias,
                       torch.zeros_like(model.convs[0].conv.bias))


def _grads(model, inputs, outputs):
    """Gradients of a fixed weighted sum of ``outputs`` w.r.t. the
    parameters and ``inputs``."""
    flat = [
        o for out in outputs
        for o in (out if isinstance(out, tuple) else (out, ))
    ]
    weights = [
        torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)
        for o in flat
    ]
    total = sum((o * w).sum() for o, w in zip(flat, weights))
    return torch.autograd.grad(total, list(model.parameters()) + inputs)


@pytest.mark.parametrize('disc_type, kwargs', [
    ('BoxDiscriminator', {}),
    ('BoxDiscriminator', dict(norm_cfg=None, with_spectral_norm=True)),
    ('BoxDiscriminator', dict(norm_cfg=None)),
    ('MaskDiscriminator', {}),
    ('MaskDiscriminator', dict(last_layer='reference')),
    ('MaskDiscriminator', dict(return_features=False)),
])
def test_forward_joint_is_forward_of_the_concatenation(disc_type, kwargs):
    """``forward_joint`` (``gan_cfg.real_fake_batch='joint'``) gives the
    values and gradients of the forward of ``cat([real, fake])`` split,
    while the layers before the first norm layer see each side alone (no
    concatenated copy of the inputs)."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type=disc_type, in_channels=8, base_channels=4, **kwargs))
    model.train().double()  # exact to rounding: sums in another order
    real = torch.randn(3, 8, 28, 28, dtype=torch.double, requires_grad=True)
    fake = torch.randn(5, 8, 28, 28, dtype=torch.double, requires_grad=True)
    # a forward in training changes state (BN statistics, spectral norm's
    # power iteration): the reference runs on a copy
    reference = copy.deepcopy(model)
    batch_sizes = [[] for _ in model.convs]
    for sizes, layer in zip(batch_sizes, model.convs):
        layer.register_forward_pre_hook(
            lambda _, args, sizes=sizes: sizes.append(args[0].size(0)))
    got = model.forward_joint(real, fake)
    # where the first norm layer is; with spectral norm, every layer;
    # with neither, none joins
    if kwargs.get('with_spectral_norm'):
        first_joined = 0
    elif 'norm_cfg' in kwargs:
        first_joined = len(model.convs)
    else:
        first_joined = 1
    assert batch_sizes[:first_joined] == [[3, 5]] * first_joined
    assert batch_sizes[first_joined:] == [[8]] * (
        len(model.convs) - first_joined)
    both = reference(torch.cat([real, fake]))
    if isinstance(both, tuple):
        expected = (tuple(t[:3] for t in both), tuple(t[3:] for t in both))
    else:
        expected = (both[:3], both[3:])
    torch.testing.assert_close(got, expected)
    for got_grad, expected_grad in zip(
            _grads(model, [real, fake], got),
            _grads(reference, [real, fake], expected)):
        torch.testing.assert_close(got_grad, expected_grad)
