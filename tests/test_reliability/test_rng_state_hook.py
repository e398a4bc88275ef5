"""RNGStateHook: what it stores passes torch.load(weights_only=True) with
the project's allow-list, and it restores the streams only when training
continues from the checkpoint (the end-to-end proof is
test_exact_resume.py)."""
import io
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmdet_gan.engine.hooks import RNGStateHook, rng_state_hook
from mmdet_gan.engine.hooks.rng_state_hook import RNG_STATE_KEY, get_rng_state


def draws():
    return (random.random(), np.random.rand(3).tolist(),
            torch.rand(3).tolist(), torch.randperm(10).tolist())


def saved_and_loaded(checkpoint):
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    return torch.load(buffer, map_location='cpu', weights_only=True)


def runner_at(epoch, iter):
    return SimpleNamespace(epoch=epoch, iter=iter)


def save_then_scramble(epoch=2, iter=4):
    """A checkpoint as Runner.save_checkpoint writes it (through the hook)
    and reads it back, the draws that follow the save, then other draws."""
    hook = RNGStateHook()
    checkpoint = dict(meta=dict(epoch=epoch, iter=iter))
    hook.before_save_checkpoint(runner_at(epoch, iter), checkpoint)
    expected = draws()
    random.seed(123), np.random.seed(123), torch.manual_seed(123)
    return saved_and_loaded(checkpoint), expected


def test_state_is_weights_only_loadable_and_restores_every_stream():
    checkpoint, expected = save_then_scramble()
    state = checkpoint[RNG_STATE_KEY]
    assert set(state) == {'python', 'numpy', 'torch', 'cuda'}
    assert isinstance(state['numpy'][1], np.ndarray)
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner_at(2, 4), checkpoint)
    assert draws() != expected  # nothing restored before the loop starts
    hook.before_train_epoch(runner_at(2, 4))
    assert draws() == expected


def test_load_from_without_resume_keeps_the_seeded_streams():
    checkpoint, expected = save_then_scramble()
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner_at(0, 0), checkpoint)
    torch.manual_seed(7)
    seeded = torch.rand(3).tolist()
    torch.manual_seed(7)
    hook.before_train_epoch(runner_at(0, 0))  # training starts at 0
    assert torch.rand(3).tolist() == seeded
    # and the pending state is dropped after the first epoch start
    hook.before_train_epoch(runner_at(2, 4))
    torch.manual_seed(7)
    assert torch.rand(3).tolist() == seeded


def test_checkpoint_without_rng_state_resumes_as_before():
    hook = RNGStateHook()
    hook.after_load_checkpoint(
        runner_at(2, 4), dict(meta=dict(epoch=2, iter=4)))
    torch.manual_seed(7)
    seeded = torch.rand(3).tolist()
    torch.manual_seed(7)
    hook.before_train_epoch(runner_at(2, 4))
    assert torch.rand(3).tolist() == seeded


def test_distributed_runs_keep_their_seeded_streams(monkeypatch):
    checkpoint, expected = save_then_scramble()
    monkeypatch.setattr(rng_state_hook, 'get_world_size', lambda: 2)
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner_at(2, 4), checkpoint)
    hook.before_train_epoch(runner_at(2, 4))
    assert draws() != expected


@pytest.mark.cuda
def test_cuda_state_round_trip_and_gpu_mapped_checkpoint():
    torch.cuda.init()
    torch.rand(1, device='cuda')
    state = get_rng_state()
    assert state['cuda'] is not None
    expected = torch.rand(3, device='cuda').tolist()
    # --resume maps the checkpoint to the GPU: the states come back there
    checkpoint = {RNG_STATE_KEY: state, 'meta': dict(epoch=1, iter=1)}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, map_location='cuda', weights_only=True)
    torch.cuda.manual_seed(5)
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner_at(1, 1), loaded)
    hook.before_train_epoch(runner_at(1, 1))
    assert torch.rand(3, device='cuda').tolist() == expected
