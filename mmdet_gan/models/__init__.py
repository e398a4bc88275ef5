from .detectors import *  # noqa: F401,F403
from .discriminators import *  # noqa: F401,F403
from .game import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .roi_extractors import *  # noqa: F401,F403
from .roi_heads import *  # noqa: F401,F403
