# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The parameters of the synthetic demo dataset."""
from dataclasses import dataclass, field

GENERATOR_VERSION = 1
"""Bump when the drawing code changes, so stale data gets regenerated."""


@dataclass
class DemoDatasetConfig:
    """Parameters of the demo dataset; saved in the manifest.

    Args:
        num_train (int): Number of training images. Defaults to 240.
        num_val (int): Number of validation images. Defaults to 60.
        img_size (int): Side of the square images in pixels. Defaults to
            192.
        min_objects (int): Fewest objects drawn per image (before dropping
            the mostly occluded ones). Defaults to 2.
        max_objects (int): Most objects drawn per image. Defaults to 6.
        min_visible (float): An object is kept only if at least this
            fraction of its full shape stays visible. Defaults to 0.5.
        seed (int): Seed of the random generator. Defaults to 0.
    """

    num_train: int = 240
    num_val: int = 60
    img_size: int = 192
    min_objects: int = 2
    max_objects: int = 6
    min_visible: float = 0.5
    seed: int = 0
    version: int = field(default=GENERATOR_VERSION)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid parameter."""
        for name in ('num_train', 'num_val', 'img_size', 'min_objects',
                     'max_objects', 'seed'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    f'{name} must be an int, got {type(value).__name__}')
        if self.num_train < 1:
            raise ValueError(f'num_train must be >= 1, got {self.num_train}')
        if self.num_val < 1:
            raise ValueError(f'num_val must be >= 1, got {self.num_val}')
        if not 64 <= self.img_size <= 1024:
            raise ValueError(
                f'img_size must be in [64, 1024], got {self.img_size}')
        if self.min_objects < 1:
            raise ValueError(
                f'min_objects must be >= 1, got {self.min_objects}')
        if self.max_objects < self.min_objects:
            raise ValueError(f'max_objects ({self.max_objects}) must be >= '
                             f'min_objects ({self.min_objects})')
        if not 0.0 < self.min_visible <= 1.0:
            raise ValueError(
                f'min_visible must be in (0, 1], got {self.min_visible}')
        if self.seed < 0:
            raise ValueError(f'seed must be >= 0, got {self.seed}')
