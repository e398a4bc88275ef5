"""Atomic local writes for MMEngine's file backend.

``mmengine.runner.save_checkpoint`` serialises the checkpoint into memory and
hands the bytes to the file backend's ``put``. MMEngine's ``LocalBackend``
opens the destination with ``'wb'`` and writes in place, so a process killed
while saving (SIGKILL, OOM killer, a full disk, a preempted job) leaves a
truncated ``epoch_N.pth`` under the final name, and ``--resume`` picks it as
the latest checkpoint.

:class:`AtomicLocalBackend` writes into a temporary file in the destination's
folder, flushes and ``fsync``\\ s it, then renames it over the destination
with ``os.replace`` (atomic on POSIX and Windows when both paths are on the
same file system) and ``fsync``\\ s the folder. A reader therefore sees either
the previous file or the complete new one, never a partial one; a failed
write removes its temporary file and leaves the destination untouched.

Nothing changes on import beyond a *named* registration: the backend is
``'atomic_local'`` in MMEngine's file-backend registry, and a config selects
it where MMEngine lets a config choose a backend, e.g. for checkpoints::

    default_hooks = dict(
        checkpoint=dict(backend_args=dict(backend='atomic_local')))

(the GAN configs of this package do). Other writes of the process, and
other projects' configs, keep MMEngine's ``LocalBackend``.
:func:`remove_stale_tmp_files` deletes what a killed save leaves behind
(``CheckpointTmpCleanupHook`` calls it when a run starts).
"""
import os
import os.path as osp
import re
import uuid
from pathlib import Path
from typing import List, Union

from mmengine.fileio import LocalBackend, register_backend

#: Marker in the names of temporary files (``.<name>.<hex>.tmp``).
TMP_SUFFIX = '.tmp'
#: Name under which :class:`AtomicLocalBackend` is registered.
BACKEND_NAME = 'atomic_local'
_TMP_HEX_LEN = 12
_TMP_PATTERN = re.compile(r'^\.(?P<name>.+)\.[0-9a-f]{%d}%s$' %
                          (_TMP_HEX_LEN, re.escape(TMP_SUFFIX)))


def _fsync_dir(dirname: str) -> None:
    """Persist a rename in ``dirname`` (best effort: not every platform or
    file system lets a folder be opened and synced)."""
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that it is never seen half-written.

    The bytes go to a temporary file next to ``filepath`` (same folder, so
    the rename stays on one file system), which is flushed, ``fsync``\\ ed and
    renamed over ``filepath`` with :func:`os.replace`. The temporary file is
    created with mode ``0o666`` minus the umask, like ``open(path, 'wb')``.
    If ``filepath`` is a symlink, its target is replaced (as writing through
    the link would have done).

    Args:
        data (bytes): What to write.
        filepath (str | Path): Destination; missing parent folders are
            created.

    Raises:
        OSError: The write failed (e.g. the disk is full); ``filepath`` is
            unchanged and no temporary file is left behind.
    """
    filepath = os.fspath(filepath)
    if osp.islink(filepath):
        filepath = osp.realpath(filepath)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    tag = uuid.uuid4().hex[:_TMP_HEX_LEN]
    tmp_path = osp.join(dirname,
                        f'.{osp.basename(filepath)}.{tag}{TMP_SUFFIX}')
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    except BaseException:
        try:
            os.remove(tmp_path)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


class AtomicLocalBackend(LocalBackend):
    """MMEngine's ``LocalBackend`` whose ``put`` / ``put_text`` replace the
    destination atomically (see :func:`atomic_write_bytes`). Reading,
    listing, copying and removing are ``LocalBackend``'s."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str | Path): Destination; missing parent folders are
                created.
        """
        atomic_write_bytes(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str | Path): Destination; missing parent folders are
                created.
            encoding (str): Encoding of the text. Defaults to 'utf-8'.
        """
        atomic_write_bytes(obj.encode(encoding), filepath)


def is_stale_tmp_file(filename: str) -> bool:
    """Whether ``filename`` (a base name) is a temporary file of
    :func:`atomic_write_bytes` (``.<name>.<12 hex digits>.tmp``)."""
    return _TMP_PATTERN.match(filename) is not None


def remove_stale_tmp_files(dirname: Union[str, Path]) -> List[str]:
    """Delete the temporary files that interrupted atomic writes left in
    ``dirname`` (not recursive).

    A write killed before its rename (SIGKILL, OOM, preemption) leaves its
    temporary file, as large as the checkpoint, and nothing else refers to
    it. Call this only when no write into ``dirname`` is in flight, e.g.
    when a run starts.

    Args:
        dirname (str | Path): Folder to clean; a missing folder is fine.

    Returns:
        list[str]: Paths of the removed files.
    """
    dirname = os.fspath(dirname)
    if not osp.isdir(dirname):
        return []
    removed = []
    for entry in sorted(os.listdir(dirname)):
        path = osp.join(dirname, entry)
        if is_stale_tmp_file(entry) and osp.isfile(path) \
                and not osp.islink(path):
            os.remove(path)
            removed.append(path)
    return removed


def register_atomic_local_backend() -> None:
    """Register :class:`AtomicLocalBackend` as ``'atomic_local'``.

    Idempotent; called when ``mmdet_gan`` is imported. It adds a name only:
    MMEngine's ``'local'`` backend and its prefix lookup stay as they are,
    so only configs that ask for ``backend='atomic_local'`` write through
    it.
    """
    register_backend(BACKEND_NAME, AtomicLocalBackend, force=True)
