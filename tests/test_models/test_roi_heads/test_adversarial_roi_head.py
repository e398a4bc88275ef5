import torch

from mmdet_gan.models.roi_heads.adversarial_samples import resize_masks


def test_resize_masks_to_the_discriminator_size():
    """28 -> 14: bilinear at half resolution averages pixel pairs, so a
    block mask stays a block mask (hand-computed), and the soft prediction
    keeps its gradient."""
    target = torch.zeros(2, 28, 28)
    target[0, :, :14] = 1  # left half
    target[1, 4:12, 8:20] = 1
    out = resize_masks(target, (14, 14))
    expected = torch.zeros(2, 14, 14)
    expected[0, :, :7] = 1
    expected[1, 2:6, 4:10] = 1
    torch.testing.assert_close(out, expected)

    pred = torch.rand(3, 28, 28, requires_grad=True)
    resized = resize_masks(pred, (14, 14))
    resized.sum().backward()
    torch.testing.assert_close(pred.grad, torch.full_like(pred, 0.25))
    # same size: unchanged; no masks: empty at the new size
    assert resize_masks(pred, (28, 28)) is pred
    assert resize_masks(torch.zeros(0, 28, 28), (14, 14)).shape == (0, 14, 14)
    # ... still attached to an empty prediction's graph (PointRend's 7x7
    # coarse masks on a batch without positives)
    empty = torch.zeros(0, 7, 7, requires_grad=True)
    assert resize_masks(empty, (28, 28)).requires_grad
