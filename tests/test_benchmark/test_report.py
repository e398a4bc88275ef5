# Copyright (c) mmdet-gan contributors. All rights reserved.
import pytest

from mmdet_gan.benchmark import report


def s(median, iqr=0.1, low=None, n=2):
    """A ``timing.stats`` dict."""
    return dict(
        median=median, q1=median, q3=median + iqr, iqr=iqr,
        min=median if low is None else low, n=n)  # yapf: disable


def result(**overrides):
    """A hand-made result of ``run_train_benchmark``."""
    res = dict(
        machine='x86_64, 2 CPUs visible, 1 torch threads; torch 2.13.0',
        load_average=dict(start=[0.5, 0.4, 0.3], end=[0.6, 0.4, 0.3]),
        gan_config='configs/gan.py',
        base_config='configs/base.py',
        cfg_options='',
        shared_cfg_options='model.x=1',
        data='2 batches of demo_mm_inputs',
        same_start_weights=True,
        warmup=1,
        train=dict(gan=s(1.2, low=1.1), baseline=s(1.0, low=0.9)),
        train_cpu=dict(gan=s(1.05), baseline=s(1.0)),
        inference=None,
        inference_cpu=None,
        memory=dict(
            gan=dict(
                peak_mb=120.,
                resident_mb=20.,
                step_peak_mb=100.,
                method='M',
                adversarial_samples=dict(box=16, mask=12)),
            baseline=dict(
                peak_mb=100., resident_mb=10., step_peak_mb=90., method='M')),
        train_clock=report.CPU_CLOCK,
        pieces_clock='profiler CPU time of the ranges, 2 separate profiled '
        'iterations',
        pieces=dict(
            gan=dict(
                forward=s(0.5),
                pool_box=s(0.01),
                g_backward=s(0.3),
                g_update=s(0.35)),
            baseline=dict(forward=s(0.45), g_update=s(0.4))),
        pieces_whole=dict(gan=s(1.1), baseline=s(0.95)),
        top_ops=[dict(name='aten::conv2d', calls=12, self_ms=30., share=0.25)],
        train_time_ratio=1.2,
        train_time_ratio_paired=1.19,
        train_cpu_ratio=1.05,
        infer_time_ratio=None,
        infer_cpu_ratio=None,
        memory_ratio=1.2,
        step_memory_ratio=100. / 90.)
    res.update(overrides)
    res['target'] = report.target_check(res, 1.1)
    return res


def test_target_check():
    res = dict(
        train_clock=report.CPU_CLOCK,
        train_cpu_ratio=1.05,
        train_time_ratio=1.3,
        memory_ratio=1.2)
    assert report.target_check(res, 1.1) == dict(
        ratio=1.1,
        time_ratio_key='train_cpu_ratio',
        time_ok=True,
        memory_ok=False)
    res['train_clock'] = report.WALL_CLOCK  # CUDA: the wall time counts
    assert report.target_check(res, 1.25)['time_ratio_key'] == \
        'train_time_ratio'
    assert report.target_check(res, 1.25)['time_ok'] is False
    assert report.target_check(res, 1.25)['memory_ok'] is True


def test_target_line():
    res = result()
    assert report.target_line(res) == (
        'target GAN/baseline <= 1.10: training CPU time 1.05 yes, memory '
        '1.20 NO')
    res = result(train_clock=report.WALL_CLOCK, memory_ratio=1.04)
    assert report.target_line(res) == (
        'target GAN/baseline <= 1.10: training wall time 1.20 NO, memory '
        '1.04 yes')


def test_format_report():
    lines = report.format_report(result()).split('\n')
    assert lines[0].startswith('machine: x86_64')
    assert 'GAN cfg-options: none; shared cfg-options: model.x=1' in lines
    assert ('  gan       wall median   1.200  IQR  0.100  min   1.100 | CPU '
            'median   1.050  IQR  0.100') in lines
    assert ('  ratio GAN/baseline: wall 1.20 (median of per-pair ratios '
            '1.19), CPU time 1.05') in lines
    assert 'inference: not timed (--infer-iters 0)' in lines
    assert '  gan          120.0 = resident 20.0 + step peak 100.0' in lines
    assert '  ratio GAN/baseline: 1.20 (step peak only: 1.11)' in lines
    assert ('  discriminator samples in the measured GAN step (the '
            'adversarial cost grows with them): box 16, mask 12') in lines
    assert report.target_line(result()) in lines
    start = lines.index(
        'GAN step breakdown, median s/iter of profiler CPU time of the '
        'ranges, 2 separate profiled iterations (baseline; GAN - baseline):')
    desc = dict(report.PIECES)
    # In PIECES' order, only the pieces either model has; the baseline's
    # value and the difference where it has the piece.
    assert lines[start + 1:start + 6] == [
        f'  {desc["forward"]:<68}   0.500  (0.450; +0.050)',
        f'  {desc["pool_box"]:<68}   0.010',
        f'  {desc["g_update"]:<68}   0.350  (0.400; -0.050)',
        f'  {desc["g_backward"]:<68}   0.300',
        f'  {"whole iteration":<68}   1.100  (0.950; +0.150)',
    ]
    assert lines[start + 6] == ('GAN step, top operators by self CPU time '
                                '(one profiled iteration):')
    assert lines[start + 7] == (f'  {"aten::conv2d":<60}    12 calls '
                                '     30.0 ms  25.0%')


def test_format_report_with_inference():
    res = result(
        inference=dict(gan=s(2.0, n=3), baseline=s(2.0, n=3)),
        inference_cpu=dict(gan=s(1.9), baseline=s(2.0)),
        infer_time_ratio=1.0,
        infer_cpu_ratio=0.95,
        top_ops=None)
    text = report.format_report(res)
    assert ('inference (test_step, eval, no grad, before training), s/iter '
            '(3 timed iterations):') in text
    assert '  ratio GAN/baseline: wall 1.00, CPU time 0.95' in text
    assert 'top operators' not in text


@pytest.mark.parametrize('label', [label for label, _ in report.PIECES])
def test_pieces_labels_are_range_names(label):
    """Every label of the report is a range of mmdet_gan.utils.profiling
    or an update total of pieces.step_pieces."""
    from mmdet_gan.utils import profiling
    names = {n[len(profiling.RANGE_PREFIX):] for n in profiling.RANGE_NAMES}
    assert label in names | {'d_update'}
