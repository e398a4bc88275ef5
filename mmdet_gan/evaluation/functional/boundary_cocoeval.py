# Copyright (c) mmdet-gan contributors. All rights reserved.
"""COCO instance evaluation with Boundary IoU (Boundary AP)."""
from typing import Dict, List, Optional, Tuple

import numpy as np
import pycocotools.mask as mask_util
from mmdet.datasets.api_wrappers import COCO, COCOeval

from .boundary_iou import rle_to_boundary_rle


class BoundaryCOCOeval(COCOeval):
    """``COCOeval`` whose mask IoU is replaced by Boundary IoU.

    Everything but the IoU between a detection and a ground truth is stock
    COCO instance evaluation: matching, crowd handling, area ranges (by mask
    area), max detections and the 101-point AP. For a non-crowd ground truth
    the IoU is ``min(mask IoU, boundary IoU)``, as in the reference Boundary
    AP code of Cheng et al. (``iouType='boundary'``): the boundary term
    dominates for large objects, the mask term keeps a thin band from
    matching a wrong object. A crowd region keeps the plain mask IoU
    (intersection over detection area), so detections on it are ignored as
    in COCO.

    Boundary bands are computed lazily, only for the detections and ground
    truths that meet in some IoU matrix, and cached per annotation id.

    Args:
        cocoGt (COCO, optional): Ground truth API.
        cocoDt (COCO, optional): Detection results API (``loadRes``) with
            ``segmentation`` on every result.
        dilation_ratio (float): Band width as a fraction of the image
            diagonal. Defaults to 0.02.
    """

    def __init__(self,
                 cocoGt: Optional[COCO] = None,
                 cocoDt: Optional[COCO] = None,
                 dilation_ratio: float = 0.02) -> None:
        super().__init__(cocoGt, cocoDt, iouType='segm')
        if dilation_ratio <= 0:
            raise ValueError(
                f'dilation_ratio must be positive, got {dilation_ratio}')
        self.dilation_ratio = dilation_ratio
        self._boundaries: Dict[Tuple[str, int], dict] = {}

    def _boundary(self, ann: dict, source: str) -> dict:
        """Boundary RLE of a prepared annotation (RLE ``segmentation``)."""
        key = (source, ann['id'])
        if key not in self._boundaries:
            self._boundaries[key] = rle_to_boundary_rle(
                ann['segmentation'], self.dilation_ratio)
        return self._boundaries[key]

    def computeIoU(self, imgId: int, catId: int) -> np.ndarray:
        """IoU matrix of one image and category.

        Args:
            imgId (int): Image id.
            catId (int): Category id; ignored when ``params.useCats`` is 0.

        Returns:
            np.ndarray | list: (num_dets, num_gts) IoUs, detections sorted by
            descending score and cut at ``params.maxDets[-1]``, as
            ``COCOeval.computeIoU`` orders them; ``[]`` when either side is
            empty.
        """
        p = self.params
        if p.useCats:
            gts: List[dict] = self._gts[imgId, catId]
            dts: List[dict] = self._dts[imgId, catId]
        else:
            gts = [g for c in p.catIds for g in self._gts[imgId, c]]
            dts = [d for c in p.catIds for d in self._dts[imgId, c]]
        if len(gts) == 0 or len(dts) == 0:
            return []
        order = np.argsort([-d['score'] for d in dts], kind='mergesort')
        dts = [dts[i] for i in order[:p.maxDets[-1]]]

        iscrowd = np.array([int(g['iscrowd']) for g in gts], dtype=bool)
        ious = np.asarray(
            mask_util.iou([d['segmentation'] for d in dts],
                          [g['segmentation'] for g in gts],
                          iscrowd.astype(np.uint8).tolist()),
            dtype=np.float64).reshape(len(dts), len(gts))
        if iscrowd.all():
            return ious
        regular = [g for g, crowd in zip(gts, iscrowd) if not crowd]
        boundary_ious = np.asarray(
            mask_util.iou([self._boundary(d, 'dt') for d in dts],
                          [self._boundary(g, 'gt') for g in regular],
                          [0] * len(regular)),
            dtype=np.float64).reshape(len(dts), len(regular))
        ious[:, ~iscrowd] = np.minimum(ious[:, ~iscrowd], boundary_ious)
        return ious
