# Copyright (c) mmdet-gan contributors. All rights reserved.
import json
import math

import pytest
import torch

from mmdet_gan.benchmark.report import format_report
from .tool_loader import load_tool

RATIO_KEYS = ('train_time_ratio', 'train_time_ratio_paired', 'train_cpu_ratio',
              'infer_time_ratio', 'infer_cpu_ratio', 'memory_ratio',
              'step_memory_ratio')
#: the demo with both players, so that every piece of the breakdown runs
BOX_D_DEMO = 'configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py'
GAN_PIECES = ('forward', 'adv_box_inputs', 'pool_box', 'adv_mask_inputs',
              'pool_mask', 'mask_targets', 'd_forward', 'g_update',
              'g_backward', 'g_step', 'd_update', 'd_backward', 'd_step')


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/benchmark_train.py')


@pytest.fixture(scope='module')
def tiny_run(tool, tmp_path_factory):
    """One tiny run of the whole tool: 1 image of 128 px, fewer RoIs."""
    out = tmp_path_factory.mktemp('bench') / 'result.json'
    argv = [
        '--gan-config', BOX_D_DEMO,
        '--iters', '1', '--warmup', '0', '--infer-iters', '1',
        '--img-size', '128', '--batch-size', '1', '--num-gts', '2',
        '--top-ops', '3', '--json', str(out), '--same-work',
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
    assert res['same_work'] is True
    assert 'measured rounds: the same work (--same-work' in format_report(res)
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
    assert len(res['top_ops']) == 3
    assert json.loads(out.read_text())['memory_ratio'] == \
        pytest.approx(res['memory_ratio'])


def test_main_flops(tiny_run):
    """One step per model under FlopCounterMode: the GAN's counted FLOPs
    are the baseline's plus the discriminators' convolutions."""
    res, _ = tiny_run
    gan, base = res['flops']['gan'], res['flops']['baseline']
    assert gan > base > 0
    assert res['flop_ratio'] == pytest.approx(gan / base)
    assert f'ratio GAN/baseline {res["flop_ratio"]:.3f}' in \
        format_report(res)


def test_main_pieces(tiny_run):
    """The breakdown comes from one profiled iteration per model (as many
    as timed ones), from the ranges of the training step."""
    res, _ = tiny_run
    assert res['pieces_clock'].startswith('profiler CPU time')
    gan, base = res['pieces']['gan'], res['pieces']['baseline']
    assert set(gan) == set(GAN_PIECES)
    for label in GAN_PIECES:
        assert gan[label]['n'] == 1 and gan[label]['median'] > 0, label
    # The baseline has no adversarial pieces: the benchmark's own ranges
    # around its loss and update_params.
    assert set(base) == {'forward', 'g_update'}
    whole = res['pieces_whole']
    for role, own in (('gan', gan), ('baseline', base)):
        assert whole[role]['n'] == 1
        assert own['forward']['median'] + own['g_update']['median'] < \
            whole[role]['median']
    # A piece is part of its parent (the same profiled iteration).
    assert gan['pool_box']['median'] < gan['adv_box_inputs']['median']
    assert gan['adv_box_inputs']['median'] + \
        gan['adv_mask_inputs']['median'] + gan['mask_targets']['median'] < \
        gan['forward']['median']
    assert gan['pool_mask']['median'] < gan['adv_mask_inputs']['median']
    assert gan['g_update']['median'] == pytest.approx(
        gan['g_backward']['median'] + gan['g_step']['median'])
    assert gan['d_update']['median'] == pytest.approx(
        gan['d_backward']['median'] + gan['d_step']['median'])


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
    assert 'inference: not timed' in format_report(res)
    for key in ('train_time_ratio', 'train_cpu_ratio', 'memory_ratio'):
        assert res[key] > 0 and math.isfinite(res[key]), key
    assert res['top_ops'] is None
    assert res['same_work'] is False
    assert 'measured rounds: each model trains on' in format_report(res)
    assert fallback['data'].startswith('1 batches of demo_mm_inputs')
    assert f'(--data-root {missing} not found)' in fallback['data']


def test_main_prints_report(tiny_run):
    res, _ = tiny_run
    text = format_report(res)
    assert res['gan_config'] == BOX_D_DEMO
    assert f'ratio GAN/baseline: wall {res["train_time_ratio"]:.2f}' in text
    assert f'CPU time {res["train_cpu_ratio"]:.2f}' in text
    assert 'peak training memory' in text
    assert 'prRoIPool of real+fake boxes' in text
    assert 'whole iteration' in text
    target = res['target']
    assert target['ratio'] == pytest.approx(1.10)
    assert target['time_ratio_key'] == 'train_cpu_ratio'  # a CPU run
    assert target['time_ok'] == (res['train_cpu_ratio'] <= 1.10)
    assert target['memory_ok'] == (res['memory_ratio'] <= 1.10)
    assert (f'target GAN/baseline <= 1.10: training CPU time '
            f'{res["train_cpu_ratio"]:.2f}') in text


def test_cli_options(tool):
    """The options the docs' command lines use, with their defaults."""
    args = vars(tool.parse_args([]))
    assert args == dict(
        gan_config=tool.DEFAULT_GAN_CONFIG,
        base_config=tool.DEFAULT_BASE_CONFIG,
        iters=10,
        warmup=3,
        infer_iters=3,
        device='cpu',
        data_root=None,
        batch_size=4,
        img_size=[192],
        num_gts=[4],
        num_batches=4,
        seed=0,
        threads=None,
        json=None,
        top_ops=8,
        cfg_options=None,
        target=1.10,
        shared_cfg_options=None,
        same_work=False)


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
