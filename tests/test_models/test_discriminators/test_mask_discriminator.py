import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from mmdet_gan.models.discriminators import MaskDiscriminator

register_all_modules()

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]


def _concat(out):
    """SegAN's (N, D) vector from the per-layer features (logits as
    they are)."""
    return torch.cat(out, dim=1) if isinstance(out, tuple) else out


def _build(**kwargs):
    cfg = dict(type='MaskDiscriminator', in_channels=8, base_channels=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_default_feature_dim():
    """256x28x28 input + 64x14x14 + 128x7x7 + 256x3x3 + 512x1x1 + 1x1x1."""
    model = MODELS.build(dict(type='MaskDiscriminator'))
    assert isinstance(model, MaskDiscriminator)
    assert model.feature_dim == 222337
    x = torch.rand(2, 256, 28, 28)
    out = model(x)
    # the input, then each layer's output, flattened
    assert [tuple(t.shape) for t in out] == [(2, 200704), (2, 12544),
                                             (2, 6272), (2, 2304), (2, 512),
                                             (2, 1)]
    # the input's block is the input itself (weight 1): no copy
    assert out[0].data_ptr() == x.data_ptr()


def test_architecture():
    model = MODELS.build(dict(type='MaskDiscriminator'))
    assert len(model.convs) == 5
    assert [m.conv.out_channels for m in model.convs] == [64, 128, 256, 512, 1]
    assert [m.with_norm
            for m in model.convs] == [False, True, True, True, False]
    assert [m.with_activation for m in model.convs] == [True] * 4 + [False]
    for m in model.convs[:4]:
        assert m.conv.kernel_size == (4, 4) and m.conv.stride == (2, 2)
        assert isinstance(m.activate, nn.LeakyReLU)
        assert m.activate.negative_slope == 0.2
    for m in model.convs[1:4]:
        assert isinstance(m.norm, nn.BatchNorm2d)


# in_channels 8, base_channels 4: the input, then every layer's map (the
# hidden convs halve the size, the last one reduces it to 1x1), by hand
FEATURE_DIMS = {
    # 8x28x28 + 4x14x14 + 8x7x7 + 16x3x3 + 32x1x1 + 1
    (28, 5): 7625,
    # 8x56x56 + 4x28x28 + 8x14x14 + 16x7x7 + 32x3x3 + 1 (3x3 last kernel)
    (56, 5): 30865,
    # 8x14x14 + 4x7x7 + 8x3x3 + 16x1x1 + 1
    (14, 4): 1853,
    # 8x7x7 + 4x3x3 + 8x1x1 + 1
    (7, 3): 437,
}


@pytest.mark.parametrize('roi_size, num_convs', [(28, 5), (56, 5), (14, 4),
                                                 (7, 3)])
@pytest.mark.parametrize('device', DEVICES)
def test_output_shapes(roi_size, num_convs, device):
    weights = [1.0] * (num_convs + 1)
    feat_model = _build(
        roi_size=roi_size, num_convs=num_convs,
        layer_weights=weights).to(device)
    logit_model = _build(
        roi_size=roi_size,
        num_convs=num_convs,
        layer_weights=weights,
        return_features=False).to(device)
    x = torch.rand(3, 8, roi_size, roi_size, device=device)
    feats = _concat(feat_model(x))
    assert feats.shape == (3, feat_model.feature_dim)
    assert feats.shape[1] == FEATURE_DIMS[(roi_size, num_convs)]
    assert logit_model(x).shape == (3, 1)


def test_weighted_concatenation():
    """The features against the conv stack run by hand with
    torch.nn.functional on the module's weights (evaluation mode, with
    non-trivial running statistics)."""
    torch.manual_seed(0)
    weights = (1, 1, 2, 3, 5, 4)
    model = _build(roi_size=16, layer_weights=weights).eval()
    # 16 -> 8 -> 4 -> 2 -> 1 by four 4x4 stride-2 convs, then a 1x1 conv;
    # BN on the three middle layers, LeakyReLU(0.2) on all but the last
    specs = [(4, 2, 1, True)] * 4 + [(1, 1, 0, False)]
    channels = [8, 4, 8, 16, 32, 1]
    norms = {1, 2, 3}
    with torch.no_grad():
        for i, layer in enumerate(model.convs):
            kernel = specs[i][0]
            assert layer.conv.weight.shape == (channels[i + 1], channels[i],
                                               kernel, kernel)
            assert layer.with_norm == (i in norms)
            if layer.with_norm:
                layer.norm.running_mean.uniform_(-0.5, 0.5)
                layer.norm.running_var.uniform_(0.5, 2.0)
                layer.norm.weight.uniform_(0.5, 1.5)
                layer.norm.bias.uniform_(-0.5, 0.5)
            if layer.conv.bias is not None:
                layer.conv.bias.uniform_(-0.1, 0.1)
    x = torch.rand(2, 8, 16, 16)
    blocks, h = [x.flatten(1) * weights[0]], x
    for i, layer in enumerate(model.convs):
        _, stride, padding, act = specs[i]
        conv = layer.conv
        h = F.conv2d(h, conv.weight, conv.bias, stride=stride, padding=padding)
        if i in norms:
            bn = layer.norm
            h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight,
                             bn.bias, False, 0., bn.eps)
        if act:
            h = F.leaky_relu(h, 0.2)
        blocks.append(h.flatten(1) * weights[i + 1])
    expected = torch.cat(blocks, 1).detach()
    # 8x16x16 + 4x8x8 + 8x4x4 + 16x2x2 + 32x1x1 + 1
    assert expected.shape == (2, 2048 + 256 + 128 + 64 + 32 + 1)
    feats = model(x)
    assert len(feats) == len(blocks)
    torch.testing.assert_close(_concat(feats), expected)
    model.return_features = False
    torch.testing.assert_close(model(x), h.flatten(1))


def test_layer_weights_length():
    with pytest.raises(ValueError, match='num_convs \\+ 1 = 6 values'):
        _build(layer_weights=(1, 1, 2, 2, 2))
    with pytest.raises(ValueError, match='num_convs \\+ 1 = 4 values'):
        _build(roi_size=14, num_convs=3)


def test_small_roi_size_keeps_five_layers_and_its_feature_dim():
    model = _build(roi_size=14)
    assert len(model.convs) == 5
    feats = _concat(model(torch.randn(3, model.in_channels, 14, 14)))
    # input 14x14, then 14x14 (stride 1), 7x7, 3x3, 1x1 maps, 1x1 logit
    base = model.convs[0].conv.out_channels
    expected = model.in_channels * 14 * 14 + base * 14 * 14 + \
        2 * base * 7 * 7 + 4 * base * 3 * 3 + 8 * base + 1
    assert feats.shape == (3, expected) and model.feature_dim == expected


@pytest.mark.parametrize('return_features', [True, False])
def test_gradients_reach_input(return_features):
    model = _build(roi_size=28, return_features=return_features).train()
    x = torch.rand(4, 8, 28, 28, requires_grad=True)
    _concat(model(x)).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('train', [True, False])
@pytest.mark.parametrize('return_features', [True, False])
def test_empty_and_single(train, return_features):
    model = _build(roi_size=28, return_features=return_features).train(train)
    dim = model.feature_dim if return_features else 1
    x0 = torch.rand(0, 8, 28, 28, requires_grad=True)
    out0 = _concat(model(x0))
    assert out0.shape == (0, dim)
    out0.sum().backward()
    x1 = torch.rand(1, 8, 28, 28, requires_grad=True)
    out1 = _concat(model(x1))
    assert out1.shape == (1, dim)
    assert torch.isfinite(out1).all()
    out1.sum().backward()
    assert torch.isfinite(x1.grad).all()


def test_reference_last_layer():
    """DESIGN.md section 3: the last layer keeps doubling the channels and
    has BatchNorm + LeakyReLU; the weight-4 block is its full output."""
    model = MODELS.build(
        dict(type='MaskDiscriminator', last_layer='reference'))
    last = model.convs[-1]
    assert last.conv.out_channels == 64 * 2**4 == 1024
    assert last.with_norm and last.with_activation
    # 256x28x28 + 64x14x14 + 128x7x7 + 256x3x3 + 512x1x1 + 1024x1x1
    expected = 256 * 784 + 64 * 196 + 128 * 49 + 256 * 9 + 512 + 1024
    assert model.feature_dim == expected
    model.train()
    x = torch.randn(4, 256, 28, 28)
    feats = _concat(model(x))
    assert feats.shape == (4, expected)
    # the last block: 4 x LeakyReLU(BN(conv(previous layer))), by hand
    with torch.no_grad():
        prev = model.forward_layers(x)[-2]
        conv, bn = last.conv, last.norm
        by_hand = F.leaky_relu(
            F.batch_norm(
                F.conv2d(prev, conv.weight, conv.bias),
                None,
                None,
                bn.weight,
                bn.bias,
                training=True,
                eps=bn.eps), 0.2).flatten(1)
    torch.testing.assert_close(feats[:, -1024:].detach(), 4 * by_hand)
    with pytest.raises(ValueError, match='needs return_features=True'):
        _build(last_layer='reference', return_features=False)
    with pytest.raises(ValueError, match="'logit' or 'reference'"):
        _build(last_layer='full')
