"""mmdet-gan: GAN Mask R-CNN for MMDetection 3.x.

Importing this package (``custom_imports=dict(imports=['mmdet_gan'])``)
registers every module in MMDetection's registries and allow-lists the
classes MMEngine checkpoints contain for ``torch.load(weights_only=True)``.
"""
from .utils.atomic_io import register_atomic_local_backend
from .utils.checkpoint_safety import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()
register_atomic_local_backend()

from . import engine, evaluation, models, ops  # noqa: E402,F401

__all__ = ['__version__', 'register_checkpoint_safe_globals']
