import os.path as osp

import pytest
from mmdet.utils import register_all_modules

import mmdet_gan  # noqa: F401

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs')

register_all_modules(init_default_scope=True)


@pytest.fixture
def repo_root() -> str:
    return REPO_ROOT
