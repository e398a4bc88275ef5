"""Distributed data parallel for models that step several optimizers."""
from typing import Any, Dict, Union

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapperDict
from mmengine.registry import MODEL_WRAPPERS
from torch import nn

from mmdet_gan.utils.dist_utils import broadcast_coalesced

#: Arguments of MMEngine's / torch's DDP that the runner or a config may
#: pass and that have no meaning here (no reducer, no device placement).
_IGNORED_DDP_ARGS = ('device_ids', 'output_device', 'find_unused_parameters',
                     'bucket_cap_mb', 'gradient_as_bucket_view',
                     'static_graph', 'dim', 'check_bucket_view')


# Registered in MMEngine's root registry: ``Runner.wrap_model`` looks the
# wrapper type up with ``MODEL_WRAPPERS.get`` on the root, which does not
# search child registries such as mmdet's.
@MODEL_WRAPPERS.register_module()
class GANDistributedDataParallel(nn.Module):
    """Data parallel wrapper for :class:`GANMaskRCNN` and other models whose
    ``train_step`` runs several optimizer steps per iteration.

    MMEngine's ``MMDistributedDataParallel.train_step`` never calls the
    model's ``train_step`` (it runs a single-optimizer step and fails on an
    ``OptimWrapperDict``). This wrapper delegates ``train_step``,
    ``val_step`` and ``test_step`` to the model; the model averages each
    player's gradients over the processes during that player's backward
    pass, in buckets whose all-reduce overlaps the rest of the pass, as
    DDP's reducer does (:class:`mmdet_gan.utils.dist_utils.GradientAverager`).

    It is not a ``torch.nn.parallel.DistributedDataParallel``: DDP's reducer
    would only see one of the players' backward passes. What
    DDP would do that matters is done here: parameters and buffers are
    broadcast from rank 0 when the wrapper is built, and buffers (BatchNorm
    statistics) before every step when ``broadcast_buffers`` is True, with
    one collective per dtype (:func:`broadcast_coalesced`) rather than one
    per buffer.

    Use with ``model_wrapper_cfg = dict(type='GANDistributedDataParallel')``.

    Args:
        module (nn.Module): The model, already on its device.
        broadcast_buffers (bool): Broadcast buffers from rank 0 before every
            training step. Defaults to True.
        **kwargs: DDP arguments that the runner or a config may pass
            (``device_ids``, ``find_unused_parameters``, ...); they have no
            effect here.
    """

    def __init__(self,
                 module: nn.Module,
                 broadcast_buffers: bool = True,
                 **kwargs: Any) -> None:
        super().__init__()
        unknown = sorted(set(kwargs) - set(_IGNORED_DDP_ARGS))
        if unknown:
            raise TypeError(
                f'GANDistributedDataParallel got unexpected arguments '
                f'{unknown}; it takes module and broadcast_buffers (and '
                f'ignores the DDP arguments {list(_IGNORED_DDP_ARGS)})')
        ignored = sorted(k for k, v in kwargs.items() if v is not None)
        if ignored:
            print_log(
                f'GANDistributedDataParallel ignores {ignored}: it has no '
                'DDP reducer (each player averages its own gradients)',
                logger='current')
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        with torch.no_grad():
            broadcast_coalesced(
                list(module.parameters()) + list(module.buffers()))

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        """Sync buffers from rank 0, then the model's own ``train_step``."""
        if self.broadcast_buffers:
            broadcast_coalesced(self.module.buffers())
        return self.module.train_step(data, optim_wrapper)

    def val_step(self, data: Union[dict, tuple, list]) -> list:
        """The model's ``val_step``."""
        return self.module.val_step(data)

    def test_step(self, data: Union[dict, tuple, list]) -> list:
        """The model's ``test_step``."""
        return self.module.test_step(data)

    def forward(self, *args, **kwargs) -> Any:
        """The model's ``forward``."""
        return self.module(*args, **kwargs)
