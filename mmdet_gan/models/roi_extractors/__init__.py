# Copyright (c) mmdet-gan contributors. All rights reserved.
from .multi_level_max_roi_extractor import MultiLevelMaxRoIExtractor
from .registry_single_roi_extractor import RegistrySingleRoIExtractor
from .roi_layers import build_roi_layers_from_registry, prroi_pool_dtype

__all__ = [
    'RegistrySingleRoIExtractor', 'MultiLevelMaxRoIExtractor',
    'build_roi_layers_from_registry', 'prroi_pool_dtype'
]
