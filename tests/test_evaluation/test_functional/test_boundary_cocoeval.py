# Copyright (c) mmdet-gan contributors. All rights reserved.
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmdet.datasets.api_wrappers import COCO

from mmdet_gan.evaluation.functional import BoundaryCOCOeval, boundary_iou

H, W = 100, 100  # d = round(0.02 * 141.4) = 3


def _rect(y0, x0, h, w):
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[y0:y0 + h, x0:x0 + w] = 1
    return mask


def _rle(mask):
    rle = mask_util.encode(np.asfortranarray(mask))
    rle['counts'] = rle['counts'].decode()
    return rle


def _coco(gt_masks, crowd=()):
    coco = COCO()
    anns = []
    for i, mask in enumerate(gt_masks, 1):
        anns.append(
            dict(
                id=i,
                image_id=1,
                category_id=1,
                segmentation=_rle(mask),
                area=float(mask.sum()),
                bbox=list(mask_util.toBbox(_rle(mask))),
                iscrowd=int(i - 1 in crowd)))
    coco.dataset = dict(
        images=[dict(id=1, height=H, width=W)],
        categories=[dict(id=1, name='a')],
        annotations=anns)
    coco.createIndex()
    return coco


def _evaluate(gt_masks, dt_masks, scores, crowd=(), dilation_ratio=0.02):
    coco_gt = _coco(gt_masks, crowd)
    coco_dt = coco_gt.loadRes([
        dict(image_id=1, category_id=1, segmentation=_rle(m), score=s)
        for m, s in zip(dt_masks, scores)
    ])
    coco_eval = BoundaryCOCOeval(coco_gt, coco_dt, dilation_ratio)
    coco_eval.evaluate()
    return coco_eval


def test_iou_is_min_of_mask_and_boundary_iou():
    gt = [_rect(20, 20, 40, 40), _rect(70, 10, 3, 60)]
    # shifted by 2 px: mask IoU 0.905, boundary IoU 0.5 (d = 3)
    # a thin bar, all boundary: boundary IoU equals mask IoU
    dt = [np.roll(gt[0], 2, axis=1), np.roll(gt[1], 20, axis=1)]
    coco_eval = _evaluate(gt, dt, scores=[0.2, 0.9])
    ious = coco_eval.ious[1, 1]
    assert ious.shape == (2, 2)
    # rows are detections by descending score, as in COCOeval
    assert ious[0, 1] == pytest.approx(40 / 80)
    assert ious[1, 0] == pytest.approx(0.5)
    assert ious[0, 0] == 0 and ious[1, 1] == 0
    for d, g in [(1, 0), (0, 1)]:
        mask_iou = (dt[d] & gt[g]).sum() / (dt[d] | gt[g]).sum()
        assert ious[1 - d, g] == pytest.approx(
            min(mask_iou, boundary_iou(gt[g], dt[d], 0.02)))


def test_identical_masks_and_empty_sides():
    gt = [_rect(20, 20, 40, 40)]
    coco_eval = _evaluate(gt, gt, scores=[0.5])
    np.testing.assert_allclose(coco_eval.ious[1, 1], [[1.0]])
    coco_eval.accumulate()
    coco_eval.summarize()
    assert coco_eval.stats[0] == pytest.approx(1.0)
    # a detection without ground truth in its image/category: no IoU matrix
    coco_eval = BoundaryCOCOeval(
        _coco([]),
        _coco(gt).loadRes([
            dict(
                image_id=1, category_id=1, segmentation=_rle(gt[0]), score=0.5)
        ]))
    coco_eval.evaluate()
    assert len(coco_eval.ious[1, 1]) == 0


def test_crowd_keeps_mask_iou():
    crowd = _rect(10, 10, 60, 60)
    dt = _rect(20, 20, 10, 10)
    coco_eval = _evaluate([crowd], [dt], scores=[0.9], crowd=(0, ))
    # against a crowd region COCO uses intersection over detection area
    np.testing.assert_allclose(coco_eval.ious[1, 1], [[1.0]])
    # the detection is matched to the crowd region and ignored
    coco_eval.accumulate()
    assert (coco_eval.eval['precision'] == -1).all()


def test_large_dilation_gives_mask_iou():
    gt = [_rect(20, 20, 40, 40)]
    dt = [np.roll(gt[0], 5, axis=0)]
    coco_eval = _evaluate(gt, dt, scores=[0.9], dilation_ratio=1.0)
    assert coco_eval.ious[1, 1][0, 0] == pytest.approx(35 / 45)


def test_invalid_dilation_ratio():
    with pytest.raises(ValueError, match='dilation_ratio must be positive'):
        BoundaryCOCOeval(_coco([]), _coco([]), dilation_ratio=0)
