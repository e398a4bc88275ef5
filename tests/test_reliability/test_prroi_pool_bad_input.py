"""prRoIPool on bad boxes, beyond tests/test_ops/test_prroi_pool.py.

Already covered there: NaN in y1 and +Inf in x2 (ValueError), inverted /
zero-size / outside boxes (exactly zero output and gradients, CPU), rois on
another device than the features (``meta`` only). Added here: -Inf and NaN
in every column including the batch index, the CUDA path of the NaN check,
huge but finite boxes (finite values and gradients, and the right value),
and rois / features split between CPU and CUDA.
"""
import pytest
import torch

from mmdet_gan.ops import prroi_pool

requires_cuda = pytest.mark.cuda

DEVICES = ['cpu', pytest.param('cuda', marks=requires_cuda)]
NONFINITE = [float('nan'), float('inf'), -float('inf')]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('column', range(5))
@pytest.mark.parametrize('value', NONFINITE)
def test_nonfinite_coordinates_raise(device, column, value):
    features = torch.randn(2, 3, 8, 8, device=device)
    rois = torch.tensor([[0., 1., 1., 5., 6.], [1., 0., 2., 3., 7.]],
                        device=device)
    rois[1, column] = value
    with pytest.raises(ValueError, match='`rois` contains NaN or Inf'):
        prroi_pool(features, rois, (2, 2), 1.0)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('half_width', [1e6, 1e30, 3e38])
def test_huge_boxes_give_finite_values_and_gradients(device, dtype,
                                                     half_width):
    """A box far larger than the map: the map lies inside its central bin,
    so that bin is the map's integral (the sum of its pixels) over the bin
    area and every other bin is 0; float32 may flush the tiny values to 0.
    The bin size overflows float32 for 3e38 (6e38 wide): still finite."""
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(1, 3, 16, 16, generator=gen, dtype=dtype)
    features = features.to(device).requires_grad_()
    rois = torch.tensor(
        [[0., -half_width, -half_width, half_width, half_width]],
        dtype=dtype,
        device=device,
        requires_grad=True)
    scale, size = 0.25, 7
    out = prroi_pool(features, rois, (size, size), scale)
    out.backward(torch.ones_like(out))
    assert torch.isfinite(out).all()
    assert torch.isfinite(features.grad).all()
    assert torch.isfinite(rois.grad).all()
    bin_area = (2 * half_width * scale / size)**2
    expected = torch.zeros_like(out)
    expected[0, :, size // 2, size // 2] = features.detach().sum(
        (-2, -1))[0] / bin_area
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=0)


@pytest.mark.parametrize('device', DEVICES)
def test_boxes_far_outside_the_map_are_zero(device):
    features = torch.randn(1, 2, 8, 8, device=device, requires_grad=True)
    rois = torch.tensor(
        [[0., 1e7, 1e7, 1e7 + 1, 1e7 + 1], [0., -3e38, -3e38, -1e38, -1e38],
         [0., 3e38, 3e38, 3.4e38, 3.4e38]],
        device=device,
        requires_grad=True)
    out = prroi_pool(features, rois, (3, 3), 1.0)
    out.backward(torch.ones_like(out))
    assert (out == 0).all()
    assert (features.grad == 0).all() and (rois.grad == 0).all()


@requires_cuda
@pytest.mark.parametrize('features_device,rois_device', [('cpu', 'cuda'),
                                                         ('cuda', 'cpu')])
def test_rois_on_another_device_raise(features_device, rois_device):
    features = torch.randn(1, 2, 8, 8, device=features_device)
    rois = torch.tensor([[0., 1., 1., 4., 4.]], device=rois_device)
    with pytest.raises(
            RuntimeError,
            match=rf'`rois` is on {rois_device}(:0)? but `input` is on '
            rf'{features_device}'):
        prroi_pool(features, rois, (2, 2), 1.0)
