"""Atomic checkpoint writes (mmdet_gan.utils.atomic_io): MMEngine's local
writes go through a temporary file and ``os.replace``, so a failure or a
kill in the middle of a save never leaves a partial file under the final
name. (A real SIGKILL during a training run's save is in
test_exact_resume.py.)"""
import errno
import os
import os.path as osp

import pytest
import torch
from mmengine.fileio import FileClient, LocalBackend, get_file_backend
from mmengine.fileio import io as fileio_io
from mmengine.fileio.backends import local_backend
from mmengine.runner.checkpoint import save_checkpoint

from mmdet_gan.utils import atomic_io
from mmdet_gan.utils.atomic_io import (AtomicLocalBackend, atomic_write_bytes,
                                       register_atomic_local_backend)


class FailingFile:
    """A file whose ``write`` stores the first half of the data, then fails
    like a full disk."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[:len(data) // 2])
        self._f.flush()
        raise OSError(errno.ENOSPC, 'No space left on device')

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


def checkpoint(value):
    return {'state_dict': {'w': torch.full((256, 256), float(value))}}


def test_local_writes_resolve_to_the_atomic_backend(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    # what save_checkpoint, Runner.save_checkpoint and CheckpointHook use
    assert type(get_file_backend(path)) is AtomicLocalBackend
    assert type(get_file_backend(path, enable_singleton=True)) is \
        AtomicLocalBackend
    assert type(get_file_backend(
        path, backend_args=dict(backend='local'))) is AtomicLocalBackend
    # the deprecated FileClient (file_client_args=...)
    assert isinstance(
        FileClient.infer_client(uri=path).client, AtomicLocalBackend)
    assert isinstance(FileClient(backend='disk').client, AtomicLocalBackend)
    # other storages are left alone
    assert not isinstance(
        get_file_backend('http://example.com/x.pth'), LocalBackend)


def test_registration_replaces_cached_plain_backends(tmp_path, monkeypatch):
    """A LocalBackend cached by get_file_backend(enable_singleton=True)
    before mmdet_gan was imported is not reused afterwards."""
    monkeypatch.setattr(fileio_io, 'backend_instances', {})
    path = str(tmp_path / 'x.pth')
    key = ':{}'  # get_file_backend's cache key for local paths, no args
    fileio_io.backend_instances[key] = LocalBackend()
    register_atomic_local_backend()
    assert key not in fileio_io.backend_instances
    assert type(get_file_backend(path, enable_singleton=True)) is \
        AtomicLocalBackend


def test_failure_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(checkpoint(1), path)
    before = sorted(os.listdir(tmp_path))

    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic_io.os, 'fdopen',
                        lambda *a, **k: FailingFile(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match='No space left on device'):
        save_checkpoint(checkpoint(2), path)
    monkeypatch.undo()

    # the previous checkpoint is intact and no temporary file is left
    assert sorted(os.listdir(tmp_path)) == before
    loaded = torch.load(path, weights_only=True)
    assert (loaded['state_dict']['w'] == 1).all()
    # the next save succeeds
    save_checkpoint(checkpoint(3), path)
    assert (torch.load(path, weights_only=True)['state_dict']['w'] == 3).all()


def test_stock_local_backend_would_leave_a_truncated_file(
        tmp_path, monkeypatch):
    """Why: the same failure through MMEngine's own LocalBackend.put (which
    writes in place) destroys the previous checkpoint."""
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(checkpoint(1), path)
    real_open = open
    monkeypatch.setattr(
        local_backend,
        'open',
        lambda *a, **k: FailingFile(real_open(*a, **k)),
        raising=False)
    data = (tmp_path / 'epoch_1.pth').read_bytes()
    with pytest.raises(OSError):
        LocalBackend().put(data, path)
    assert 0 < osp.getsize(path) < len(data)
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)


def test_put_text_is_atomic_and_modes_match_open(tmp_path):
    path = tmp_path / 'last_checkpoint'
    backend = get_file_backend(str(path))
    backend.put_text('/work/epoch_1.pth', str(path))
    assert path.read_text() == '/work/epoch_1.pth'
    backend.put_text('/work/epoch_2.pth', str(path))
    assert path.read_text() == '/work/epoch_2.pth'
    with open(tmp_path / 'reference', 'w'):
        pass
    assert os.stat(path).st_mode == os.stat(tmp_path / 'reference').st_mode
    assert sorted(os.listdir(tmp_path)) == ['last_checkpoint', 'reference']


def test_write_creates_folders_and_follows_symlinks(tmp_path):
    target = tmp_path / 'ckpts' / 'epoch_1.pth'
    atomic_write_bytes(b'first', target)
    assert target.read_bytes() == b'first'
    link = tmp_path / 'latest.pth'
    link.symlink_to(target)
    atomic_write_bytes(b'second', link)
    assert link.is_symlink() and target.read_bytes() == b'second'
