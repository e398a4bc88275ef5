"""tools/gpu_check.sh (the GPU machine's check) and its helpers, on a
CPU-only machine: the script skips cleanly, its rehearsal on the CPU
(``GPU_CHECK_DEVICE=cpu``) writes a report with every section, and the
helpers (wheel selection, target verdicts, the AMP check) and the
benchmark's RoIAlign reference choice behave."""
import json
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest
import torch

from .tool_loader import REPO_ROOT, load_tool

SCRIPT = osp.join(REPO_ROOT, 'tools', 'gpu_check.sh')
STEPS = [
    'environment', 'wheels (offline install)', 'mmdet_gan._ext',
    'CUDA op tests', 'benchmark vs RoIAlign', 'target verdicts', 'AMP check',
    'CPU op tests'
]

gpu_check = load_tool('gpu_check.py')
benchmark_prroi = load_tool('analysis_tools/benchmark_prroi.py')


def run_script(tmp_path, timeout, **env):
    full_env = dict(
        os.environ,
        PY=sys.executable,
        GPU_CHECK_OUT=str(tmp_path / 'out'),
        GPU_CHECK_WHEELS=str(tmp_path / 'no_wheels'),
        **env)
    full_env.pop('OUT', None)
    return subprocess.run(['bash', SCRIPT],
                          cwd=REPO_ROOT,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def test_script_syntax():
    for name in ('gpu_check.sh', 'gpu_wheels.sh'):
        path = osp.join(REPO_ROOT, 'tools', name)
        proc = subprocess.run(['bash', '-n', path],
                              capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='a GPU here: the check would run')
def test_skips_without_cuda(tmp_path):
    proc = run_script(tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'skipped: no CUDA device' in proc.stdout
    report = (tmp_path / 'out' / 'gpu_report.md').read_text()
    assert 'skipped: no CUDA device' in report
    assert '## 1.' not in report  # nothing ran


def test_rejects_an_unknown_device(tmp_path):
    proc = run_script(tmp_path, timeout=60, GPU_CHECK_DEVICE='tpu')
    assert proc.returncode == 2
    assert 'GPU_CHECK_DEVICE must be cuda or cpu' in proc.stderr


@pytest.mark.slow
def test_rehearsal_on_cpu_writes_every_section(tmp_path):
    proc = run_script(
        tmp_path,
        timeout=600,
        GPU_CHECK_DEVICE='cpu',
        GPU_CHECK_BENCH_ARGS='--num-rois 16 --channels 8 --image-size 128 '
        '128 --repeat 1 --ref-rois 4',
        GPU_CHECK_AMP_ARGS='--iters 2 --img-size 64 --num-rois 8 '
        '--channels 8')
    report_path = tmp_path / 'out' / 'gpu_report.md'
    report = report_path.read_text() if report_path.exists() else ''
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:] + report
    assert '## Summary' in report and '**all steps passed**' in report
    for number, step in enumerate(STEPS, 1):
        assert f'## {number}. {step}' in report, step
        assert f'| {number} | {step}' in report, step
    assert '| FAILED' not in report
    # the helpers' verdicts and checks are collected under the summary
    assert 'VERDICT p2 boxes, 7x7' in report
    assert 'CHECK scalers step: PASS' in report
    assert 'CHECK rois grads: PASS' in report
    assert 'torch.cuda.is_available(): False' in report
    assert 'the CUDA build is skipped' in report
    # one report file and nothing else
    assert os.listdir(tmp_path / 'out') == ['gpu_report.md']


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def make_wheel(path, top_level=None):
    with zipfile.ZipFile(path, 'w') as whl:
        name = osp.basename(path).split('-')[0]
        whl.writestr(f'{name}-1.0.dist-info/METADATA', 'Name: x\n')
        if top_level is not None:
            whl.writestr(f'{name}-1.0.dist-info/top_level.txt', top_level)


def test_wheels_lists_only_what_does_not_import(tmp_path, capsys):
    make_wheel(tmp_path / 'torch-9.0-py3-none-any.whl', 'torch\n')
    make_wheel(tmp_path / 'mmcv_lite-2.1.0-py3-none-any.whl', 'mmcv\n')
    make_wheel(tmp_path / 'no_such_pkg_xyz-1.0-py3-none-any.whl')
    assert gpu_check.wheel_modules(
        str(tmp_path /
            'no_such_pkg_xyz-1.0-py3-none-any.whl')) == ['no_such_pkg_xyz']
    assert gpu_check.main(['wheels', str(tmp_path)]) == 0
    listed = capsys.readouterr().out.split()
    assert str(tmp_path / 'no_such_pkg_xyz-1.0-py3-none-any.whl') in listed
    assert str(tmp_path / 'torch-9.0-py3-none-any.whl') not in listed
    assert gpu_check.main(['wheels', str(tmp_path), '--all']) == 0
    assert len(capsys.readouterr().out.split()) == 3


def bench_report(ratio_7, ratio_28, reference='torchvision', diff=1e-13):
    cases = []
    for size, r in ((7, ratio_7), (28, ratio_28)):
        times = {
            'ours': dict(fwd=1e-3, fwd_bwd=r * 1e-2),
            'ours (feat grad only)': dict(fwd=1e-3, fwd_bwd=0.5 * r * 1e-2),
            'pytorch': dict(fwd=1.0, fwd_bwd=2.0),
        }
        if reference != 'none':
            times['roi_align'] = dict(fwd=1e-3, fwd_bwd=1e-2)
        cases.append(
            dict(
                boxes='p2',
                output_size=size,
                median_side=40.,
                max_abs_diff_float64=diff,
                pytorch_rois=16,
                times=times))
    return dict(
        device='cuda',
        machine='H200',
        torch='2.11',
        reference=reference,
        num_rois=512,
        channels=256,
        map_size=[200, 336],
        repeat=10,
        cases=cases)


def verdict_lines(report):
    return [
        line for line in gpu_check.verdicts(report)
        if line.startswith('VERDICT') and 'RoIAlign' in line
    ]


def test_verdicts_apply_the_targets():
    # 7x7: no slower than RoIAlign; 28x28: within 2x
    passing = verdict_lines(bench_report(0.9, 1.9))
    assert len(passing) == 2 and all(': PASS ' in v for v in passing)
    failing = verdict_lines(bench_report(1.1, 2.1))
    assert len(failing) == 2 and all(': FAIL ' in v for v in failing)
    assert '= 1.10x (target <= 1x)' in failing[0]
    missing = gpu_check.verdicts(bench_report(0.5, 0.5, reference='none'))
    assert sum('n/a no RoIAlign reference' in line for line in missing) == 2
    wrong = gpu_check.verdicts(bench_report(0.5, 0.5, diff=1e-3))
    assert sum('FAIL max |ours - plain PyTorch|' in v for v in wrong) == 2


def test_verdicts_exit_status(tmp_path):
    path = tmp_path / 'bench.json'
    path.write_text(json.dumps(bench_report(0.9, 2.5)))
    assert gpu_check.main(['verdicts', str(path)]) == 1
    assert gpu_check.main(['verdicts', str(path), '--informational']) == 0
    path.write_text(json.dumps(bench_report(0.9, 1.5)))
    assert gpu_check.main(['verdicts', str(path)]) == 0


def test_amp_check_on_cpu(capsys):
    rc = gpu_check.main([
        'amp', '--device', 'cpu', '--iters', '2', '--img-size', '64',
        '--num-rois', '8', '--channels', '8'
    ])
    out = capsys.readouterr().out
    assert rc == 0, out
    for name in ('game runs', 'losses finite', 'dtypes', 'scalers step',
                 'rois grads', 'empty RoIs under autocast'):
        assert f'CHECK {name}: PASS' in out, name
    assert 'features bfloat16, rois float32' in out


# --------------------------------------------------------------------------
# benchmark_prroi: the RoIAlign reference
# --------------------------------------------------------------------------
def test_benchmark_reference_choice():
    assert benchmark_prroi.roi_align_reference('none', 7, 0.25) is None
    with pytest.raises(ValueError, match='unknown RoIAlign reference'):
        benchmark_prroi.roi_align_reference('detectron', 7, 0.25)
    default = benchmark_prroi.default_reference()
    assert default in benchmark_prroi.REFERENCES
    if benchmark_prroi._importable('mmcv.ops'):
        assert default == 'mmcv'


@pytest.mark.parametrize('reference', ['mmcv', 'torchvision'])
def test_benchmark_reference_is_aligned_roi_align(reference):
    """Both references: RoIAlign(sampling_ratio=2, aligned=True); a constant
    map pools to the constant inside the map."""
    pytest.importorskip(f'{reference}.ops')
    pool = benchmark_prroi.roi_align_reference(reference, 7, 0.5)
    features = torch.full((1, 3, 16, 16), 2.0)
    rois = torch.tensor([[0., 4., 4., 20., 24.]])
    out = pool(features, rois)
    assert out.shape == (1, 3, 7, 7)
    torch.testing.assert_close(out, torch.full_like(out, 2.0))


def test_benchmark_json_without_reference(tmp_path, capsys):
    path = tmp_path / 'bench.json'
    report = benchmark_prroi.main([
        '--device', 'cpu', '--num-rois', '6', '--channels', '2',
        '--image-size', '32', '32', '--output-sizes', '3', '--boxes', 'p2',
        '--repeat', '1', '--ref-rois', '2', '--reference', 'none', '--json',
        str(path)
    ])
    out = capsys.readouterr().out
    assert 'roi_align: none' in out
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved['reference'] == 'none' and len(saved['cases']) == 1
    times = saved['cases'][0]['times']
    assert set(times) == {'ours', 'ours (feat grad only)', 'pytorch'}
    assert saved['cases'][0]['max_abs_diff_float64'] < 1e-9
    verdicts = gpu_check.verdicts(saved)
    assert any('n/a no RoIAlign reference' in line for line in verdicts)
