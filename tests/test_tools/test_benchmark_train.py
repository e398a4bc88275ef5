# Copyright (c) mmdet-gan contributors. All rights reserved.
import math

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from .tool_loader import load_tool

RATIO_KEYS = ('train_time_ratio', 'train_time_ratio_paired', 'train_cpu_ratio',
              'infer_time_ratio', 'infer_cpu_ratio', 'memory_ratio',
              'step_memory_ratio')


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/benchmark_train.py')


@pytest.fixture(scope='module')
def tiny_run(tool, tmp_path_factory):
    """One tiny run of the whole tool: 1 image of 128 px, fewer RoIs."""
    out = tmp_path_factory.mktemp('bench') / 'result.json'
    argv = [
        '--iters', '1', '--warmup', '0', '--infer-iters', '1',
        '--img-size', '128', '--batch-size', '1', '--num-gts', '2',
        '--top-ops', '3', '--json', str(out),
        '--shared-cfg-options',
        'model.train_cfg.rpn_proposal.max_per_img=100',
        'model.train_cfg.rcnn.sampler.num=64',
        'model.test_cfg.rpn.max_per_img=100',
        'model.test_cfg.rcnn.max_per_img=10', '--threads', '1'
    ]  # yapf: disable
    threads = torch.get_num_threads()
    try:
        return tool.main(argv), out
    finally:
        torch.set_num_threads(threads)


def test_main_ratios(tiny_run):
    res, out = tiny_run
    for key in RATIO_KEYS:
        assert res[key] > 0 and math.isfinite(res[key]), key
    # The generator and the baseline start from the same weights.
    assert res['same_start_weights'] is True
    for role in ('gan', 'baseline'):
        for key in ('train', 'train_cpu', 'inference', 'inference_cpu'):
            assert res[key][role]['n'] == 1
            assert res[key][role]['median'] > 0
        mem = res['memory'][role]
        assert mem['peak_mb'] == pytest.approx(mem['resident_mb'] +
                                               mem['step_peak_mb'])
        assert mem['step_peak_mb'] > 0
        assert 'profile_memory' in mem['method']
    # The GAN model also holds the discriminators and their optimizer state.
    assert res['memory']['gan']['resident_mb'] > \
        res['memory']['baseline']['resident_mb']
    gan_pieces = res['pieces']['gan']
    for label in ('forward', 'adv_box_inputs', 'pool_box', 'adv_mask_inputs',
                  'pool_mask', 'd_forward', 'g_update', 'g_backward', 'g_step',
                  'd_update', 'd_backward', 'd_step'):
        assert gan_pieces[label]['median'] > 0, label
    # The baseline has no adversarial pieces.
    assert set(
        res['pieces']['baseline']) == {'forward', 'g_update', 'mask_targets'}
    # A piece is part of its parent.
    assert gan_pieces['pool_box']['median'] <= \
        gan_pieces['adv_box_inputs']['median']
    assert gan_pieces['d_step']['median'] < gan_pieces['d_update']['median']
    assert gan_pieces['g_backward']['median'] < \
        gan_pieces['g_update']['median']
    assert len(res['top_ops']) == 3
    assert out.exists()


def test_main_data_root(tool, tiny_demo_data, tmp_path):
    """Real batches from the config's train_dataloader; a missing
    --data-root falls back to demo_mm_inputs and says so."""
    common = [
        '--iters', '1', '--warmup', '0', '--infer-iters', '0',
        '--batch-size', '2', '--num-batches', '1', '--top-ops', '0',
        '--threads', '1', '--shared-cfg-options',
        'model.train_cfg.rpn_proposal.max_per_img=100',
        'model.train_cfg.rcnn.sampler.num=64'
    ]  # yapf: disable
    threads = torch.get_num_threads()
    try:
        res = tool.main(common + ['--data-root', tiny_demo_data])
        missing = str(tmp_path / 'missing')
        fallback = tool.main(common + ['--data-root', missing])
    finally:
        torch.set_num_threads(threads)
    assert res['data'].startswith('1 batches of 2 from train_dataloader')
    assert res['infer_time_ratio'] is None
    assert 'inference: not timed' in tool.format_report(res)
    for key in ('train_time_ratio', 'train_cpu_ratio', 'memory_ratio'):
        assert res[key] > 0 and math.isfinite(res[key]), key
    assert res['top_ops'] is None
    assert fallback['data'].startswith('1 batches of demo_mm_inputs')
    assert f'(--data-root {missing} not found)' in fallback['data']


def test_main_prints_report(tool, tiny_run):
    res, _ = tiny_run
    text = tool.format_report(res)
    assert f'ratio GAN/baseline: wall {res["train_time_ratio"]:.2f}' in text
    assert f'CPU time {res["train_cpu_ratio"]:.2f}' in text
    assert 'peak training memory' in text
    assert 'prRoIPool of real+fake boxes' in text
    target = res['target']
    assert target['ratio'] == pytest.approx(1.10)
    assert target['time_ratio_key'] == 'train_cpu_ratio'  # a CPU run
    assert target['time_ok'] == (res['train_cpu_ratio'] <= 1.10)
    assert target['memory_ok'] == (res['memory_ratio'] <= 1.10)
    assert (f'target GAN/baseline <= 1.10: training CPU time '
            f'{res["train_cpu_ratio"]:.2f}') in text


def test_target_check(tool):
    res = dict(
        pieces_clock='process CPU time',
        train_cpu_ratio=1.05,
        train_time_ratio=1.3,
        memory_ratio=1.2)
    assert tool.target_check(res, 1.1) == dict(
        ratio=1.1,
        time_ratio_key='train_cpu_ratio',
        time_ok=True,
        memory_ok=False)
    res['pieces_clock'] = 'wall time'  # CUDA: the wall time counts
    assert tool.target_check(res, 1.25)['time_ok'] is False
    assert tool.target_check(res, 1.25)['memory_ok'] is True


def test_stats(tool):
    s = tool.stats([4., 1., 3., 2.])
    assert s['median'] == 2.5
    assert s['q1'] == 1.75 and s['q3'] == 3.25
    assert s['iqr'] == 1.5
    assert s['min'] == 1. and s['n'] == 4


def test_profiler_peak_bytes(tool):
    """The CPU memory method sees a freed 4 MiB block as the peak."""
    with profile(
            activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        big = torch.ones(1024, 1024)  # 4 MiB
        del big
        small = torch.ones(256, 1024)  # 1 MiB, alive at the end
    peak = tool._profiler_peak_bytes(prof)
    assert 4 * 2**20 <= peak < 4 * 2**20 + 64 * 2**10
    assert small.numel() == 256 * 1024


def test_resident_bytes(tool):
    from mmengine.optim import OptimWrapper
    model = torch.nn.Linear(10, 5)  # 55 floats
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert tool.resident_bytes(model, wrapper) == 55 * 4
    model(torch.ones(2, 10)).sum().backward()
    wrapper.step()  # gradients and momentum buffers
    assert tool.resident_bytes(model, wrapper) == 3 * 55 * 4


@pytest.mark.parametrize('argv, message', [
    (['--iters', '0'], '--iters must be >= 1'),
    (['--warmup', '-1'], '--warmup must be >= 0'),
    (['--threads', '0'], '--threads must be >= 1'),
    (['--gan-config', 'none.py'], '--gan-config: no such file'),
    (['--target', '0'], '--target must be > 0'),
])
def test_parse_args_errors(tool, capsys, argv, message):
    with pytest.raises(SystemExit):
        tool.parse_args(argv)
    assert message in capsys.readouterr().err
