"""Config adjustments shared by ``tools/train.py`` and ``tools/test.py``.

They mirror MMDetection's tools, plus what a GAN model and a CPU-only
machine need: automatic mixed precision per player of an
``OptimWrapperDict`` and distributed runs over gloo when CUDA is absent.
"""
import datetime
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict

from .checkpoint_safety import UNSAFE_LOAD_ENV


def enable_amp(cfg: Config) -> None:
    """Switch the config's optim wrapper to ``AmpOptimWrapper``, exactly as
    ``mmdet/tools/train.py --amp`` does.

    The top-level ``type`` / ``loss_scale`` of a GAN optim wrapper are the
    default of both players (``GANOptimWrapperConstructor``), so each player
    gets its own ``AmpOptimWrapper`` and GradScaler unless it sets its own
    ``type``.

    Raises:
        ValueError: the optim wrapper's type is neither ``OptimWrapper`` nor
            ``AmpOptimWrapper``.
    """
    optim_wrapper = cfg.optim_wrapper
    wrapper_type = optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.')
        return
    if wrapper_type != 'OptimWrapper':
        raise ValueError(
            '--amp is only supported when the optimizer wrapper type is '
            f'OptimWrapper, but got {wrapper_type!r}')
    optim_wrapper.type = 'AmpOptimWrapper'
    optim_wrapper.loss_scale = 'dynamic'


def print_log(msg: str) -> None:
    from mmengine.logging import print_log as mm_print_log
    mm_print_log(msg, logger='current')


def resolve_work_dir(cfg: Config, config_path: str,
                     work_dir: Optional[str]) -> None:
    """Work dir priority: CLI > config > ``./work_dirs/<config stem>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Make ``--launcher pytorch`` work on machines without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` (which fails on
    CPU builds of torch) and its default DDP wrapper passes
    ``device_ids=[LOCAL_RANK]`` (which DDP rejects for CPU modules). On such
    machines the process group is initialised here with gloo, and the model
    wrapper gets ``device_ids=None``. Nothing changes when CUDA is available.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'
    if launcher == 'pytorch' and not torch_dist.is_initialized():
        kwargs = {}
        if dist_cfg.get('timeout') is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
            device_ids=None)
    else:
        wrapper_cfg.setdefault('device_ids', None)


def release_distributed() -> None:
    """Destroy the default process group at the end of a run that has one.

    MMEngine's runner never destroys it, so the interpreter's shutdown
    finds gloo's worker threads still holding their work objects, which can
    abort the process after a finished run ("terminate called without an
    active exception", seen once in ``tools/dist_train.sh`` on a loaded
    machine; pytorch/pytorch#190489). torch's documentation asks every
    process to call ``destroy_process_group`` once communication is over.
    Called by ``tools/train.py`` and ``tools/test.py`` after a run that
    returned normally (every rank gets there), not after an exception: with
    NCCL, destroying the group can wait for ranks that never come.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def allow_unsafe_checkpoint_load() -> None:
    """Explicit opt-in to ``weights_only=False`` for trusted checkpoints."""
    os.environ[UNSAFE_LOAD_ENV] = '1'
