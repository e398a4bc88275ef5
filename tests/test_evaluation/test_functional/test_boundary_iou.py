# Copyright (c) mmdet-gan contributors. All rights reserved.
import numpy as np
import pycocotools.mask as mask_util
import pytest

from mmdet_gan.evaluation.functional import (boundary_iou, boundary_width,
                                             mask_to_boundary,
                                             rle_to_boundary_rle)


def _square(shape, y0, x0, size):
    mask = np.zeros(shape, dtype=np.uint8)
    mask[y0:y0 + size, x0:x0 + size] = 1
    return mask


def _brute_force_boundary(mask, d):
    """Mask pixels with a background or off-image pixel within distance d."""
    padded = np.pad(mask.astype(bool), d, constant_values=False)
    windows = np.lib.stride_tricks.sliding_window_view(padded,
                                                       (2 * d + 1, 2 * d + 1))
    interior = windows.all(axis=(2, 3))
    return (mask.astype(bool) & ~interior).astype(np.uint8)


def test_boundary_width():
    # 100 x 100: diagonal 141.42 -> 0.02 * 141.42 = 2.83 -> 3
    assert boundary_width(100, 100, 0.02) == 3
    # 480 x 640: diagonal 800 -> 16
    assert boundary_width(480, 640, 0.02) == 16
    # rounds to 0 on a tiny image, but the band is at least one pixel
    assert boundary_width(10, 10, 0.02) == 1
    with pytest.raises(ValueError, match='dilation_ratio must be positive'):
        boundary_width(10, 10, 0)


def test_mask_to_boundary_square():
    # d = 3: a 40 x 40 square keeps its 34 x 34 interior
    mask = _square((100, 100), 20, 20, 40)
    boundary = mask_to_boundary(mask, 0.02)
    assert boundary.dtype == np.uint8
    assert boundary.shape == (100, 100)
    assert boundary.sum() == 40 * 40 - 34 * 34
    assert boundary[23:57, 23:57].sum() == 0
    assert boundary[20:23, 20:60].all() and boundary[57:60, 20:60].all()
    assert not (boundary.astype(bool) & ~mask.astype(bool)).any()


def test_mask_to_boundary_image_border():
    # A mask cut by the image border has a boundary along the border.
    full = np.ones((100, 100), dtype=bool)
    assert mask_to_boundary(full, 0.02).sum() == 100 * 100 - 94 * 94
    # A thin shape lies entirely inside its own band.
    line = np.zeros((100, 100), dtype=bool)
    line[40:43, 10:90] = True
    np.testing.assert_array_equal(mask_to_boundary(line, 0.02), line)


def test_mask_to_boundary_edge_cases():
    empty = np.zeros((30, 40), dtype=np.uint8)
    assert mask_to_boundary(empty).sum() == 0
    # any nonzero value is foreground
    np.testing.assert_array_equal(
        mask_to_boundary(_square((50, 50), 5, 5, 20) * 255),
        mask_to_boundary(_square((50, 50), 5, 5, 20)))
    with pytest.raises(ValueError, match=r'2-D \(H, W\)'):
        mask_to_boundary(np.zeros((1, 30, 40)))


@pytest.mark.parametrize('dilation_ratio', [0.005, 0.02, 0.05])
def test_mask_to_boundary_matches_brute_force(dilation_ratio):
    rng = np.random.default_rng(0)
    for _ in range(20):
        h, w = rng.integers(8, 90, size=2)
        mask = rng.random((h, w)) < 0.7
        # blobs with holes, some touching the border
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        mask[y0:y0 + h // 2, x0:x0 + w // 2] = True
        d = boundary_width(h, w, dilation_ratio)
        np.testing.assert_array_equal(
            mask_to_boundary(mask, dilation_ratio),
            _brute_force_boundary(mask, d))


def test_boundary_iou_known_values():
    gt = _square((100, 100), 20, 20, 40)
    assert boundary_iou(gt, gt.copy()) == 1.0
    # disjoint masks
    assert boundary_iou(gt, _square((100, 100), 70, 70, 20)) == 0.0
    # Shift by 2 px with d = 3: each band has 1600 - 34 * 34 = 444 pixels;
    # the bands share (40 x 38 overlap) - (34 x 36 union of interiors) = 296,
    # so the union is 2 * 444 - 296 = 592 and Boundary IoU is exactly 0.5,
    # while the mask IoU is 1520 / 1680 = 0.905.
    shifted = np.roll(gt, 2, axis=1)
    assert boundary_iou(gt, shifted, 0.02) == pytest.approx(0.5)
    # both empty: 0 by convention
    empty = np.zeros((10, 10), dtype=bool)
    assert boundary_iou(empty, empty) == 0.0
    with pytest.raises(ValueError, match='same shape'):
        boundary_iou(gt, gt[:50])


def test_boundary_iou_thin_shapes_equal_mask_iou():
    # Shapes thinner than the band are all boundary: Boundary IoU is mask IoU
    a = np.zeros((100, 100), dtype=bool)
    b = np.zeros((100, 100), dtype=bool)
    a[40:43, 10:70] = True
    b[40:43, 30:90] = True
    assert boundary_iou(a, b, 0.02) == pytest.approx(40 * 3 / (80 * 3))


def test_rle_to_boundary_rle():
    mask = _square((60, 80), 10, 10, 30)
    rle = mask_util.encode(np.asfortranarray(mask))
    boundary_rle = rle_to_boundary_rle(rle, 0.02)
    assert list(boundary_rle['size']) == [60, 80]
    np.testing.assert_array_equal(
        mask_util.decode(boundary_rle), mask_to_boundary(mask, 0.02))
    # str counts, as in json results
    rle['counts'] = rle['counts'].decode()
    assert mask_util.area(rle_to_boundary_rle(rle, 0.02)) == \
        mask_util.area(boundary_rle)
