"""Nothing lost (issue 6): training killed with SIGKILL, in the middle of an
epoch or while it saves a checkpoint, and resumed with ``--resume`` ends
with the generator and discriminator weights, the optimizer states of both
players and the schedulers of a run that was never interrupted.

All runs are ``tools/train.py`` subprocesses on the tiny demo data with a
small GAN config (``utils.write_small_gan_config``); 4 images in batches of
2 give 2 iterations per epoch, 3 epochs.
"""
import os
import os.path as osp
import shutil
import signal

import numpy as np
import pytest
import torch

from mmdet_gan.engine.hooks.rng_state_hook import RNG_STATE_KEY
from .fault_injection import SIGKILL_AT_ITER_ENV, SIGKILL_SAVING_ENV
from .utils import output_tail, run_train, write_small_gan_config

pytestmark = pytest.mark.slow

ATOL = 1e-5


def load(path):
    # the safe allow-list is active (tests/conftest.py imports mmdet_gan)
    return torch.load(path, map_location='cpu', weights_only=True)


def assert_tree_close(actual, expected, where):
    """Tensors within ATOL, arrays and everything else equal."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), where
        assert actual.shape == expected.shape and \
            actual.dtype == expected.dtype, where
        torch.testing.assert_close(
            actual, expected, rtol=0, atol=ATOL, msg=lambda m: f'{where}: {m}')
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            assert_tree_close(actual[key], expected[key], f'{where}.{key}')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_tree_close(a, e, f'{where}[{i}]')
    else:
        assert actual == expected, where


def assert_same_training_state(ckpt, ref):
    """Weights (generator, both discriminators, BN statistics), both
    optimizers, the schedulers and the generators' states."""
    assert ckpt['meta']['epoch'] == ref['meta']['epoch']
    assert ckpt['meta']['iter'] == ref['meta']['iter']
    keys = set(ref['state_dict'])
    assert any(k.startswith('discriminator.box.') for k in keys)
    assert any(k.startswith('discriminator.mask.') for k in keys)
    assert_tree_close(ckpt['state_dict'], ref['state_dict'], 'state_dict')
    assert set(ref['optimizer']) == {'generator', 'discriminator'}
    for player in ('generator', 'discriminator'):
        assert len(ref['optimizer'][player]['state']) > 0
        assert_tree_close(ckpt['optimizer'][player], ref['optimizer'][player],
                          f'optimizer.{player}')
    assert_tree_close(ckpt['param_schedulers'], ref['param_schedulers'],
                      'param_schedulers')
    assert_tree_close(ckpt[RNG_STATE_KEY], ref[RNG_STATE_KEY], 'rng_state')


@pytest.fixture(scope='module')
def small_cfg(tiny_demo_data, tmp_path_factory):
    root = tmp_path_factory.mktemp('reliability_resume')
    return write_small_gan_config(str(root / 'small_gan.py'), tiny_demo_data)


@pytest.fixture(scope='module')
def reference_run(small_cfg):
    """Three epochs, never interrupted."""
    work_dir = osp.join(osp.dirname(small_cfg), 'reference')
    proc = run_train(small_cfg, work_dir)
    assert proc.returncode == 0, output_tail(proc)
    return work_dir


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(
        small_cfg, reference_run, tmp_path):
    work_dir = str(tmp_path / 'crash')
    # iteration 5 is the first of epoch 3; the process dies right after it
    crash = run_train(small_cfg, work_dir, env={SIGKILL_AT_ITER_ENV: '5'})
    assert crash.returncode == -signal.SIGKILL, output_tail(crash)
    assert 'Epoch(train) [3][1/2]' in crash.stdout + crash.stderr
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    assert not osp.exists(osp.join(work_dir, 'epoch_3.pth'))
    # the first two epochs are deterministic: same checkpoint as the
    # reference's
    assert_same_training_state(
        load(osp.join(work_dir, 'epoch_2.pth')),
        load(osp.join(reference_run, 'epoch_2.pth')))

    resumed = run_train(small_cfg, work_dir, '--resume')
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output_tail(resumed)
    assert 'resumed epoch: 2, iter: 4' in out
    assert 'Restored the random generator states of epoch 2' in out
    assert_same_training_state(
        load(osp.join(work_dir, 'epoch_3.pth')),
        load(osp.join(reference_run, 'epoch_3.pth')))


def test_sigkill_while_saving_keeps_last_checkpoint_then_resume_matches(
        small_cfg, reference_run, tmp_path):
    work_dir = str(tmp_path / 'crash_saving')
    crash = run_train(
        small_cfg, work_dir, env={SIGKILL_SAVING_ENV: 'epoch_2.pth'})
    assert crash.returncode == -signal.SIGKILL, output_tail(crash)
    assert 'Saving checkpoint at 2 epochs' in crash.stdout + crash.stderr
    # no partial epoch_2.pth under the final name; epoch_1.pth is intact
    # and is what the work dir's last_checkpoint still points to
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))
    leftovers = [f for f in os.listdir(work_dir) if f.startswith('.epoch_2')]
    assert len(leftovers) == 1 and leftovers[0].endswith('.tmp')
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'epoch_1.pth'
    assert_same_training_state(
        load(osp.join(work_dir, 'epoch_1.pth')),
        load(osp.join(reference_run, 'epoch_1.pth')))

    resumed = run_train(small_cfg, work_dir, '--resume')
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output_tail(resumed)
    assert 'resumed epoch: 1, iter: 2' in out
    assert_same_training_state(
        load(osp.join(work_dir, 'epoch_3.pth')),
        load(osp.join(reference_run, 'epoch_3.pth')))


def test_without_rng_state_the_resumed_run_differs(small_cfg, reference_run,
                                                   tmp_path):
    """Control: the comparison above does detect lost generator states.
    Resuming the reference's epoch_2.pth without RNGStateHook (the config's
    other hooks unchanged) trains epoch 3 on other flips and other RoI
    samples."""
    cfg = str(tmp_path / 'no_rng_hook.py')
    with open(small_cfg) as f:
        text = f.read()
    assert "{'type': 'RNGStateHook'}, " in text
    with open(cfg, 'w') as f:
        f.write(text.replace("{'type': 'RNGStateHook'}, ", ''))
    work_dir = str(tmp_path / 'no_rng')
    os.makedirs(work_dir)
    shutil.copy(osp.join(reference_run, 'epoch_2.pth'), work_dir)
    proc = run_train(cfg, work_dir, '--resume',
                     osp.join(work_dir, 'epoch_2.pth'))
    assert proc.returncode == 0, output_tail(proc)
    ckpt = load(osp.join(work_dir, 'epoch_3.pth'))
    ref = load(osp.join(reference_run, 'epoch_3.pth'))
    gap = max((ckpt['state_dict'][k].float() -
               ref['state_dict'][k].float()).abs().max().item()
              for k in ref['state_dict'])
    assert gap > 100 * ATOL
