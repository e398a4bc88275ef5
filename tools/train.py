# Copyright (c) mmdet-gan contributors. Mirrors mmdet 3.3.0 tools/train.py.
"""Train a detector (GAN Mask R-CNN or any MMDetection model)."""
import argparse
import os

from mmdet.registry import RUNNERS
from mmdet.utils import setup_cache_size_limit_of_dynamo
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmdet_gan  # noqa: F401  (registers modules, safe checkpoint loading)
from mmdet_gan.utils.dataset_check import explain_dataset_error
from mmdet_gan.utils.launch import (allow_unsafe_checkpoint_load, enable_amp,
                                    release_distributed, resolve_work_dir,
                                    setup_cpu_distributed)
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (one '
        'AmpOptimWrapper per player for GAN configs)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='allow loading checkpoints that need more than the safe '
        'allow-list (weights_only=False). Only for files you trust.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_train_config(args) -> Config:
    """Turn the command line into the config the runner is built from."""
    if not os.path.isfile(args.config):
        raise FileNotFoundError(
            f'config file {args.config!r} does not exist; pass the path of '
            'a config, e.g. '
            'configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    resolve_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and \
                'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('--auto-scale-lr needs "auto_scale_lr" with '
                               '"enable" and "base_batch_size" in the config')
    # resume is determined in this priority: resume from > auto_resume
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not os.path.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume!r}: no such checkpoint; pass an '
                'existing file, or --resume alone for the latest checkpoint '
                'of the work dir')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    setup_cache_size_limit_of_dynamo()
    if args.unsafe_load_checkpoint:
        allow_unsafe_checkpoint_load()
    cfg = build_train_config(args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    try:
        runner.train()
    except ValueError as err:
        # e.g. an empty dataset fails inside the runner with numpy's
        # "need at least one array to concatenate"
        explained = explain_dataset_error(err, cfg.train_dataloader.dataset)
        if explained is None:
            raise
        raise explained from err
    release_distributed()


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    main()
