"""End to end: tools/train.py on the demo data, then --resume (torch >= 2.6
loads MMEngine checkpoints with weights_only=True and the safe allow-list)."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from ..conftest import tiny_run_options
from .tool_loader import REPO_ROOT

pytestmark = pytest.mark.slow

GAN_CFG = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                   'gan_mask_rcnn_r18_fpn_box-d_demo.py')


def run_tool(*argv, cwd):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.run([sys.executable, *argv],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def scalar_iters(work_dir):
    iters = []
    for run in sorted(os.listdir(work_dir)):
        log = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if osp.isfile(log):
            with open(log) as f:
                iters += [
                    json.loads(line)['iter'] for line in f if '"loss"' in line
                ]
    return iters


def test_train_two_epochs_then_resume_to_three(tiny_demo_data, tmp_path):
    work_dir = str(tmp_path / 'work')
    train = osp.join(REPO_ROOT, 'tools', 'train.py')
    run_tool(
        train,
        GAN_CFG,
        '--work-dir',
        work_dir,
        '--cfg-options',
        *tiny_run_options(tiny_demo_data, max_epochs=2),
        cwd=str(tmp_path))
    # 8 images, batch 4: 2 iterations per epoch
    assert scalar_iters(work_dir) == [1, 2, 3, 4]
    ckpt2 = torch.load(
        osp.join(work_dir, 'epoch_2.pth'),
        map_location='cpu',
        weights_only=True)  # the safe allow-list is active (conftest)
    assert ckpt2['meta']['epoch'] == 2 and ckpt2['meta']['iter'] == 4
    assert set(ckpt2['optimizer']) == {'generator', 'discriminator'}
    assert any(k.startswith('discriminator.') for k in ckpt2['state_dict'])

    out = run_tool(
        train,
        GAN_CFG,
        '--work-dir',
        work_dir,
        '--resume',
        '--cfg-options',
        *tiny_run_options(tiny_demo_data, max_epochs=3),
        cwd=str(tmp_path))
    assert 'resumed epoch: 2, iter: 4' in out
    assert scalar_iters(work_dir) == [1, 2, 3, 4, 5, 6]
    ckpt3 = torch.load(
        osp.join(work_dir, 'epoch_3.pth'),
        map_location='cpu',
        weights_only=True)
    assert ckpt3['meta']['epoch'] == 3 and ckpt3['meta']['iter'] == 6
    # both players' optimizer states were restored and stepped on: the
    # momentum buffers moved on from the resumed ones
    for player in ('generator', 'discriminator'):
        before = ckpt2['optimizer'][player]['state']
        after = ckpt3['optimizer'][player]['state']
        assert before.keys() == after.keys() and len(after) > 0
        key = next(iter(after))
        moved = [
            not torch.equal(before[key][name], after[key][name])
            for name in after[key]
            if torch.is_tensor(after[key][name]) and after[key][name].dim() > 0
        ]
        assert moved and all(moved)

    # tools/test.py evaluates the GAN checkpoint, and, converted with
    # gan2mmdet, the same weights in the stock Mask R-CNN baseline config
    test = osp.join(REPO_ROOT, 'tools', 'test.py')
    options = tiny_run_options(tiny_demo_data)
    out = run_tool(
        test,
        GAN_CFG,
        osp.join(work_dir, 'epoch_3.pth'),
        '--work-dir',
        str(tmp_path / 'test_gan'),
        '--cfg-options',
        *options,
        cwd=str(tmp_path))
    gan_line = [line for line in out.splitlines() if 'coco/segm_mAP:' in line]
    assert gan_line
    stock_ckpt = str(tmp_path / 'stock.pth')
    run_tool(
        osp.join(REPO_ROOT, 'tools', 'model_converters', 'gan2mmdet.py'),
        osp.join(work_dir, 'epoch_3.pth'),
        stock_ckpt,
        cwd=str(tmp_path))
    out = run_tool(
        test,
        osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                 'mask_rcnn_r18_fpn_demo.py'),
        stock_ckpt,
        '--work-dir',
        str(tmp_path / 'test_stock'),
        '--cfg-options',
        *options,
        cwd=str(tmp_path))
    stock_line = [
        line for line in out.splitlines() if 'coco/segm_mAP:' in line
    ]

    # same generator weights, same graph: the same metrics
    def metrics(line):
        return dict(re.findall(r'(coco/\w+): (-?[\d.]+)', line))

    assert metrics(gan_line[-1]) == metrics(stock_line[-1])
    assert len(metrics(gan_line[-1])) >= 12
