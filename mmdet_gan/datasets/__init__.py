# Copyright (c) mmdet-gan contributors. All rights reserved.
from .synthetic import (DEMO_CLASSES, DEMO_PALETTE, DemoDatasetConfig,
                        create_demo_dataset, generate_image, is_up_to_date,
                        mask_to_annotation)

__all__ = [
    'DEMO_CLASSES', 'DEMO_PALETTE', 'DemoDatasetConfig', 'create_demo_dataset',
    'generate_image', 'is_up_to_date', 'mask_to_annotation'
]
