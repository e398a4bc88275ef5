"""Config adjustments shared by ``tools/train.py`` and ``tools/test.py``.

They mirror MMDetection's tools, plus what a GAN model and a CPU-only
machine need: automatic mixed precision per player of an
``OptimWrapperDict`` and distributed runs over gloo when CUDA is absent.
"""
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict

from .checkpoint_safety import UNSAFE_LOAD_ENV

PLAYER_KEYS = ('generator', 'discriminator')


def is_multi_player_optim_wrapper(optim_wrapper: dict) -> bool:
    """Whether an ``optim_wrapper`` config holds one wrapper per player."""
    return any(
        isinstance(optim_wrapper.get(key), dict) for key in PLAYER_KEYS)


def enable_amp(cfg: Config) -> None:
    """Switch the config's optim wrapper(s) to ``AmpOptimWrapper``.

    A single wrapper is switched the way ``mmdet/tools/train.py --amp``
    does. With one wrapper per player (``generator``/``discriminator``),
    each player gets its own ``AmpOptimWrapper`` and GradScaler, because the
    top-level keys of such a config are player names.
    """
    optim_wrapper = cfg.optim_wrapper
    if is_multi_player_optim_wrapper(optim_wrapper):
        targets = [
            optim_wrapper[key] for key in optim_wrapper
            if isinstance(optim_wrapper[key], dict)
        ]
    else:
        targets = [optim_wrapper]
    for target in targets:
        if target.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.')
            continue
        target['type'] = 'AmpOptimWrapper'
        target['loss_scale'] = 'dynamic'


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
        torch_dist.init_process_group(backend='gloo')
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
            device_ids=None)
    else:
        wrapper_cfg.setdefault('device_ids', None)


def allow_unsafe_checkpoint_load() -> None:
    """Explicit opt-in to ``weights_only=False`` for trusted checkpoints."""
    os.environ[UNSAFE_LOAD_ENV] = '1'
