# Copyright (c) mmdet-gan contributors. All rights reserved.
"""RoI layers in MMDetection's ``MODELS`` and a registry-aware builder.

MMDetection's ``BaseRoIExtractor.build_roi_layers`` resolves a string
``roi_layer.type`` with ``getattr(mmcv.ops, type)`` only, so
``roi_layer=dict(type='PrRoIPool')`` in a stock ``SingleRoIExtractor`` picks
mmcv's CUDA-only op. The extractors of this package build their layers with
:func:`build_roi_layers_from_registry`, which looks in ``MODELS`` first.
"""
from typing import List

import torch
import torch.nn as nn
from mmcv import ops as mmcv_ops
from mmdet.registry import MODELS
from mmdet.utils import ConfigType
from torch import Tensor

from mmdet_gan.ops import PrRoIPool

# mmdet's MODELS has no 'PrRoIPool' (mmcv registers no RoI layers), so this
# name cannot shadow another module; registering fails loudly if it ever does.
MODELS.register_module(name='PrRoIPool', module=PrRoIPool)


def build_roi_layers_from_registry(
        layer_cfg: ConfigType, featmap_strides: List[int]) -> nn.ModuleList:
    """Builds one RoI layer per feature level.

    ``layer_cfg['type']`` is looked up in MMDetection's ``MODELS`` first
    (e.g. ``'PrRoIPool'`` gives :class:`mmdet_gan.ops.PrRoIPool`), then in
    ``mmcv.ops`` (e.g. ``'RoIAlign'``); a class is used as is.

    Args:
        layer_cfg (dict | ConfigDict): RoI layer config; the other keys are
            passed to the layer with ``spatial_scale=1 / stride``.
        featmap_strides (list[int]): Strides of the feature levels.

    Returns:
        nn.ModuleList: ``len(featmap_strides)`` RoI layers.
    """
    cfg = layer_cfg.copy()
    layer_type = cfg.pop('type')
    if isinstance(layer_type, str):
        layer_cls = MODELS.get(layer_type)
        if layer_cls is None:
            layer_cls = getattr(mmcv_ops, layer_type, None)
        if layer_cls is None:
            raise KeyError(f'RoI layer type {layer_type!r} is neither in '
                           'mmdet.registry.MODELS nor in mmcv.ops')
    else:
        layer_cls = layer_type
    return nn.ModuleList(
        [layer_cls(spatial_scale=1 / s, **cfg) for s in featmap_strides])


def prroi_pool_dtype(feats: Tensor) -> torch.dtype:
    """The dtype Precise RoI Pooling computes ``feats`` in, and so the
    dtype its RoIs are given in: float32 for float16/bfloat16 features
    (autocast), the features' dtype otherwise (float64 stays float64, e.g.
    for gradcheck).

    MMDetection's extractors cast the RoIs to the features' dtype instead,
    which under autocast rounds a box coordinate between 512 and 2048 px to
    steps of 0.5-1 px in float16 (4-8 px in bfloat16); the box coordinates
    are what the box discriminator's gradient trains.

    Args:
        feats (Tensor): (N, C, H, W) features of one level.

    Returns:
        torch.dtype: The dtype of the RoIs and of the pooled output.
    """
    if feats.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return feats.dtype
