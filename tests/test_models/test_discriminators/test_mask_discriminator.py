import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

from mmdet_gan.models.discriminators import MaskDiscriminator

register_all_modules()

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)]


def _build(**kwargs):
    cfg = dict(type='MaskDiscriminator', in_channels=8, base_channels=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_default_feature_dim():
    """256x28x28 input + 64x14x14 + 128x7x7 + 256x3x3 + 512x1x1 + 1x1x1."""
    model = MODELS.build(dict(type='MaskDiscriminator'))
    assert isinstance(model, MaskDiscriminator)
    assert model.feature_dim == 222337
    out = model(torch.rand(2, 256, 28, 28))
    assert out.shape == (2, 222337)


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
    feats = feat_model(x)
    assert feats.shape == (3, feat_model.feature_dim)
    assert feats.shape[1] == sum(o[0].numel()
                                 for o in [x] + feat_model.forward_layers(x))
    assert logit_model(x).shape == (3, 1)


def test_weighted_concatenation():
    torch.manual_seed(0)
    model = _build(roi_size=16, layer_weights=(1, 1, 2, 2, 2, 4)).eval()
    x = torch.rand(2, 8, 16, 16)
    feats = model(x)
    outs = model.forward_layers(x)
    expected = torch.cat(
        [x.flatten(1)] +
        [o.flatten(1) * w for o, w in zip(outs, (1, 1, 2, 2, 2, 4)[1:])], 1)
    torch.testing.assert_close(feats, expected)
    # the input block comes first, unscaled; the logit last, times 4
    torch.testing.assert_close(feats[:, :8 * 16 * 16], x.flatten(1))
    model.return_features = False
    logit = model(x)
    torch.testing.assert_close(feats[:, -1:], 4 * logit)


def test_layer_weights_length():
    with pytest.raises(ValueError, match='num_convs \\+ 1 = 6 values'):
        _build(layer_weights=(1, 1, 2, 2, 2))
    with pytest.raises(ValueError, match='num_convs \\+ 1 = 4 values'):
        _build(roi_size=14, num_convs=3)


def test_small_roi_size_keeps_five_layers_and_its_feature_dim():
    model = _build(roi_size=14)
    assert len(model.convs) == 5
    feats = model(torch.randn(3, model.in_channels, 14, 14))
    # input 14x14, then 14x14 (stride 1), 7x7, 3x3, 1x1 maps, 1x1 logit
    base = model.convs[0].conv.out_channels
    expected = model.in_channels * 14 * 14 + base * 14 * 14 + \
        2 * base * 7 * 7 + 4 * base * 3 * 3 + 8 * base + 1
    assert feats.shape == (3, expected) and model.feature_dim == expected


@pytest.mark.parametrize('return_features', [True, False])
def test_gradients_reach_input(return_features):
    model = _build(roi_size=28, return_features=return_features).train()
    x = torch.rand(4, 8, 28, 28, requires_grad=True)
    model(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('train', [True, False])
@pytest.mark.parametrize('return_features', [True, False])
def test_empty_and_single(train, return_features):
    model = _build(roi_size=28, return_features=return_features).train(train)
    dim = model.feature_dim if return_features else 1
    x0 = torch.rand(0, 8, 28, 28, requires_grad=True)
    out0 = model(x0)
    assert out0.shape == (0, dim)
    out0.sum().backward()
    x1 = torch.rand(1, 8, 28, 28, requires_grad=True)
    out1 = model(x1)
    assert out1.shape == (1, dim)
    assert torch.isfinite(out1).all()
    out1.sum().backward()
    assert torch.isfinite(x1.grad).all()
