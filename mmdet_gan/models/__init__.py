from mmdet_gan.utils.stack import mmdet_models_import_error
from .discriminators import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

# the rest builds on mmdet.models (mmcv's compiled ops); see
# mmdet_gan.utils.stack
if mmdet_models_import_error() is None:
    from .detectors import *  # noqa: F401,F403
    from .game import *  # noqa: F401,F403
    from .roi_extractors import *  # noqa: F401,F403
    from .roi_heads import *  # noqa: F401,F403
