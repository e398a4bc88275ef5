# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Benchmark library of ``tools/analysis_tools/benchmark_train.py``.

- :mod:`.timing`: interleaved timing of steps, median/IQR statistics;
- :mod:`.pieces`: the step breakdown from the ``torch.profiler`` ranges of
  :mod:`mmdet_gan.utils.profiling`, top operators;
- :mod:`.memory`: resident tensor bytes and a step's peak;
- :mod:`.steps`: the training / inference steps it runs;
- :mod:`.replay`: rounds that repeat the same work (``--same-work``);
- :mod:`.builders`: models, optim wrappers and batches from configs;
- :mod:`.report`: the text report and the target verdict;
- :mod:`.train`: the GAN vs baseline training benchmark.

Importing it changes nothing; it is not imported by ``mmdet_gan``.
"""
from .train import TrainBenchmarkOptions, check_ratios, run_train_benchmark

__all__ = ['TrainBenchmarkOptions', 'check_ratios', 'run_train_benchmark']
