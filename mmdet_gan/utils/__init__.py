from .checkpoint_safety import (CheckpointLoadError, UnsafeCheckpointError,
                                checkpoint_safe_globals, load_from_local_safe,
                                register_checkpoint_safe_globals)

__all__ = [
    'CheckpointLoadError', 'UnsafeCheckpointError', 'checkpoint_safe_globals',
    'load_from_local_safe', 'register_checkpoint_safe_globals'
]
