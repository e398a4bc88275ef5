"""Which part of the OpenMMLab stack this process can import.

``mmdet_gan.ops`` needs torch only, and the discriminators and adversarial
losses need torch, MMEngine, mmcv's Python part (``mmcv.cnn``, in
``mmcv-lite`` too) and MMDetection's registry. The detectors, RoI heads and
extractors, the engine and the evaluation build on ``mmdet.models``, which
needs mmcv's compiled ops (``mmcv._ext``). A machine without them (e.g. a GPU
machine where mmcv's CUDA ops cannot be built in time) can still import and
check the first group.
"""
import functools
from typing import Optional


@functools.lru_cache(maxsize=None)
def mmdet_models_import_error() -> Optional[ImportError]:
    """None if ``mmdet.models`` imports here, else its ``ImportError``
    (e.g. ``No module named 'mmcv._ext'``: mmcv without its ops)."""
    try:
        import mmdet.models  # noqa: F401
    except ImportError as error:
        return error
    return None


def full_stack_message(error: ImportError) -> str:
    """What a user reads when only the light part of the package loaded."""
    return (f'mmdet_gan: MMDetection\'s models cannot be imported here '
            f'({error}), so the GAN detectors, RoI heads, extractors, hooks '
            'and metrics are not registered; only mmdet_gan.ops and '
            'mmdet_gan.models.{discriminators,losses} are usable. Install '
            'mmcv==2.1.0 with its ops (see the README) to train.')
