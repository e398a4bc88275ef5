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


def seed_all(seed):
    random.seed(seed), np.random.seed(seed), torch.manual_seed(seed)


def draws_after_seed(seed):
    """The draws of every stream right after seeding it with ``seed`` (the
    streams are left seeded again)."""
    seed_all(seed)
    result = draws()
    seed_all(seed)
    return result


SCRAMBLE_SEED = 123


def save_then_scramble(epoch=2, iter=4):
    """A checkpoint as Runner.save_checkpoint writes it (through the hook)
    and reads it back, and the draws that follow the save (from streams
    seeded with 2024 and drawn from once); the streams are then re-seeded
    with ``SCRAMBLE_SEED``."""
    seed_all(2024)
    draws()  # the saved point is in the middle of the streams
    hook = RNGStateHook()
    checkpoint = dict(meta=dict(epoch=epoch, iter=iter))
    hook.before_save_checkpoint(runner_at(epoch, iter), checkpoint)
    expected = draws()
    seed_all(SCRAMBLE_SEED)
    return saved_and_loaded(checkpoint), expected


def assert_every_stream_differs(a, b):
    """Each stream's draws differ, so an equality with one of them says
    which state drew them."""
    for stream_a, stream_b in zip(a, b):
        assert stream_a != stream_b


def test_state_is_weights_only_loadable_and_restores_every_stream():
    checkpoint, expected = save_then_scramble()
    state = checkpoint[RNG_STATE_KEY]
    assert set(state) == {'python', 'numpy', 'torch', 'cuda'}
    assert isinstance(state['numpy'][1], np.ndarray)
    scrambled = draws_after_seed(SCRAMBLE_SEED)
    assert_every_stream_differs(scrambled, expected)
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner_at(2, 4), checkpoint)
    # nothing restored before the loop starts: the streams draw what the
    # scrambled state draws ...
    assert draws() == scrambled
    seed_all(SCRAMBLE_SEED)
    hook.before_train_epoch(runner_at(2, 4))
    # ... and, restored, exactly what followed the saved point, each stream
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
    scrambled = draws_after_seed(SCRAMBLE_SEED)
    assert_every_stream_differs(scrambled, expected)
    monkeypatch.setattr(rng_state_hook, 'get_world_size', lambda: 2)
    hook = RNGStateHook()
    hook.after_load_checkpoint(runner_at(2, 4), checkpoint)
    hook.before_train_epoch(runner_at(2, 4))
    # every stream goes on from its seeded state, none from the saved one
    assert draws() == scrambled


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
