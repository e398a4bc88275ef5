# Copyright (c) mmdet-gan contributors. All rights reserved.
import pytest

from .tool_loader import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/benchmark_level_fusion.py')


def test_main_reports_time_and_kept_memory(tool, capsys):
    results = tool.main([
        '--device', 'cpu', '--num-rois', '3', '--channels', '4',
        '--image-size', '64', '80', '--output-size', '7', '--repeat', '1',
        '--strides', '4', '8', '16'
    ])
    out = capsys.readouterr().out
    assert 'fused / chained: time' in out
    # chained keeps each level's output and the partial max (3 + 1 tensors
    # of 3 x 4 x 7 x 7 floats); fused one of them and a uint8 index
    unit = 3 * 4 * 7 * 7 * 4 / 2**20
    assert results['chained']['kept_mib'] == pytest.approx(4 * unit)
    assert results['fused']['kept_mib'] == pytest.approx(1.25 * unit)
    assert all(res['fwd_bwd_ms'] > 0 for res in results.values())


def test_feature_grad_option_runs(tool):
    results = tool.main([
        '--device', 'cpu', '--num-rois', '2', '--channels', '2',
        '--image-size', '32', '32', '--output-size', '4', '--repeat', '1',
        '--strides', '4', '8', '--feature-grad'
    ])
    assert set(results) == {'chained', 'fused'}


@pytest.mark.parametrize('argv', [['--num-rois', '0'], ['--strides']])
def test_bad_arguments(tool, argv):
    with pytest.raises(SystemExit):
        tool.parse_args(argv)
