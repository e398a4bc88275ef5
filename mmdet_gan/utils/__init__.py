from .checkpoint_safety import (CheckpointLoadError, UnsafeCheckpointError,
                                checkpoint_safe_globals, load_from_local_safe,
                                register_checkpoint_safe_globals)
from .profiling import RANGE_NAMES, RANGE_PREFIX, profile_range

__all__ = [
    'CheckpointLoadError', 'UnsafeCheckpointError', 'checkpoint_safe_globals',
    'load_from_local_safe', 'register_checkpoint_safe_globals', 'RANGE_NAMES',
    'RANGE_PREFIX', 'profile_range'
]
