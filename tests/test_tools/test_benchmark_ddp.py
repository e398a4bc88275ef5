# Copyright (c) mmdet-gan contributors. All rights reserved.
"""benchmark_ddp.py runs both roles under 2-process gloo DDP, each in the
wrapper its config chooses, and reports the ratios of what it measured (a
tool run on tiny batches: no timing is asserted); a launch that overruns
``--timeout`` is stopped with all its processes and reported."""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest

from .tool_loader import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_ddp.py')

TINY_RUN = [
    '--iters', '2', '--warmup', '0', '--img-size', '64', '--batch-size', '1',
    '--num-gts', '2'
]
HUNG = 'did not finish within --timeout'


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, *args],
                          capture_output=True,
                          text=True,
                          timeout=900)


@pytest.mark.slow
def test_ddp_benchmark_reports_both_wrappers_and_ratios(tmp_path):
    out = tmp_path / 'ddp.json'
    args = [*TINY_RUN, '--timeout', '240', '--json', str(out), '--same-work']
    proc = run_tool(*args)
    if proc.returncode != 0 and HUNG in proc.stderr:
        # One CI run saw a launch of this tiny benchmark hang in gloo for
        # 15 minutes (never reproduced in 20 runs alone and 2 full suites
        # on the same kind of machine); the tool now stops such a launch
        # and prints the processes' stacks. Try once more, and show both.
        first = proc.stderr[-6000:]
        proc = run_tool(*args)
        assert proc.returncode == 0, first + proc.stderr[-6000:]
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(out.read_text())
    # --same-work needs generators built with the same weights
    assert res['same_work'] is True and res['same_start_weights'] is True
    assert 'same work: every iteration from the built state' in proc.stdout
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


def test_a_launch_that_overruns_its_timeout_is_stopped_with_its_workers(
        tmp_path):
    """The launcher and the processes it started (here a shell and a child
    that would sleep for 10 minutes, as hung workers would) are all
    stopped, and the error names the role and shows their output."""
    tool = load_tool('analysis_tools/benchmark_ddp.py')
    pid_file = tmp_path / 'worker.pid'
    script = (f'sleep 600 & echo $! > {pid_file}; echo worker stack >&2; '
              'wait')
    with pytest.raises(tool.LaunchTimeout) as info:
        tool.run_process_group(['bash', '-c', script],
                               dict(os.environ),
                               timeout=3,
                               role='gan')
    message = str(info.value)
    assert 'gan workers did not finish within --timeout 3 s' in message
    assert 'worker stack' in message
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while is_running(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not is_running(worker)


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def test_a_launch_that_fails_is_reported_with_its_output():
    tool = load_tool('analysis_tools/benchmark_ddp.py')
    with pytest.raises(
            RuntimeError,
            match=r'(?s)base workers failed '
            r'\(rc 3\).*rank 1 broke'):
        tool.run_process_group(['bash', '-c', 'echo rank 1 broke >&2; exit 3'],
                               dict(os.environ),
                               timeout=60,
                               role='base')


def test_ddp_benchmark_rejects_bad_options():
    proc = subprocess.run([sys.executable, TOOL, '--iters', '0'],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert '--iters must be >= 1' in proc.stderr
    proc = run_tool('--timeout', '0')
    assert proc.returncode == 2
    assert '--timeout must be > 0' in proc.stderr
