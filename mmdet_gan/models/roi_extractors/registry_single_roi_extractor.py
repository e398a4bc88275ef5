# Copyright (c) mmdet-gan contributors. All rights reserved.
from typing import List

import torch.nn as nn
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.utils import ConfigType

from .roi_layers import build_roi_layers_from_registry


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

    Layers found only in ``mmcv.ops`` (``RoIAlign``, ...) work as before.
    Args are those of ``SingleRoIExtractor``.
    """

    def build_roi_layers(self, layer_cfg: ConfigType,
                         featmap_strides: List[int]) -> nn.ModuleList:
        """Builds the per-level RoI layers, ``MODELS`` first, then
        ``mmcv.ops``; see :func:`build_roi_layers_from_registry`."""
        return build_roi_layers_from_registry(layer_cfg, featmap_strides)
