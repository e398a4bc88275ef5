import collections
import io
import os
import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

import mmdet_gan  # noqa: F401
from mmdet_gan.engine.hooks import SafeCheckpointLoadHook
from mmdet_gan.utils.checkpoint_safety import (UNSAFE_LOAD_ENV,
                                               CheckpointLoadError,
                                               UnsafeCheckpointError,
                                               load_from_local_safe,
                                               use_safe_local_loader)

SENTINEL = 'mmdet_gan_pwned'


def _mark_pwned():
    os.environ[SENTINEL] = '1'


class RunsCode:
    """Unpickling this (with full pickle) runs code (_mark_pwned)."""

    def __reduce__(self):
        return (_mark_pwned, ())


def mmengine_like_checkpoint(path):
    hub = MessageHub.get_instance('ckpt_safety')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('seed', np.int64(3))
    torch.save(
        {
            'meta': {
                'epoch': 1,
                'counter': collections.Counter(a=2),
                'arr': np.arange(3)
            },
            'message_hub': hub.state_dict(),
            'state_dict': {
                'w': torch.ones(2)
            },
        }, path)


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    mmengine_like_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)  # plain torch.load works too
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.current() == 0.5
    assert ckpt['meta']['counter'] == collections.Counter(a=2)
    # MMEngine's own loader for local paths reads it (the allow-list is all
    # that importing mmdet_gan adds)
    assert CheckpointLoader._schemes[''] is mmengine_checkpoint.load_from_local
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_safe_loader_only_inside_its_block_and_named_in_the_log(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    mmengine_like_checkpoint(path)
    with use_safe_local_loader(), mock.patch.object(mmengine_checkpoint,
                                                    'print_log') as log:
        assert CheckpointLoader._schemes[''] is load_from_local_safe
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert CheckpointLoader._schemes[''] is mmengine_checkpoint.load_from_local
    # MMEngine logs the loader's name after `load_from_`
    assert 'Loads checkpoint by local_safe backend' in log.call_args[0][0]


def test_safe_checkpoint_load_hook_installs_for_the_run_only():
    hook = SafeCheckpointLoadHook()
    hook.before_run(runner=None)
    try:
        assert CheckpointLoader._schemes[''] is load_from_local_safe
    finally:
        hook.after_run(runner=None)
    assert CheckpointLoader._schemes[''] is mmengine_checkpoint.load_from_local


def test_crafted_checkpoint_is_refused_and_does_not_run(tmp_path, monkeypatch):
    monkeypatch.delenv(UNSAFE_LOAD_ENV, raising=False)
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'payload': RunsCode()}, path)
    with pytest.raises(
            UnsafeCheckpointError, match='--unsafe-load-checkpoint'):
        load_from_local_safe(path)
    assert SENTINEL not in os.environ


def test_guarded_getattr_only_resolves_history_buffer_statistics(tmp_path):
    # a pickle that calls getattr(os, 'system') must be refused
    payload = (b'\x80\x02cbuiltins\ngetattr\ncos\nsystem\nX\x04\x00\x00\x00'
               b'nameq\x00\x86q\x01Rq\x02.')
    with pytest.raises(pickle.UnpicklingError):
        torch.serialization._weights_only_unpickler.load(io.BytesIO(payload))
    from mmdet_gan.utils.checkpoint_safety import _checkpoint_getattr
    assert _checkpoint_getattr(HistoryBuffer, 'min') is HistoryBuffer.min
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        _checkpoint_getattr(HistoryBuffer, '__init__')
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        _checkpoint_getattr(os, 'system')


def test_explicit_opt_in_loads_trusted_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'trusted.pth')
    torch.save(
        {
            'state_dict': {},
            'extra': collections.OrderedDict(),
            'obj': RunsCode()
        }, path)
    monkeypatch.setenv(UNSAFE_LOAD_ENV, '1')
    monkeypatch.delenv(SENTINEL, raising=False)
    with pytest.warns(UserWarning, match='weights_only=False'):
        load_from_local_safe(path)
    assert os.environ.pop(SENTINEL) == '1'  # full pickle did run it


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all'])
def test_corrupted_file_gives_clear_error(tmp_path, content):
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointLoadError, match='truncated|corrupted'):
        load_from_local_safe(str(path))


def test_truncated_checkpoint_gives_clear_error(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {'w': torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointLoadError, match='truncated'):
        load_from_local_safe(str(path))
    with pytest.raises(FileNotFoundError):
        load_from_local_safe(str(tmp_path / 'missing.pth'))
