# Copyright (c) mmdet-gan contributors. All rights reserved.
"""benchmark_ddp.py runs both roles under 2-process gloo DDP, each in the
wrapper its config chooses, and reports the ratios of what it measured (a
tool run on tiny batches: no timing is asserted)."""
import json
import os.path as osp
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_ddp.py')


def test_ddp_benchmark_reports_both_wrappers_and_ratios(tmp_path):
    out = tmp_path / 'ddp.json'
    proc = subprocess.run([
        sys.executable, TOOL, '--iters', '2', '--warmup', '0', '--img-size',
        '64', '--batch-size', '1', '--num-gts', '2', '--json',
        str(out)
    ],
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res['gan']['wrapper'] == 'GANDistributedDataParallel'
    assert res['base']['wrapper'] == 'MMDistributedDataParallel'
    for role in ('gan', 'base'):
        assert len(res[role]['times']) == 2
        assert res[role]['peak_rss_mib'] > 100
    assert res['time_ratio'] == pytest.approx(res['gan']['median_s'] /
                                              res['base']['median_s'])
    assert res['memory_ratio'] == pytest.approx(res['gan']['peak_rss_mib'] /
                                                res['base']['peak_rss_mib'])
    assert f'{res["time_ratio"]:.3f}' in proc.stdout
    assert 'the target 1.05' in proc.stdout


def test_ddp_benchmark_rejects_bad_options():
    proc = subprocess.run([sys.executable, TOOL, '--iters', '0'],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert '--iters must be >= 1' in proc.stderr
