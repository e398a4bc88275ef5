"""Builds the compiled ops of mmdet_gan (``mmdet_gan._ext``).

Package metadata lives in ``setup.cfg``; this file only declares the
extension, the way mmcv's ``setup.py`` does:

* ``CUDAExtension`` when CUDA is available or ``FORCE_CUDA=1`` (then the
  ``.cu`` sources and ``MMDET_GAN_WITH_CUDA`` are compiled in; the target
  architectures follow ``TORCH_CUDA_ARCH_LIST``);
* ``CppExtension`` otherwise (CPU kernels only);
* no extension at all with ``MMDET_GAN_WITH_OPS=0``.

A build also puts the user-facing ``configs/`` and ``tools/`` into the
package as ``mmdet_gan/.mim/configs`` and ``mmdet_gan/.mim/tools``
(MMDetection's layout, ``mmdet/.mim/``), so an installed wheel can be
inherited from (``mmdet_gan.config_path``); an editable install uses the
checkout's folders.

Build with ``pip install --no-build-isolation .`` (``-e .`` for development,
``pip wheel --no-build-isolation --no-deps .`` for a wheel) so that the
extension is compiled against the installed torch, as mmcv's ops are.
"""
import glob
import os
import os.path as osp
import shutil
from setuptools import setup
from setuptools.command.build_py import build_py

CSRC = osp.join('ops', 'csrc')
#: What a wheel carries under mmdet_gan/.mim/: the configs, and the tools a
#: user runs (the developer scripts stay in the checkout).
MIM_FILES = {
    'configs':
    None,
    'tools': ('train.py', 'test.py', 'dist_train.sh', 'dist_test.sh',
              'analysis_tools', 'dataset_converters', 'model_converters'),
}
_NO_TORCH_HINT = (
    'mmdet-gan compiles its ops (mmdet_gan._ext) against the installed '
    'torch, which this build cannot import ({err}). Install torch first, then '
    'build without pip\'s isolated build environment: `pip install '
    '--no-build-isolation .` (or set MMDET_GAN_WITH_OPS=0 to skip the ops).')


class BuildPyWithMim(build_py):
    """``build_py`` that also copies :data:`MIM_FILES` into
    ``<build>/mmdet_gan/.mim/`` (skipped for editable installs, which read
    the checkout)."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        for folder, names in MIM_FILES.items():
            dst_root = osp.join(self.build_lib, 'mmdet_gan', '.mim', folder)
            if osp.isdir(dst_root):
                shutil.rmtree(dst_root)
            os.makedirs(dst_root)
            for name in names or sorted(os.listdir(folder)):
                src, dst = osp.join(folder, name), osp.join(dst_root, name)
                if osp.isdir(src):
                    shutil.copytree(src, dst, ignore=ignore)
                elif not ignore(folder, [name]):
                    shutil.copy2(src, dst)


def make_extensions() -> list:
    if os.getenv('MMDET_GAN_WITH_OPS', '1') == '0':
        return []
    try:
        import torch
        from torch.utils.cpp_extension import CppExtension, CUDAExtension
    except ImportError as err:
        raise RuntimeError(_NO_TORCH_HINT.format(err=err)) from err

    sources = sorted(
        glob.glob(osp.join(CSRC, 'pytorch', '*.cpp')) +
        glob.glob(osp.join(CSRC, 'pytorch', 'cpu', '*.cpp')))
    if not sources:
        return []
    include_dirs = [
        osp.abspath(osp.join(CSRC, 'common')),
        osp.abspath(osp.join(CSRC, 'pytorch')),
    ]
    # No -std flag: torch's BuildExtension adds the standard its headers
    # need (C++20 for torch 2.13). -fopenmp: at::parallel_for is a header
    # template that runs serially unless the extension is built with OpenMP.
    extra_compile_args = {'cxx': ['-O3', '-fopenmp']}
    extra_link_args = ['-fopenmp']
    with_cuda = (
        torch.cuda.is_available() or os.getenv('FORCE_CUDA', '0') == '1')
    if with_cuda:
        print('Compiling mmdet_gan._ext with CUDA')
        sources += sorted(
            glob.glob(osp.join(CSRC, 'pytorch', 'cuda', '*.cu')) +
            glob.glob(osp.join(CSRC, 'pytorch', 'cuda', '*.cpp')))
        include_dirs.append(osp.abspath(osp.join(CSRC, 'common', 'cuda')))
        extra_compile_args['nvcc'] = ['-O3']
        return [
            CUDAExtension(
                name='mmdet_gan._ext',
                sources=sources,
                include_dirs=include_dirs,
                define_macros=[('MMDET_GAN_WITH_CUDA', None)],
                extra_compile_args=extra_compile_args,
                extra_link_args=extra_link_args)
        ]
    print('Compiling mmdet_gan._ext only with CPU')
    return [
        CppExtension(
            name='mmdet_gan._ext',
            sources=sources,
            include_dirs=include_dirs,
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args)
    ]


def cmdclass() -> dict:
    commands = {'build_py': BuildPyWithMim}
    try:
        from torch.utils.cpp_extension import BuildExtension
    except ImportError:
        return commands
    commands['build_ext'] = BuildExtension.with_options(use_ninja=False)
    return commands


setup(ext_modules=make_extensions(), cmdclass=cmdclass())
