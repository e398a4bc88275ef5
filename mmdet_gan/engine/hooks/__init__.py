from .checkpoint_tmp_cleanup_hook import CheckpointTmpCleanupHook
from .dataset_check_hook import DatasetCheckHook
from .gan_train_check_hook import GANTrainCheckHook
from .rng_state_hook import RNGStateHook
from .safe_checkpoint_load_hook import SafeCheckpointLoadHook

__all__ = [
    'CheckpointTmpCleanupHook', 'DatasetCheckHook', 'GANTrainCheckHook',
    'RNGStateHook', 'SafeCheckpointLoadHook'
]
