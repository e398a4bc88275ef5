"""Shared pieces of the reliability tests: a small GAN config on the tiny
demo data, running tools/train.py in a subprocess, and a file that fails
halfway through a write."""
import errno
import os
import os.path as osp
import subprocess
import sys
import textwrap
from typing import Optional

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GAN_CFG = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                   'gan_mask_rcnn_r18_fpn_box-d_demo.py')
TRAIN_TOOL = osp.join(REPO_ROOT, 'tools', 'train.py')


class FailingFile:
    """A file whose ``write`` stores the first half of the data, then fails
    like a full disk."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[:len(data) // 2])
        self._f.flush()
        raise OSError(errno.ENOSPC, 'No space left on device')

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def write_small_gan_config(path: str,
                           data_root: str,
                           ann_file: str = 'annotations/instances_train.json',
                           num_images: Optional[int] = 4,
                           max_epochs: int = 3,
                           shuffle: bool = True,
                           flip: bool = True,
                           filter_empty_gt: bool = True) -> str:
    """A config file inheriting the GAN demo config, changed only where it
    costs time: 64 px inputs, 32-channel FPN and heads, 8 adversarial
    samples, batch 2, no validation, a checkpoint every epoch, main-process
    data loading (``num_workers=0``). Its ``custom_hooks`` are the GAN
    configs' plus the test-only ``SigkillHook`` (inactive unless its
    environment variable is set)."""
    base_hooks = [dict(hook) for hook in Config.fromfile(GAN_CFG).custom_hooks]
    flip_step = ("dict(type='RandomFlip', prob=[0.25, 0.25], "
                 "direction=['horizontal', 'vertical']),") if flip else ''
    text = textwrap.dedent(f"""\
        _base_ = {GAN_CFG!r}
        custom_imports = dict(
            imports=['mmdet_gan', 'tests.test_reliability.fault_injection'],
            allow_failed_imports=False)
        ch = 32
        model = dict(
            neck=dict(out_channels=ch),
            rpn_head=dict(in_channels=ch, feat_channels=ch),
            roi_head=dict(
                bbox_roi_extractor=dict(out_channels=ch),
                mask_roi_extractor=dict(out_channels=ch),
                bbox_head=dict(in_channels=ch, fc_out_channels=64),
                mask_head=dict(in_channels=ch, conv_out_channels=ch),
                adv_box_roi_extractor=dict(out_channels=ch),
                adv_mask_roi_extractor=dict(out_channels=ch),
                num_adv_samples=8),
            discriminator=dict(
                box=dict(in_channels=ch), mask=dict(in_channels=ch)),
            train_cfg=dict(
                rpn_proposal=dict(nms_pre=200, max_per_img=64),
                rcnn=dict(sampler=dict(num=32))))
        train_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            {flip_step}
            dict(type='PackDetInputs')
        ]
        train_dataloader = dict(
            batch_size=2,
            num_workers=0,
            persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle={shuffle!r}),
            dataset=dict(
                data_root={data_root.rstrip('/') + '/'!r},
                ann_file={ann_file!r},
                indices={num_images!r},
                filter_cfg=dict(filter_empty_gt={filter_empty_gt!r}),
                pipeline=train_pipeline))
        val_dataloader = None
        val_evaluator = None
        val_cfg = None
        test_dataloader = None
        test_evaluator = None
        test_cfg = None
        train_cfg = dict(max_epochs={max_epochs})
        default_hooks = dict(
            logger=dict(interval=1),
            checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=5))
        custom_hooks = {base_hooks!r} + [dict(type='SigkillHook')]
        """)
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_train(cfg_path: str,
              work_dir: str,
              *args: str,
              env: dict = None,
              timeout: int = 600) -> subprocess.CompletedProcess:
    """``python tools/train.py CFG --work-dir WORK_DIR ARGS`` in a fresh
    process (repository root on ``PYTHONPATH``).

    One intra-op thread: on the shared 2-core test machine a second thread
    makes these tiny iterations 5-40x slower (OpenMP threads spin while
    other processes hold the cores), and every run of a comparison must use
    the same thread count anyway.
    """
    full_env = dict(
        os.environ,
        PYTHONPATH=REPO_ROOT,
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        **(env or {}))
    return subprocess.run(
        [sys.executable, TRAIN_TOOL, cfg_path, '--work-dir', work_dir, *args],
        cwd=osp.dirname(work_dir),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout)


def output_tail(proc: subprocess.CompletedProcess, chars: int = 4000) -> str:
    return (proc.stdout + proc.stderr)[-chars:]
