"""Two processes on CPU (gloo): GANDistributedDataParallel keeps the
generator and the discriminators identical across processes."""
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_processes_end_with_identical_weights(tmp_path):
    config = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                      'gan_mask_rcnn_r18_fpn_demo.py')
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
                 'gan_mask_rcnn_r18_fpn_demo.py'), '2', '--work-dir',
        str(work_dir), '--cfg-options',
        *tiny_run_options(tiny_demo_data, max_epochs=1),
        'train_dataloader.batch_size=2'
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
