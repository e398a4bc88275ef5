from .dataset_check_hook import DatasetCheckHook
from .gan_train_check_hook import GANTrainCheckHook
from .rng_state_hook import RNGStateHook

__all__ = ['DatasetCheckHook', 'GANTrainCheckHook', 'RNGStateHook']
