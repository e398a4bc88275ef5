# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Boundary IoU (Cheng et al., CVPR 2021).

Boundary IoU compares two masks only near their contours: each mask ``M``
is replaced by its inner boundary band ``M_d ∩ M``, the pixels of ``M``
within distance ``d`` of the contour, and the IoU of the two bands is taken.
``d`` is a fraction of the image diagonal (``dilation_ratio``, 0.02 in the
paper), so the band has the same relative width at every image size.
"""
import cv2
import numpy as np
import pycocotools.mask as mask_util


def boundary_width(height: int, width: int, dilation_ratio: float) -> int:
    """Width ``d`` in pixels of the boundary band of an image.

    Args:
        height (int): Image height in pixels.
        width (int): Image width in pixels.
        dilation_ratio (float): Band width as a fraction of the image
            diagonal.

    Returns:
        int: ``round(dilation_ratio * sqrt(height**2 + width**2))``, at
        least 1.
    """
    if dilation_ratio <= 0:
        raise ValueError(
            f'dilation_ratio must be positive, got {dilation_ratio}')
    return max(int(round(dilation_ratio * np.hypot(height, width))), 1)


def mask_to_boundary(mask: np.ndarray,
                     dilation_ratio: float = 0.02) -> np.ndarray:
    """Inner boundary band of a binary mask.

    A pixel of the mask belongs to the band if some pixel within
    chessboard distance ``d`` of it (see :func:`boundary_width`) lies
    outside the mask or outside the image. This is the mask minus its
    erosion by a ``(2d + 1) x (2d + 1)`` square, with everything beyond the
    image border counted as background, so that a mask cut by the border
    has a boundary there too (the paper's padding rule).

    The erosion runs on the mask's bounding box only: outside it the mask
    is background anyway, so the result is the same as on the full image.

    Args:
        mask (np.ndarray): (H, W) binary mask; any nonzero value is
            foreground.
        dilation_ratio (float): Band width as a fraction of the image
            diagonal. Defaults to 0.02.

    Returns:
        np.ndarray: (H, W) uint8 array, 1 on the boundary band.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(
            f'mask must be a 2-D (H, W) array, got shape {mask.shape}')
    mask = (mask != 0).astype(np.uint8)
    height, width = mask.shape
    d = boundary_width(height, width, dilation_ratio)
    boundary = np.zeros_like(mask)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return boundary
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1 = rows[0], rows[-1] + 1
    x0, x1 = cols[0], cols[-1] + 1
    crop = mask[y0:y1, x0:x1]
    kernel = np.ones((2 * d + 1, 2 * d + 1), dtype=np.uint8)
    eroded = cv2.erode(
        crop, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    boundary[y0:y1, x0:x1] = crop - eroded
    return boundary


def boundary_iou(gt: np.ndarray,
                 dt: np.ndarray,
                 dilation_ratio: float = 0.02) -> float:
    """Boundary IoU of two binary masks of the same image.

    ``|(G_d ∩ G) ∩ (P_d ∩ P)| / |(G_d ∩ G) ∪ (P_d ∩ P)|`` where ``G_d ∩ G``
    and ``P_d ∩ P`` are the boundary bands of :func:`mask_to_boundary`.

    Args:
        gt (np.ndarray): (H, W) ground-truth binary mask.
        dt (np.ndarray): (H, W) predicted binary mask.
        dilation_ratio (float): Band width as a fraction of the image
            diagonal. Defaults to 0.02.

    Returns:
        float: Boundary IoU in [0, 1]; 0 when both masks are empty.
    """
    gt = np.asarray(gt)
    dt = np.asarray(dt)
    if gt.shape != dt.shape:
        raise ValueError('gt and dt must have the same shape, got '
                         f'{gt.shape} and {dt.shape}')
    gt_band = mask_to_boundary(gt, dilation_ratio).astype(bool)
    dt_band = mask_to_boundary(dt, dilation_ratio).astype(bool)
    union = np.logical_or(gt_band, dt_band).sum()
    if union == 0:
        return 0.0
    return float(np.logical_and(gt_band, dt_band).sum() / union)


def rle_to_boundary_rle(rle: dict, dilation_ratio: float = 0.02) -> dict:
    """Boundary band of a COCO RLE mask, as an RLE.

    Args:
        rle (dict): Uncompressed-size COCO RLE with keys ``size`` (H, W)
            and ``counts`` (bytes or str), as returned by
            ``pycocotools.mask.encode`` or ``COCO.annToRLE``.
        dilation_ratio (float): Band width as a fraction of the image
            diagonal. Defaults to 0.02.

    Returns:
        dict: RLE of the boundary band, same ``size``.
    """
    boundary = mask_to_boundary(mask_util.decode(rle), dilation_ratio)
    return mask_util.encode(np.asfortranarray(boundary))
