"""mmdet-gan: GAN Mask R-CNN for MMDetection 3.x.

Importing this package (``custom_imports=dict(imports=['mmdet_gan'])``)
registers its modules in MMDetection's registries, the ``'atomic_local'``
file backend under that name in MMEngine's, and allow-lists the classes
MMEngine checkpoints contain for ``torch.load(weights_only=True)``. It
changes no other behaviour of MMEngine or torch: atomic checkpoint writes
and the safe loader's errors are chosen in a config (the GAN configs do).

:func:`config_path` gives the path of a config shipped with the package, for
``_base_`` of another project's config.
"""
from .config_paths import config_path
from .utils.atomic_io import register_atomic_local_backend
from .utils.checkpoint_safety import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()
register_atomic_local_backend()

from . import engine, evaluation, models, ops  # noqa: E402,F401

__all__ = ['__version__', 'config_path', 'register_checkpoint_safe_globals']
