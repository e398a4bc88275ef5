# Copyright (c) mmdet-gan contributors. All rights reserved.
from typing import List, Optional, Tuple

import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import ConfigType
from torch import Tensor

from mmdet_gan.ops import PrRoIPool, prroi_pool
from .roi_layers import build_roi_layers_from_registry, prroi_pool_dtype


@MODELS.register_module()
class RegistrySingleRoIExtractor(SingleRoIExtractor):
    """``SingleRoIExtractor`` whose RoI layer type is looked up in
    MMDetection's ``MODELS`` before ``mmcv.ops``.

    Everything else is MMDetection's ``SingleRoIExtractor``: each RoI is
    pooled from the one FPN level its scale maps to (``finest_scale``). It
    lets any two-stage config use this package's CPU+CUDA Precise RoI
    Pooling (stock ``SingleRoIExtractor`` would resolve ``'PrRoIPool'`` to
    mmcv's CUDA-only op)::

        bbox_roi_extractor=dict(
            type='RegistrySingleRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=7),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32])

    With Precise RoI Pooling layers the RoIs keep float32 under autocast
    (``SingleRoIExtractor`` casts them to the features' float16/bfloat16)
    and the output is float32 (see :func:`prroi_pool_dtype`). Layers found
    only in ``mmcv.ops`` (``RoIAlign``, ...) work as before. Args are those
    of ``SingleRoIExtractor``.
    """

    def build_roi_layers(self, layer_cfg: ConfigType,
                         featmap_strides: List[int]) -> nn.ModuleList:
        """Builds the per-level RoI layers, ``MODELS`` first, then
        ``mmcv.ops``; see :func:`build_roi_layers_from_registry`."""
        return build_roi_layers_from_registry(layer_cfg, featmap_strides)

    def forward(self,
                feats: Tuple[Tensor],
                rois: Tensor,
                roi_scale_factor: Optional[float] = None,
                target_lvls: Optional[Tensor] = None) -> Tensor:
        """Pools each RoI from the level its scale maps to (or from
        ``target_lvls``).

        With :class:`~mmdet_gan.ops.PrRoIPool` layers the RoIs are not
        rounded to the features' dtype: under autocast they stay float32
        (float64 stays float64); otherwise this is
        ``SingleRoIExtractor.forward``.

        Args:
            feats (tuple[Tensor]): Feature levels, each (N, C, H_l, W_l).
            rois (Tensor): (K, 5) RoIs as ``[batch_idx, x1, y1, x2, y2]`` in
                image coordinates.
            roi_scale_factor (float, optional): Scale the RoIs about their
                centres after mapping them to levels. Defaults to None.
            target_lvls (Tensor, optional): (K, ) level index of each RoI,
                instead of the one its scale maps to (e.g. a predicted box
                pooled at its ground-truth box's level); Precise RoI
                Pooling layers only. Defaults to None.

        Returns:
            Tensor: (K, C, PH, PW) RoI features; with Precise RoI Pooling
            layers in the dtype of :func:`prroi_pool_dtype` (float32 for
            float16/bfloat16 features).
        """
        if not all(isinstance(layer, PrRoIPool) for layer in self.roi_layers):
            if target_lvls is not None:
                raise ValueError('target_lvls needs PrRoIPool layers (got '
                                 f'{type(self.roi_layers[0]).__name__})')
            return super().forward(feats, rois, roi_scale_factor)
        rois = rois.to(prroi_pool_dtype(feats[0]))
        num_levels = len(feats)
        roi_feats = rois.new_zeros(
            rois.size(0), self.out_channels, *self.roi_layers[0].output_size)
        if target_lvls is None:
            target_lvls = self.map_roi_levels(rois, num_levels)
        elif target_lvls.shape != rois.shape[:1]:
            raise ValueError(f'target_lvls must be ({rois.size(0)}, ), got '
                             f'{tuple(target_lvls.shape)}')
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        for i in range(num_levels):
            inds = (target_lvls == i).nonzero(as_tuple=False).squeeze(1)
            if inds.numel() > 0:
                layer = self.roi_layers[i]
                roi_feats[inds] = prroi_pool(feats[i], rois[inds],
                                             layer.output_size,
                                             layer.spatial_scale)
            else:
                # Keep every level in the graph, as SingleRoIExtractor does
                # (DDP expects the same graph on every process).
                roi_feats += feats[i].sum() * 0.
        return roi_feats
