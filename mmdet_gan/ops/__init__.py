# Copyright (c) mmdet-gan contributors. All rights reserved.
from .prroi_pool import PrRoIPool, PrRoIPoolFunction, prroi_pool

__all__ = ['prroi_pool', 'PrRoIPool', 'PrRoIPoolFunction']
