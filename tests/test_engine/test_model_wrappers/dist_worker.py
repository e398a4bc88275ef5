"""Worker of test_gan_distributed.py, started with torchrun (2 processes,
gloo, CPU): a few GAN train steps through GANDistributedDataParallel, each
rank on its own batch, then each rank saves its weights."""
import os
import sys

import torch
import torch.distributed as dist
from mmdet.registry import MODEL_WRAPPERS, MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper

import mmdet_gan  # noqa: F401


def params_of(model):
    """The weights (parameters): BatchNorm statistics are buffers, synced
    from rank 0 before each step and then updated on each rank's batch."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def main(config: str, out_dir: str, num_steps: int) -> None:
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    register_all_modules()
    # a different initialisation on each rank: the wrapper must broadcast
    torch.manual_seed(rank)
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapped = MODEL_WRAPPERS.build(
        dict(cfg.model_wrapper_cfg, device_ids=None),
        default_args=dict(module=model))
    optim_wrapper = build_optim_wrapper(wrapped, cfg.optim_wrapper)
    torch.save(params_of(model), os.path.join(out_dir, f'init{rank}.pth'))
    for step in range(num_steps):
        MessageHub.get_current_instance().update_info('iter', step)
        torch.manual_seed(100 * step + rank)  # different data per rank
        data = demo_mm_inputs(
            2, [[3, 128, 128]] * 2,
            num_items=[2 + rank, 1],
            num_classes=4,
            with_mask=True)
        wrapped.train_step(data, optim_wrapper)
    torch.save(params_of(model), os.path.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
