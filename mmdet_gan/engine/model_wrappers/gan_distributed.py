"""Distributed data parallel for models that step several optimizers."""
from typing import Dict, Union

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapperDict
from mmengine.registry import MODEL_WRAPPERS


# Registered in MMEngine's root registry: ``Runner.wrap_model`` looks the
# wrapper type up with ``MODEL_WRAPPERS.get`` on the root, which does not
# search child registries such as mmdet's.
@MODEL_WRAPPERS.register_module()
class GANDistributedDataParallel(MMDistributedDataParallel):
    """DDP wrapper for :class:`GANMaskRCNN` and other models whose
    ``train_step`` runs several optimizer steps per iteration.

    MMEngine's ``MMDistributedDataParallel.train_step`` never calls the
    model's ``train_step`` (it runs a single-optimizer step and fails on an
    ``OptimWrapperDict``). This wrapper delegates ``train_step`` to the
    model; the model averages each player's gradients over the processes
    before that player's step (``mmdet_gan.utils.all_reduce_grads``), so the
    DDP reducer is not used. Parameters are broadcast from rank 0 when the
    wrapper is built (by DDP), and buffers (BatchNorm statistics) before
    every step when ``broadcast_buffers`` is True, so all processes hold the
    same model.

    Use with ``model_wrapper_cfg = dict(type='GANDistributedDataParallel')``.
    """

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        if self.broadcast_buffers:
            self._broadcast_buffers_from_rank0()
        return self.module.train_step(data, optim_wrapper)

    @torch.no_grad()
    def _broadcast_buffers_from_rank0(self) -> None:
        for buffer in self.module.buffers():
            torch.distributed.broadcast(buffer, src=0)
