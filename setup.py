"""Builds the compiled ops of mmdet_gan (``mmdet_gan._ext``).

Package metadata lives in ``setup.cfg``; this file only declares the
extension, the way mmcv's ``setup.py`` does:

* ``CUDAExtension`` when CUDA is available or ``FORCE_CUDA=1`` (then the
  ``.cu`` sources and ``MMDET_GAN_WITH_CUDA`` are compiled in; the target
  architectures follow ``TORCH_CUDA_ARCH_LIST``);
* ``CppExtension`` otherwise (CPU kernels only);
* no extension at all with ``MMDET_GAN_WITH_OPS=0``.

Build with ``pip install --no-build-isolation -e .`` so that the installed
torch is the one compiled against.
"""
import glob
import os
import os.path as osp
from setuptools import setup

CSRC = osp.join('ops', 'csrc')


def make_extensions() -> list:
    if os.getenv('MMDET_GAN_WITH_OPS', '1') == '0':
        return []
    import torch
    from torch.utils.cpp_extension import CppExtension, CUDAExtension

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
    try:
        from torch.utils.cpp_extension import BuildExtension
    except ImportError:
        return {}
    return {'build_ext': BuildExtension.with_options(use_ninja=False)}


setup(ext_modules=make_extensions(), cmdclass=cmdclass())
