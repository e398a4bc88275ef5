# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The tools silence setuptools' ``pkg_resources is deprecated`` warning
where mmengine triggers it, and nothing else."""
import os.path as osp
import subprocess
import sys
import warnings

import pytest

from mmdet_gan.utils.warning_filters import (PKG_RESOURCES_DEPRECATION,
                                             ignore_pkg_resources_deprecation)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
# a config with an ``mmdet::`` base: parsing it imports pkg_resources
CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                  'mask_rcnn_r18_fpn_demo.py')
MESSAGE = PKG_RESOURCES_DEPRECATION + '. See https://setuptools.pypa.io/...'


def shown(message, category, module):
    """Whether a warning attributed to ``module`` passes the filters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ignore_pkg_resources_deprecation()
        warnings.warn_explicit(
            message, category, f'{module}.py', 1, module=module)
    return len(caught) == 1


def test_filters_match_only_that_warning_of_its_sources():
    assert not shown(MESSAGE, UserWarning, 'mmengine.utils.package_utils')
    assert not shown(MESSAGE, UserWarning, 'importlib')
    # the same message from elsewhere, other modules' names starting alike
    assert shown(MESSAGE, UserWarning, 'my_project.setup_utils')
    assert shown(MESSAGE, UserWarning, 'importlib.metadata')
    assert shown(MESSAGE, UserWarning, 'mmengine.utils.package_utils_v2')
    # another warning of the same modules, or another category
    assert shown('other message', UserWarning, 'mmengine.utils.package_utils')
    assert shown('pkg_resources is fine', UserWarning, 'importlib')
    assert shown(MESSAGE, DeprecationWarning, 'importlib')
    # and no filter outlived the catch_warnings blocks
    assert not any(f[1] is not None and f[1].match(MESSAGE)
                   for f in warnings.filters)


def run_python(*args):
    return subprocess.run([sys.executable, *args],
                          capture_output=True,
                          text=True,
                          cwd=REPO_ROOT,
                          timeout=300)


@pytest.mark.slow
def test_train_tool_parses_a_config_without_the_warning(tmp_path):
    parse = f'from mmengine.config import Config; Config.fromfile({CONFIG!r})'
    control = run_python('-c', parse)
    assert control.returncode == 0, control.stderr
    if PKG_RESOURCES_DEPRECATION not in control.stderr:
        pytest.skip('this setuptools does not warn when pkg_resources is '
                    'imported: nothing to silence')
    missing = str(tmp_path / 'missing.pth')
    # the tool parses the config, then stops at the missing checkpoint
    proc = run_python(TRAIN, CONFIG, '--resume', missing)
    assert proc.returncode != 0
    assert f'--resume {missing!r}: no such checkpoint' in proc.stderr
    assert PKG_RESOURCES_DEPRECATION not in proc.stderr
    # the tool's filters hide that warning only: run the tool as a script
    # in a process that then warns twice more
    driver = f'''
import runpy, sys, warnings
sys.argv = [{TRAIN!r}, {CONFIG!r}, '--resume', {missing!r}]
try:
    runpy.run_path({TRAIN!r}, run_name='__main__')
except FileNotFoundError:
    pass
warnings.warn_explicit({MESSAGE!r}, UserWarning, 'x.py', 1, module='x')
warnings.warn_explicit('another warning', UserWarning, 'package_utils.py', 2,
                       module='mmengine.utils.package_utils')
'''
    proc = run_python('-c', driver)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count(PKG_RESOURCES_DEPRECATION) == 1
    assert f'x.py:1: UserWarning: {MESSAGE}' in proc.stderr
    assert 'package_utils.py:2: UserWarning: another warning' in proc.stderr
