# Copyright (c) mmdet-gan contributors. All rights reserved.
import json
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.evaluator import Evaluator

import mmdet_gan.evaluation  # noqa: F401  registers BoundaryIoUMetric

H, W = 160, 200  # boundary width d = round(0.02 * 256.1) = 5
CLASSES = ('a', 'b')
BOUNDARY_KEYS = ('boundary_AP', 'boundary_AP50', 'boundary_AP75',
                 'boundary_APs', 'boundary_APm', 'boundary_APl')
# Per category one object in each image, one of each COCO area range:
# (image id, category id, mask, iscrowd)
LARGE_POLYGON = [30, 20, 130, 20, 130, 90, 90, 130, 30, 130]  # area > 96**2


def _rect(y0, x0, h, w):
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[y0:y0 + h, x0:x0 + w] = 1
    return mask


OBJECTS = [
    (1, 1, LARGE_POLYGON, 0),
    (1, 2, _rect(10, 150, 20, 20), 0),  # small
    (1, 1, _rect(135, 150, 20, 40), 1),  # crowd region
    (2, 1, _rect(50, 40, 40, 60), 0),  # medium
    (2, 2, _rect(60, 120, 50, 50), 0),  # medium
]


def _segmentation(obj):
    if isinstance(obj, list):
        rle = mask_util.merge(mask_util.frPyObjects([obj], H, W))
        return [obj], rle
    rle = mask_util.encode(np.asfortranarray(obj))
    rle['counts'] = rle['counts'].decode()
    return rle, rle


def _write_ann_file(tmp_path, objects=OBJECTS, name='ann.json'):
    annotations = []
    for i, (img_id, cat_id, obj, iscrowd) in enumerate(objects, 1):
        segmentation, rle = _segmentation(obj)
        annotations.append(
            dict(
                id=i,
                image_id=img_id,
                category_id=cat_id,
                segmentation=segmentation,
                area=float(mask_util.area(rle)),
                bbox=[float(v) for v in mask_util.toBbox(rle)],
                iscrowd=iscrowd))
    dataset = dict(
        images=[
            dict(id=i, file_name=f'{i}.jpg', height=H, width=W) for i in (1, 2)
        ],
        categories=[dict(id=i, name=n) for i, n in enumerate(CLASSES, 1)],
        annotations=annotations)
    path = osp.join(str(tmp_path), name)
    with open(path, 'w') as f:
        json.dump(dataset, f)
    return path


def _bbox(mask):
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return [0., 0., 0., 0.]
    return [xs.min(), ys.min(), xs.max() + 1., ys.max() + 1.]


def _pred_instances(masks, labels, scores):
    masks = np.asarray(masks, dtype=bool).reshape(-1, H, W)
    return dict(
        bboxes=torch.tensor([_bbox(m) for m in masks],
                            dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.int64),
        masks=torch.from_numpy(masks))


def _data_samples(ann_file, transform=None, skip_images=(), extra=None):
    """Predictions made from the ground truth, in mmdet's data flow."""
    coco = COCO(ann_file)
    samples = []
    for img_id in sorted(coco.get_img_ids()):
        masks, labels, scores = [], [], []
        if img_id not in skip_images:
            for ann in coco.load_anns(
                    coco.get_ann_ids(img_ids=[img_id], iscrowd=False)):
                mask = coco.annToMask(ann)
                masks.append(transform(mask) if transform else mask)
                labels.append(ann['category_id'] - 1)
                scores.append(0.9 - 0.1 * len(scores))
        for mask, label, score in (extra or {}).get(img_id, []):
            masks.append(mask)
            labels.append(label)
            scores.append(score)
        samples.append(
            dict(
                img_id=img_id,
                ori_shape=(H, W),
                pred_instances=_pred_instances(masks, labels, scores)))
    return samples


def _erode(mask, pixels=1):
    return cv2.erode(mask, np.ones((2 * pixels + 1, ) * 2, np.uint8))


def _evaluate(samples, **kwargs):
    metric = METRICS.build(dict(type='BoundaryIoUMetric', **kwargs))
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples)
    return metric.evaluate(size=len(samples))


def test_build_and_validate(tmp_path):
    ann_file = _write_ann_file(tmp_path)
    metric = METRICS.build(
        dict(type='BoundaryIoUMetric', ann_file=ann_file, dilation_ratio=0.01))
    assert type(metric).__name__ == 'BoundaryIoUMetric'
    assert isinstance(metric, CocoMetric)
    assert metric.dilation_ratio == 0.01
    assert metric.prefix == 'coco'
    with pytest.raises(ValueError, match='dilation_ratio must be positive'):
        METRICS.build(
            dict(
                type='BoundaryIoUMetric', ann_file=ann_file, dilation_ratio=0))


def test_perfect_predictions(tmp_path):
    ann_file = _write_ann_file(tmp_path)
    # a confident detection on the crowd region is ignored, as in COCO
    crowd = _rect(135, 150, 20, 40)
    samples = _data_samples(ann_file, extra={1: [(crowd, 0, 0.99)]})
    results = _evaluate(samples, ann_file=ann_file)
    assert list(results) == [f'coco/{key}' for key in BOUNDARY_KEYS]
    for key in BOUNDARY_KEYS:
        assert results[f'coco/{key}'] == 1.0, key


def test_prefix_and_classwise(tmp_path):
    ann_file = _write_ann_file(tmp_path)
    results = _evaluate(
        _data_samples(ann_file, skip_images=(2, )),
        ann_file=ann_file,
        prefix='boundary',
        classwise=True)
    # image 2 has no prediction: each class finds one of its two objects
    assert results['boundary/boundary_AP'] == pytest.approx(0.505)
    assert results['boundary/a_boundary_AP'] == pytest.approx(0.505)
    assert results['boundary/b_boundary_AP'] == pytest.approx(0.505)
    # small and large objects are all in image 1, medium ones in image 2
    assert results['boundary/boundary_APs'] == 1.0
    assert results['boundary/boundary_APl'] == 1.0
    assert results['boundary/boundary_APm'] == 0.0


def test_eroded_predictions_next_to_coco_metric(tmp_path):
    """Masks 1 px too small: fine for mask AP, poor for Boundary AP.

    With d = 5 every eroded band overlaps its ground-truth band on 4 of the
    6 pixel rings they cover together, so Boundary IoU is about 0.67 for
    every object and only the thresholds 0.50 to 0.65 match: AP = 4 / 10.
    """
    ann_file = _write_ann_file(tmp_path)
    samples = _data_samples(ann_file, transform=_erode)
    evaluator = Evaluator([
        METRICS.build(
            dict(type='CocoMetric', ann_file=ann_file, metric='segm')),
        METRICS.build(
            dict(
                type='BoundaryIoUMetric',
                ann_file=ann_file,
                dilation_ratio=0.02)),
    ])
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(data_samples=samples, data_batch={})
    results = evaluator.evaluate(len(samples))
    assert results['coco/segm_mAP_50'] == 1.0
    assert results['coco/segm_mAP_75'] == 1.0
    assert results['coco/segm_mAP'] > 0.8
    assert results['coco/boundary_AP50'] == 1.0
    assert results['coco/boundary_AP75'] == 0.0
    assert results['coco/boundary_AP'] == pytest.approx(0.4)
    assert results['coco/boundary_AP'] < results['coco/segm_mAP'] - 0.4

    # With a band covering whole masks, Boundary AP is mask AP.
    wide = _evaluate(samples, ann_file=ann_file, dilation_ratio=1.0)
    segm_keys = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
    for boundary_key, segm_key in zip(BOUNDARY_KEYS, segm_keys):
        assert wide[f'coco/{boundary_key}'] == pytest.approx(
            results[f'coco/segm_{segm_key}']), boundary_key


def test_empty_predictions(tmp_path):
    ann_file = _write_ann_file(tmp_path)
    samples = _data_samples(ann_file, skip_images=(1, 2))
    results = _evaluate(samples, ann_file=ann_file)
    for key in BOUNDARY_KEYS:
        assert results[f'coco/{key}'] == 0.0, key


def test_no_ground_truth(tmp_path):
    ann_file = _write_ann_file(tmp_path, objects=[], name='empty.json')
    # with and without predictions, there is nothing to score: -1
    for extra in (None, {1: [(_rect(10, 10, 30, 30), 0, 0.9)]}):
        samples = _data_samples(ann_file, extra=extra)
        results = _evaluate(samples, ann_file=ann_file)
        for key in BOUNDARY_KEYS:
            assert results[f'coco/{key}'] == -1.0, key


def test_ground_truth_from_data_samples(tmp_path):
    """Without ann_file the ground truth comes from data_sample instances."""
    ann_file = _write_ann_file(tmp_path)
    coco = COCO(ann_file)
    samples = _data_samples(ann_file, transform=_erode)
    for sample in samples:
        instances = []
        for ann in coco.load_anns(
                coco.get_ann_ids(img_ids=[sample['img_id']])):
            x, y, w, h = ann['bbox']
            instances.append(
                dict(
                    bbox=[x, y, x + w, y + h],
                    bbox_label=ann['category_id'] - 1,
                    mask=ann['segmentation'],
                    ignore_flag=ann['iscrowd']))
        sample['instances'] = instances
    converted = _evaluate(samples)
    from_file = _evaluate(samples, ann_file=ann_file)
    # area ranges differ (CocoMetric converts with box areas); AP does not
    assert converted['coco/boundary_AP'] == from_file['coco/boundary_AP']
    assert 0 < converted['coco/boundary_AP'] < 1


def test_predictions_without_masks(tmp_path):
    ann_file = _write_ann_file(tmp_path)
    samples = _data_samples(ann_file)
    for sample in samples:
        del sample['pred_instances']['masks']
    with pytest.raises(KeyError, match='needs instance masks'):
        _evaluate(samples, ann_file=ann_file)
