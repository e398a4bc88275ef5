# Copyright (c) mmdet-gan contributors. All rights reserved.
import copy
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.fileio import load
from mmengine.logging import MMLogger
from terminaltables import AsciiTable

from ..functional import BoundaryCOCOeval


@METRICS.register_module()
class BoundaryIoUMetric(CocoMetric):
    """Boundary AP: COCO instance segmentation AP with Boundary IoU.

    Boundary IoU (Cheng et al., "Boundary IoU: Improving Object-Centric Image
    Segmentation Evaluation", CVPR 2021) scores a mask by the IoU of its
    boundary band with the ground truth's, so it keeps penalising contour
    errors on large objects where mask IoU saturates. Boundary AP is COCO
    mask AP with the mask IoU of a detection and a non-crowd ground truth
    replaced by ``min(mask IoU, boundary IoU)``, as the reference code does
    (see :class:`~mmdet_gan.evaluation.functional.BoundaryCOCOeval`).

    It takes the same inputs as :class:`mmdet.evaluation.CocoMetric` (its
    ``process`` is reused: masks are RLE-encoded per batch) and can sit next
    to it in ``val_evaluator``::

        val_evaluator = [
            dict(type='CocoMetric', ann_file=ann_file,
                 metric=['bbox', 'segm']),
            dict(type='BoundaryIoUMetric', ann_file=ann_file,
                 dilation_ratio=0.02),
        ]

    Results, with the default prefix: ``coco/boundary_AP``,
    ``coco/boundary_AP50``, ``coco/boundary_AP75``, ``coco/boundary_APs``,
    ``coco/boundary_APm``, ``coco/boundary_APl``; they do not collide with
    ``CocoMetric``'s ``coco/segm_mAP`` and the like. ``maxDets`` (100, 300,
    1000) and the area ranges (by annotation ``area``) are ``CocoMetric``'s,
    so Boundary AP and mask AP of one run compare directly. An image without
    predictions counts its ground truths as misses; with no predictions at
    all every AP is 0, and an AP with no ground truth to score is -1, as in
    ``COCOeval``.

    Args:
        ann_file (str, optional): Path to the COCO annotation file. If not
            given, ground truth is converted from the data samples'
            ``instances`` (see ``CocoMetric``). Defaults to None.
        dilation_ratio (float): Boundary band width as a fraction of the
            image diagonal. Defaults to 0.02 (the paper's value for COCO).
        classwise (bool): Whether to also report ``{class}_boundary_AP``
            and log a per-class table. Defaults to False.
        iou_thrs (float | Sequence[float], optional): IoU thresholds.
            Defaults to None (0.50:0.05:0.95).
        backend_args (dict, optional): Backend arguments for reading
            ``ann_file``. Defaults to None.
        collect_device (str): Device for collecting results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            None, i.e. ``default_prefix`` ('coco').
        sort_categories (bool): Whether to sort the categories of
            ``ann_file`` by id (Objects365). Defaults to False.
    """
    default_prefix: Optional[str] = 'coco'

    #: Reported names and their index in ``COCOeval.stats``.
    stat_names = OrderedDict(
        boundary_AP=0,
        boundary_AP50=1,
        boundary_AP75=2,
        boundary_APs=3,
        boundary_APm=4,
        boundary_APl=5)

    def __init__(self,
                 ann_file: Optional[str] = None,
                 dilation_ratio: float = 0.02,
                 classwise: bool = False,
                 iou_thrs: Optional[Union[float, Sequence[float]]] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sort_categories: bool = False) -> None:
        if dilation_ratio <= 0:
            raise ValueError(
                f'dilation_ratio must be positive, got {dilation_ratio}')
        super().__init__(
            ann_file=ann_file,
            metric='segm',
            classwise=classwise,
            iou_thrs=iou_thrs,
            backend_args=backend_args,
            collect_device=collect_device,
            prefix=prefix,
            sort_categories=sort_categories)
        self.dilation_ratio = dilation_ratio

    def _load_predictions(self, predictions: list) -> COCO:
        """Detections as a COCO results API, also when there are none.

        ``COCO.loadRes`` cannot take an empty list; an empty result set is
        built by hand so that COCOeval scores it (AP 0) instead of failing.
        """
        # Without a bbox, loadRes takes each detection's area from its mask,
        # so small/medium/large follow the mask (see CocoMetric).
        for pred in predictions:
            pred.pop('bbox', None)
        if predictions:
            return self._coco_api.loadRes(predictions)
        coco_dt = COCO()
        coco_dt.dataset = dict(
            images=list(self._coco_api.dataset['images']),
            categories=copy.deepcopy(self._coco_api.dataset['categories']),
            annotations=[])
        coco_dt.createIndex()
        return coco_dt

    def _log_classwise(self, coco_eval: BoundaryCOCOeval,
                       logger: MMLogger) -> Dict[str, float]:
        """Per-class Boundary AP (all IoUs, all areas, last maxDets)."""
        precisions = coco_eval.eval['precision']  # (T, R, K, A, M)
        results = OrderedDict()
        rows = [['category', 'boundary_AP']]
        for idx, cat_id in enumerate(self.cat_ids):
            name = self._coco_api.loadCats(cat_id)[0]['name']
            precision = precisions[:, :, idx, 0, -1]
            precision = precision[precision > -1]
            ap = float(np.mean(precision)) if precision.size else float('nan')
            results[f'{name}_boundary_AP'] = round(ap, 3)
            rows.append([name, f'{ap:.3f}'])
        logger.info('\n' + AsciiTable(rows).table)
        return results

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute Boundary AP from the processed results.

        Args:
            results (list): ``(gt, pred)`` pairs from :meth:`process`.

        Returns:
            Dict[str, float]: ``boundary_AP``, ``boundary_AP50``,
            ``boundary_AP75``, ``boundary_APs``, ``boundary_APm``,
            ``boundary_APl`` and, with ``classwise``, ``{class}_boundary_AP``.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)
        with tempfile.TemporaryDirectory() as tmp_dir:
            outfile_prefix = osp.join(tmp_dir, 'results')
            if self._coco_api is None:
                logger.info('Converting ground truth to coco format...')
                self._coco_api = COCO(
                    self.gt_to_coco_json(gts, outfile_prefix))
            if self.cat_ids is None:
                self.cat_ids = self._coco_api.get_cat_ids(
                    cat_names=self.dataset_meta['classes'])
            if self.img_ids is None:
                self.img_ids = self._coco_api.get_img_ids()
            result_files = self.results2json(preds, outfile_prefix)
            if 'segm' not in result_files:
                raise KeyError('BoundaryIoUMetric needs instance masks, but '
                               'pred_instances has no "masks"')
            predictions = load(result_files['segm'])

        logger.info('Evaluating boundary (dilation_ratio='
                    f'{self.dilation_ratio})...')
        coco_eval = BoundaryCOCOeval(
            self._coco_api,
            self._load_predictions(predictions),
            dilation_ratio=self.dilation_ratio)
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self.img_ids
        coco_eval.params.maxDets = list(self.proposal_nums)
        coco_eval.params.iouThrs = self.iou_thrs
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()

        eval_results = OrderedDict()
        for name, index in self.stat_names.items():
            eval_results[name] = round(float(coco_eval.stats[index]), 3)
        if self.classwise:
            eval_results.update(self._log_classwise(coco_eval, logger))
        logger.info('boundary_AP_copypaste: ' +
                    ' '.join(f'{eval_results[name]:.3f}'
                             for name in self.stat_names))
        return eval_results
