"""Two processes on CPU (gloo): GANDistributedDataParallel keeps the
generator and the discriminators identical across processes, and each
player steps on the mean of the processes' gradients."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from ...conftest import free_port

pytestmark = pytest.mark.slow

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))


def test_two_processes_end_with_identical_weights(tmp_path):
    config = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                      'gan_mask_rcnn_r18_fpn_box-d_demo.py')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--master_addr=127.0.0.1', f'--master_port={free_port()}',
        osp.join(HERE, 'dist_worker.py'), config,
        str(tmp_path), '3'
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO_ROOT)
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    init0 = torch.load(tmp_path / 'init0.pth', weights_only=True)
    final = [
        torch.load(tmp_path / f'rank{r}.pth', weights_only=True)
        for r in (0, 1)
    ]
    # identical weights after the steps, G and D alike
    assert final[0].keys() == final[1].keys()
    for key in final[0]:
        assert torch.allclose(
            final[0][key].float(), final[1][key].float(), atol=1e-6), key
    # and training moved both players
    changed = {
        prefix:
        any(not torch.equal(init0[k], final[0][k]) for k in init0
            if k.startswith(prefix))
        for prefix in ('discriminator.', 'roi_head.', 'backbone.')
    }
    assert all(changed.values()), changed
    check_averaged_gradients(tmp_path)


def check_averaged_gradients(out_dir):
    """Every reduction of dist_worker.py left in ``param.grad`` the mean of
    the two ranks' own gradients: not their sum, not rank 0's."""
    logs = [
        json.loads((out_dir / f'grads{r}.json').read_text()) for r in (0, 1)
    ]
    records = [log['records'] for log in logs]
    # one reduction per player and step, in the same order on both ranks
    expected_calls = [(step, player) for step in range(3)
                      for player in ('generator', 'discriminator')]
    for rank in (0, 1):
        calls = [(r['step'], r['player']) for r in records[rank]]
        assert sorted(calls) == sorted(expected_calls), (rank, calls)
    for rec0, rec1 in zip(*records):
        assert (rec0['step'], rec0['player'], rec0['num_params']) == \
            (rec1['step'], rec1['player'], rec1['num_params'])
        assert rec0['nonzero'] == rec1['nonzero']  # the same exchange
        # the all-reduce overlapped the backward pass: every bucket started
        # during it but the generator's last one, which holds the
        # parameter no rank uses (its hook never fires)
        for rec in (rec0, rec1):
            waiting = 1 if rec['player'] == 'generator' else 0
            assert rec['num_buckets'] > waiting, rec
            assert rec['launched_in_backward'] == \
                rec['num_buckets'] - waiting, rec
        for rec in (rec0, rec1):
            scale = rec['max_abs_mean']
            assert scale > 0, rec
            # float32 all-reduce against a float64 mean: rounding only
            assert rec['max_err'] <= 1e-6 * scale, rec
            # the ranks' gradients differ, so a sum (off by up to `scale`)
            # or rank 0's gradient (off by half the difference) fails
            assert rec['max_rank_diff'] > 1e-3 * scale, rec
    # the rank without ground truth took part in the reductions: its
    # discriminator gradient was all zeros (no positives, no adversarial
    # samples), and the mean is half the other rank's
    step, rank = logs[0]['no_gt']
    disc = [
        r for r in records[0]
        if (r['step'], r['player']) == (step, 'discriminator')
    ]
    assert len(disc) == 1
    assert disc[0]['nonzero'][rank] == 0
    assert disc[0]['nonzero'][1 - rank] > 0
    # the parameter no rank used was left without a gradient in every
    # generator reduction (not given zeros that the optimizer would apply)
    for rec in records[0]:
        expected = ['backbone.unused_param'] if rec['player'] == \
            'generator' else []
        assert [n for n in rec['left_none']
                if n == 'backbone.unused_param'] == expected, rec['left_none']


def test_dist_train_sh_trains_the_gan_demo_config(tiny_demo_data, tmp_path):
    """tools/dist_train.sh CONFIG 2 on CPU: MMEngine's runner builds the GAN
    wrapper (registered where Runner.wrap_model looks it up) over gloo."""
    from ...conftest import tiny_run_options
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PORT=str(free_port()))
    cmd = [
        'bash',
        osp.join(REPO_ROOT, 'tools', 'dist_train.sh'),
        osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                 'gan_mask_rcnn_r18_fpn_box-d_demo.py'),
        '2',
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        *tiny_run_options(tiny_demo_data, max_epochs=1),
        'train_dataloader.batch_size=2',
        # a hung collective raises (with its traceback) after 4 minutes
        'env_cfg.dist_cfg.timeout=240'
    ]
    proc = subprocess.run(
        cmd,
        env=env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    # 8 images, 2 processes x batch 2: 2 iterations in the epoch
    assert 'Epoch(train) [1][2/2]' in log
    assert 'loss_adv_d_box' in log and 'loss_adv_g_mask' in log
    ckpt = torch.load(work_dir / 'epoch_1.pth', weights_only=True)
    assert set(ckpt['optimizer']) == {'generator', 'discriminator'}
