# Copyright (c) mmdet-gan contributors. All rights reserved.
from .boundary_cocoeval import BoundaryCOCOeval
from .boundary_iou import (boundary_iou, boundary_width, mask_to_boundary,
                           rle_to_boundary_rle)

__all__ = [
    'BoundaryCOCOeval', 'boundary_iou', 'boundary_width', 'mask_to_boundary',
    'rle_to_boundary_rle'
]
