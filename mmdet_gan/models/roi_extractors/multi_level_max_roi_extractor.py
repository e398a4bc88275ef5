# Copyright (c) mmdet-gan contributors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import BaseRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from torch import Tensor

from mmdet_gan.ops import PrRoIPool, multi_level_max_prroi_pool
from .roi_layers import build_roi_layers_from_registry, prroi_pool_dtype


@MODELS.register_module()
class MultiLevelMaxRoIExtractor(BaseRoIExtractor):
    """Pools every RoI from several feature levels and fuses them by
    element-wise max.

    This is the pooler of the GAN Mask R-CNN reference implementation
    (Precise RoI Pooling, 28x28, from P2-P5, max-fused). Its cost grows
    linearly with the number of pooled levels and, for Precise RoI Pooling,
    with the RoI's area on each level (large boxes on P2 are the expensive
    part), so ``levels`` can restrict it, e.g. ``levels=[1, 2, 3]`` skips
    P2.

    With Precise RoI Pooling layers the pooling and the max are one
    autograd node (:func:`mmdet_gan.ops.multi_level_max_prroi_pool`) that
    keeps only the fused output and the winning level per element for the
    backward pass; other layers (``RoIAlign``) are fused with
    ``torch.maximum``. Under autocast (float16/bfloat16 features) Precise
    RoI Pooling gets the RoIs in float32, not rounded to the features'
    dtype, and returns float32 features (see :func:`prroi_pool_dtype`).

    The alternative is MMDetection's convention of pooling each RoI from the
    single level its scale maps to: use
    :class:`RegistrySingleRoIExtractor` with the same ``roi_layer``.

    Example::

        dict(type='MultiLevelMaxRoIExtractor',
             roi_layer=dict(type='PrRoIPool', output_size=28),
             out_channels=256,
             featmap_strides=[4, 8, 16, 32],
             levels=None)

    Args:
        roi_layer (dict | ConfigDict): RoI layer config; the type is looked
            up in MMDetection's ``MODELS`` first (``'PrRoIPool'``), then in
            ``mmcv.ops`` (``'RoIAlign'``).
        out_channels (int): Channels of the feature maps.
        featmap_strides (list[int]): Strides of the input feature levels.
        levels (Sequence[int], optional): Indices (into ``featmap_strides``)
            of the levels to pool and fuse. None pools all of them.
            Defaults to None.
        init_cfg (dict | ConfigDict | list, optional): Initialization
            config. Defaults to None.
    """

    def __init__(self,
                 roi_layer: ConfigType,
                 out_channels: int,
                 featmap_strides: List[int],
                 levels: Optional[Sequence[int]] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            roi_layer=roi_layer,
            out_channels=out_channels,
            featmap_strides=featmap_strides,
            init_cfg=init_cfg)
        num_levels = len(featmap_strides)
        if levels is None:
            levels = range(num_levels)
        levels = [int(lvl) for lvl in levels]
        if (not levels or len(set(levels)) != len(levels)
                or not all(0 <= lvl < num_levels for lvl in levels)):
            raise ValueError(
                '`levels` must be None or distinct indices in '
                f'[0, {num_levels}) of featmap_strides={featmap_strides}, '
                f'got {levels}')
        self.levels = levels

    def build_roi_layers(self, layer_cfg: ConfigType,
                         featmap_strides: List[int]) -> nn.ModuleList:
        """Builds the per-level RoI layers, ``MODELS`` first, then
        ``mmcv.ops``; see :func:`build_roi_layers_from_registry`."""
        return build_roi_layers_from_registry(layer_cfg, featmap_strides)

    def forward(self,
                feats: Tuple[Tensor],
                rois: Tensor,
                roi_scale_factor: Optional[float] = None) -> Tensor:
        """Pools ``rois`` from each selected level and takes the max.

        Args:
            feats (tuple[Tensor]): Feature levels, each (N, C, H_l, W_l).
            rois (Tensor): (K, 5) RoIs as ``[batch_idx, x1, y1, x2, y2]`` in
                image coordinates.
            roi_scale_factor (float, optional): Scale the RoIs about their
                centres before pooling. Defaults to None.

        Returns:
            Tensor: (K, C, PH, PW) fused RoI features: with Precise RoI
            Pooling layers in the dtype of :func:`prroi_pool_dtype` (float32
            for float16/bfloat16 features), otherwise in the dtype of
            ``feats``.
        """
        layers = [self.roi_layers[lvl] for lvl in self.levels]
        with_prroi = all(isinstance(layer, PrRoIPool) for layer in layers)
        # Precise RoI Pooling takes float32 RoIs under AMP (the coordinates
        # are the box discriminator's signal); other layers get them in the
        # features' dtype, as from SingleRoIExtractor.
        rois = rois.to(
            prroi_pool_dtype(feats[0]) if with_prroi else feats[0].dtype)
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        if rois.size(0) == 0:
            out_size = self.roi_layers[0].output_size
            out_size = (out_size, ) * 2 if isinstance(out_size,
                                                      int) else out_size
            # Keep every pooled level and the rois in the graph (DDP expects
            # it; an empty batch of boxes still gives a zero gradient).
            return rois.new_zeros(0, self.out_channels, *out_size) + sum(
                feats[lvl].sum() * 0. for lvl in self.levels) + rois.sum() * 0.
        if with_prroi:
            # One autograd node: keeps the fused output and the winning
            # level's index for backward, not every level's output.
            return multi_level_max_prroi_pool(
                [feats[lvl]
                 for lvl in self.levels], rois, layers[0].output_size,
                [layer.spatial_scale for layer in layers])
        roi_feats = None
        for lvl in self.levels:
            lvl_feats = self.roi_layers[lvl](feats[lvl], rois)
            roi_feats = lvl_feats if roi_feats is None else torch.maximum(
                roi_feats, lvl_feats)
        return roi_feats.type_as(feats[0])
