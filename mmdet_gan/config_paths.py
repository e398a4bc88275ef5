"""Where the configs shipped with mmdet-gan are, installed or checked out.

Another project's config inherits ours with one line::

    _base_ = __import__('mmdet_gan').config_path(
        'gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py')

Why a call and not a string: an old-style MMEngine config names its bases
by path, or by ``package::path`` for the packages MMEngine 0.10 lists in
``mmengine.config.utils.MODULE2PACKAGE`` only (``mmdet::`` is there,
``mmdet_gan::`` cannot be), and the bases are resolved before
``custom_imports`` runs. MMEngine evaluates the ``_base_`` line as a Python
expression (``Config._get_base_files``), so a call that returns the
installed file's path works wherever MMEngine loads configs: MMDetection's
own ``tools/train.py`` and ``test.py``, ``mim train mmdet``, this package's
tools. (Pure-Python configs, ``with read_base(): from pkg.configs...``, do
resolve installed packages, but mmdet 3.3.0's wheel ships no pure-Python
Mask R-CNN configs to build on, and an old-style config cannot inherit a
pure-Python one.)

A wheel carries the configs in ``mmdet_gan/.mim/configs`` (MMDetection's
layout, ``mmdet/.mim/configs``); an editable install uses the checkout's
``configs/``.
"""
import os
import os.path as osp
from typing import List

_PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
#: A folder that only this project's config tree has (checkout fallback).
_MARKER = 'gan_mask_rcnn'


def config_dir() -> str:
    """The folder of the shipped configs.

    Returns:
        str: ``<package>/.mim/configs`` in an installed wheel, else the
        ``configs/`` folder of the checkout the package is imported from.

    Raises:
        FileNotFoundError: neither exists (a broken installation).
    """
    candidates = [
        osp.join(_PACKAGE_DIR, '.mim', 'configs'),
        osp.join(osp.dirname(_PACKAGE_DIR), 'configs'),
    ]
    for candidate in candidates:
        if osp.isdir(osp.join(candidate, _MARKER)):
            return candidate
    raise FileNotFoundError(
        'mmdet_gan ships no configs in this installation (looked in '
        f'{candidates}); reinstall it from a wheel or a checkout: '
        '`pip install --no-build-isolation <mmdet-gan checkout or wheel>`')


def available_configs() -> List[str]:
    """Paths, relative to :func:`config_dir`, of the shipped configs."""
    root = config_dir()
    found = []
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            if filename.endswith('.py'):
                found.append(
                    osp.relpath(osp.join(dirpath, filename),
                                root).replace(os.sep, '/'))
    return sorted(found)


def config_path(name: str) -> str:
    """Absolute path of a shipped config, e.g. for another config's
    ``_base_``.

    Args:
        name (str): Path relative to the config folder, e.g.
            ``'gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py'``.

    Returns:
        str: The absolute path of that file.

    Raises:
        FileNotFoundError: no such config; the message lists the shipped
            ones.
    """
    path = osp.join(config_dir(), name)
    if not osp.isfile(path):
        configs = [
            c for c in available_configs() if not c.startswith('_base_/')
        ]
        raise FileNotFoundError(
            f'mmdet_gan has no config {name!r}; the shipped configs are: '
            f'{", ".join(configs)}')
    return path
