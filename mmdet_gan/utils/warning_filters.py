# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Warning filters of the command-line tools (``tools/``).

A tool calls :func:`ignore_pkg_resources_deprecation` when it runs as a
script, before its ``main()``; importing this module changes nothing, and
neither does importing a tool (tests, ``compare_runs.py``), so no other
process's warnings change.

setuptools warns ``pkg_resources is deprecated as an API`` (a UserWarning in
the pinned 80.9) when ``pkg_resources`` is imported. In the pinned stack
(mmengine 0.10, mmcv 2.1, mmdet 3.3) only mmengine imports it, and lazily:
``mmengine.utils.is_installed`` and ``get_installed_path`` do when a config
with an ``mmdet::`` base is parsed (``Config.fromfile``,
``mmengine.hub.get_config``), never at import time, so filters installed
once the tool's imports are done see every occurrence. The warning
(``stacklevel=2``) is attributed to the module that runs the import:
``mmengine.utils.package_utils`` for the import, and ``importlib`` for the
``importlib.reload(pkg_resources)`` that ``is_installed`` does next. One
filter per source, each matching the message's start, the category and the
whole module name: the same message from any other module, and any other
warning of these modules, is shown as before.
"""
import re
import warnings

#: Start of setuptools' message (``pkg_resources/__init__.py``).
PKG_RESOURCES_DEPRECATION = 'pkg_resources is deprecated as an API'
#: The modules that message is attributed to in the tools.
PKG_RESOURCES_SOURCES = ('mmengine.utils.package_utils', 'importlib')


def ignore_pkg_resources_deprecation() -> None:
    """Ignore setuptools' ``pkg_resources is deprecated`` UserWarning where
    mmengine triggers it (see the module docstring), and nothing else."""
    for module in PKG_RESOURCES_SOURCES:
        warnings.filterwarnings(
            'ignore',
            message=re.escape(PKG_RESOURCES_DEPRECATION),
            category=UserWarning,
            module=re.escape(module) + r'\Z')
