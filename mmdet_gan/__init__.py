"""mmdet-gan: GAN Mask R-CNN for MMDetection 3.x.

Importing this package (``custom_imports=dict(imports=['mmdet_gan'])``)
registers its modules in MMDetection's registries, the ``'atomic_local'``
file backend under that name in MMEngine's, and allow-lists the classes
MMEngine checkpoints contain for ``torch.load(weights_only=True)``. It
changes no other behaviour of MMEngine or torch: atomic checkpoint writes
and the safe loader's errors are chosen in a config (the GAN configs do).

Where ``mmdet.models`` cannot be imported (mmcv without its compiled ops),
the import warns, says what is missing, and loads the part that does not
need it: ``mmdet_gan.ops`` (torch only) and the discriminators and
adversarial losses (:mod:`mmdet_gan.utils.stack`).

:func:`config_path` gives the path of a config shipped with the package, for
``_base_`` of another project's config.
"""
import warnings

from .config_paths import config_path
from .utils.atomic_io import register_atomic_local_backend
from .utils.checkpoint_safety import register_checkpoint_safe_globals
from .utils.stack import full_stack_message, mmdet_models_import_error
from .version import __version__

register_checkpoint_safe_globals()
register_atomic_local_backend()

from . import models, ops  # noqa: E402,F401

if mmdet_models_import_error() is None:
    from . import engine, evaluation  # noqa: E402,F401
else:
    warnings.warn(full_stack_message(mmdet_models_import_error()))

__all__ = ['__version__', 'config_path', 'register_checkpoint_safe_globals']
