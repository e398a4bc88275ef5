import os.path as osp
import socket

import pytest

import mmdet_gan  # noqa: F401
from mmdet_gan.utils.stack import mmdet_models_import_error

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs')

if mmdet_models_import_error() is None:
    # the full stack; without mmcv's compiled ops (the light stack, e.g. on
    # a GPU machine where mmcv cannot be built) mmdet.models does not
    # import, and only the tests of what loads there (tests/test_ops) run
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)

CUDA_SKIP_REASON = 'cuda: needs a GPU and the CUDA build of mmdet_gan._ext'


def cuda_available() -> bool:
    """A GPU and a CUDA build of ``mmdet_gan._ext``: what the ``cuda``
    marker's tests need."""
    import torch
    if not torch.cuda.is_available():
        return False
    from mmdet_gan.ops.prroi_pool import _load_ext
    return bool(_load_ext().with_cuda())


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked ``cuda`` (the one list of CUDA-only cases) on
    a machine without a GPU or without the CUDA build; ``pytest -m cuda``
    on a GPU machine runs exactly them."""
    if cuda_available():
        return
    skip = pytest.mark.skip(reason=CUDA_SKIP_REASON)
    for item in items:
        if item.get_closest_marker('cuda') is not None:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many CUDA-only tests this run skipped."""
    skipped = sum(
        CUDA_SKIP_REASON in str(getattr(report, 'longrepr', ''))
        for report in terminalreporter.stats.get('skipped', []))
    if skipped:
        terminalreporter.write_line(
            f'{skipped} CUDA-only tests skipped (marker `cuda`: no GPU or no '
            'CUDA build here; run `pytest -m cuda` on a GPU machine)')


@pytest.fixture
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def tiny_demo_data(tmp_path_factory) -> str:
    """A small demo dataset (8 train / 4 val images of 128 px)."""
    from mmdet_gan.datasets import DemoDatasetConfig, create_demo_dataset
    root = str(tmp_path_factory.mktemp('tiny_demo'))
    create_demo_dataset(
        root, DemoDatasetConfig(num_train=8, num_val=4, img_size=128))
    return root


def tiny_run_options(data_root: str, max_epochs: int = 1) -> list:
    """``--cfg-options`` that point a demo config at ``data_root`` and make
    the run short and single-process friendly."""
    data_root = data_root.rstrip('/') + '/'
    ann_val = data_root + 'annotations/instances_val.json'
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'val_evaluator.ann_file={ann_val}',
        f'test_evaluator.ann_file={ann_val}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'train_cfg.max_epochs={max_epochs}',
        'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.checkpoint.max_keep_ckpts=5',
        'default_hooks.logger.interval=1',
    ]


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a process group's rendezvous."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
