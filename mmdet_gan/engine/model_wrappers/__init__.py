from .gan_distributed import GANDistributedDataParallel

__all__ = ['GANDistributedDataParallel']
