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

:func:`register_atomic_local_backend` (called when ``mmdet_gan`` is imported)
installs it for local paths, in both of MMEngine's lookups:

- ``mmengine.fileio.get_file_backend`` (what ``save_checkpoint``,
  ``CheckpointHook`` and ``Runner.save_checkpoint`` use): the ``'local'``
  name and the empty prefix, replacing any ``LocalBackend`` instance that
  ``get_file_backend(..., enable_singleton=True)`` had cached before;
- the deprecated ``FileClient`` (``file_client_args=...``): its ``'disk'``
  backend.
"""
import os
import os.path as osp
import uuid
from pathlib import Path
from typing import Union

from mmengine.fileio import FileClient, LocalBackend, register_backend
from mmengine.fileio import io as fileio_io

#: Marker in the names of temporary files (``.<name>.<hex>.tmp``).
TMP_SUFFIX = '.tmp'


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
    tmp_path = osp.join(
        dirname,
        f'.{osp.basename(filepath)}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}')
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


class AtomicHardDiskBackend(AtomicLocalBackend):
    """:class:`AtomicLocalBackend` under ``FileClient``'s ``'disk'`` name
    (MMEngine's deprecated ``HardDiskBackend`` alias)."""

    @property
    def name(self) -> str:
        return self.__class__.__name__


def register_atomic_local_backend() -> None:
    """Make every local write of MMEngine's file I/O atomic.

    Idempotent; called when ``mmdet_gan`` is imported. Backends that are not
    local (petrel, http, lmdb, memcached) are left alone.
    """
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # get_file_backend(..., enable_singleton=True) caches instances by
    # prefix and arguments: drop the plain LocalBackend ones made before
    # this call so that they are rebuilt as AtomicLocalBackend.
    for key, backend in list(fileio_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del fileio_io.backend_instances[key]
    if not issubclass(FileClient._backends['disk'], AtomicLocalBackend):
        FileClient.register_backend('disk', AtomicHardDiskBackend, force=True)
