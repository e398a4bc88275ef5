"""Atomic checkpoint writes (mmdet_gan.utils.atomic_io): with the
``'atomic_local'`` backend a config selects, writes go through a temporary
file and ``os.replace``, so a failure or a kill in the middle of a save
never leaves a partial file under the final name; importing the package
changes no other I/O. (A real SIGKILL during a training run's save is in
test_exact_resume.py.)"""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import FileClient, LocalBackend, get_file_backend
from mmengine.fileio.backends import local_backend
from mmengine.runner.checkpoint import save_checkpoint

from mmdet_gan.engine.hooks import CheckpointTmpCleanupHook
from mmdet_gan.utils import atomic_io
from mmdet_gan.utils.atomic_io import (AtomicLocalBackend, atomic_write_bytes,
                                       is_stale_tmp_file,
                                       register_atomic_local_backend,
                                       remove_stale_tmp_files)
from .utils import FailingFile


def checkpoint(value):
    return {'state_dict': {'w': torch.full((256, 256), float(value))}}


ATOMIC = dict(backend='atomic_local')


def test_import_leaves_mmengine_local_io_alone(tmp_path):
    """Importing mmdet_gan (conftest does) registers a *named* backend and
    changes nothing else: plain local paths, the cached singletons and the
    deprecated FileClient stay MMEngine's."""
    path = str(tmp_path / 'epoch_1.pth')
    assert type(get_file_backend(path)) is LocalBackend
    assert type(get_file_backend(path, enable_singleton=True)) is LocalBackend
    assert type(get_file_backend(
        path, backend_args=dict(backend='local'))) is LocalBackend
    assert type(FileClient(backend='disk').client) is not AtomicLocalBackend
    register_atomic_local_backend()  # idempotent, and still only a name
    assert type(get_file_backend(path)) is LocalBackend


def test_the_config_selects_the_atomic_backend_by_name(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    assert type(get_file_backend(path, backend_args=ATOMIC)) is \
        AtomicLocalBackend
    # what CheckpointHook passes to Runner.save_checkpoint
    save_checkpoint(checkpoint(1), path, backend_args=ATOMIC)
    assert (torch.load(path, weights_only=True)['state_dict']['w'] == 1).all()


def test_gan_configs_write_checkpoints_atomically(repo_root):
    for name in ('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py',
                 'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py',
                 'mask_rcnn/mask_rcnn_r18_fpn_demo.py'):
        cfg = Config.fromfile(osp.join(repo_root, 'configs', name))
        assert cfg.default_hooks.checkpoint.backend_args == ATOMIC, name
        hooks = [hook['type'] for hook in cfg.custom_hooks]
        assert 'CheckpointTmpCleanupHook' in hooks, name


def test_stale_tmp_files_removed_at_the_next_start(tmp_path):
    """A save killed before its rename leaves `.<name>.<hex>.tmp`; the hook
    removes exactly such files when the next run starts."""
    work_dir = tmp_path / 'work'
    out_root = tmp_path / 'out'
    (out_root / 'work').mkdir(parents=True)
    work_dir.mkdir()
    stale = [
        work_dir / '.epoch_3.pth.0123456789ab.tmp',
        out_root / 'work' / '.best_segm.pth.abcdefabcdef.tmp'
    ]
    kept = [
        work_dir / 'epoch_2.pth', work_dir / 'notes.tmp',
        work_dir / '.epoch_3.pth.xyz.tmp',
        work_dir / '.epoch_3.pth.0123456789abc.tmp'
    ]
    for path in stale + kept:
        path.write_bytes(b'x' * 10)

    class Runner:
        pass

    runner = Runner()
    runner.work_dir = str(work_dir)
    checkpoint_hook = Runner()
    checkpoint_hook.out_dir = str(out_root)
    runner.hooks = [checkpoint_hook]
    CheckpointTmpCleanupHook().before_run(runner)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)


def test_a_failed_atomic_write_leaves_no_tmp_file_to_clean(tmp_path):
    assert remove_stale_tmp_files(tmp_path / 'missing') == []
    atomic_write_bytes(b'data', tmp_path / 'a.pth')
    assert remove_stale_tmp_files(tmp_path) == []
    assert not is_stale_tmp_file('a.pth')
    assert is_stale_tmp_file('.a.pth.0123456789ab.tmp')


def test_failure_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(checkpoint(1), path, backend_args=ATOMIC)
    before = sorted(os.listdir(tmp_path))

    real_fdopen = os.fdopen
    monkeypatch.setattr(atomic_io.os, 'fdopen',
                        lambda *a, **k: FailingFile(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match='No space left on device'):
        save_checkpoint(checkpoint(2), path, backend_args=ATOMIC)
    monkeypatch.undo()

    # the previous checkpoint is intact and no temporary file is left
    assert sorted(os.listdir(tmp_path)) == before
    loaded = torch.load(path, weights_only=True)
    assert (loaded['state_dict']['w'] == 1).all()
    # the next save succeeds
    save_checkpoint(checkpoint(3), path, backend_args=ATOMIC)
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
    backend = get_file_backend(str(path), backend_args=ATOMIC)
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
