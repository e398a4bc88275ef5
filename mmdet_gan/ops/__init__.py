# Copyright (c) mmdet-gan contributors. All rights reserved.
from .prroi_pool import (MultiLevelMaxPrRoIPoolFunction, PrRoIPool,
                         PrRoIPoolFunction, multi_level_max_prroi_pool,
                         prroi_pool)

__all__ = [
    'prroi_pool', 'PrRoIPool', 'PrRoIPoolFunction',
    'multi_level_max_prroi_pool', 'MultiLevelMaxPrRoIPoolFunction'
]
