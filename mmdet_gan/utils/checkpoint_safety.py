"""Safe checkpoint loading for MMEngine checkpoints under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True``. MMEngine 0.10.7 checkpoints
pickle a few non-tensor objects (the message hub's ``HistoryBuffer``, numpy
arrays and scalars in the log history, ...), so ``--resume`` and
``load_from`` fail on MMEngine's own files. Instead of switching
``weights_only`` off (which lets a crafted file run arbitrary code), this
module allow-lists exactly the globals those checkpoints contain.

``HistoryBuffer`` pickles its statistics methods as
``getattr(HistoryBuffer, 'min')``. Allow-listing the real ``builtins.getattr``
would let a crafted checkpoint reach any attribute of any allow-listed object
(and rewrite live module globals), so a guarded substitute is registered
under that name: it only resolves registered ``HistoryBuffer`` statistics.

Importing ``mmdet_gan`` only adds that allow-list
(:func:`register_checkpoint_safe_globals`): MMEngine's own loader then reads
MMEngine checkpoints under ``weights_only=True``. :func:`load_from_local_safe`
is a loader for local paths whose errors say what is wrong and what to do (a
refused global, a truncated file) and that honours an explicit opt-in to
full-pickle loading; ``SafeCheckpointLoadHook`` (in the GAN configs) uses it
for the duration of a run, and :func:`use_safe_local_loader` installs it
anywhere else.
"""
import codecs
import collections
import contextlib
import os
import os.path as osp
import pickle
import warnings
import zipfile
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

UNSAFE_LOAD_ENV = 'MMDET_GAN_UNSAFE_CHECKPOINT_LOAD'


class CheckpointLoadError(RuntimeError):
    """A checkpoint file could not be read (missing, truncated, corrupted)."""


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs globals outside the allow-list."""


# HistoryBuffer's own statistics; ``_statistics_methods`` holds them only once
# a HistoryBuffer has been created, custom ones once they are registered.
_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _allowed_statistics() -> List[str]:
    return sorted(
        set(_BUILTIN_STATISTICS) | set(HistoryBuffer._statistics_methods))


def _checkpoint_getattr(obj: Any, name: str) -> Callable:
    """``builtins.getattr`` as seen by ``torch.load(weights_only=True)``.

    Only ``getattr(HistoryBuffer, <registered statistics method>)`` resolves;
    anything else is refused.
    """
    if obj is HistoryBuffer and name in _allowed_statistics():
        return getattr(obj, name)
    raise UnsafeCheckpointError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        f'HistoryBuffer statistics methods {_allowed_statistics()} are '
        'allowed')


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """numpy objects found in MMEngine checkpoints, under both the numpy 1.x
    (``numpy.core``) and numpy 2.x (``numpy._core``) module paths."""
    multiarray = getattr(np, '_core', None) or np.core
    reconstruct = multiarray.multiarray._reconstruct
    scalar = multiarray.multiarray.scalar
    entries: List[Union[Callable, Tuple[Callable, str]]] = [
        np.ndarray, np.dtype, reconstruct, scalar
    ]
    for prefix in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((reconstruct, f'{prefix}._reconstruct'))
        entries.append((scalar, f'{prefix}.scalar'))
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        entries.extend(
            cls for cls in vars(dtypes).values()
            if isinstance(cls, type) and issubclass(cls, np.dtype))
    return entries


def checkpoint_safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The exact allow-list for MMEngine checkpoints."""
    return [
        HistoryBuffer,
        codecs.encode,
        collections.Counter,
        (_checkpoint_getattr, 'builtins.getattr'),
    ] + _numpy_globals()


def unsafe_load_allowed() -> bool:
    """Whether the user explicitly opted in to full-pickle loading."""
    return os.getenv(UNSAFE_LOAD_ENV, '0') == '1'


def _unpickler_detail(message: str) -> str:
    """The line of torch's weights-only error that says what failed."""
    marker = 'WeightsUnpickler error:'
    if marker in message:
        message = message.split(marker, 1)[1]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else 'unknown unpickling error'


def _needs_unsafe_globals(detail: str) -> bool:
    """Whether a weights-only failure is a refused global (a file that
    full pickle could load) rather than a damaged file."""
    return 'global' in detail.lower() or 'getattr(' in detail


def load_from_local_safe(
        filename: str,
        map_location: Optional[Union[str, Callable]] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True``.

    Named ``load_from_<scheme>`` like MMEngine's loaders, whose log line
    ("Loads checkpoint by local_safe backend") takes the name after
    ``load_from_``.

    Args:
        filename (str): Path of the checkpoint.
        map_location (str | callable, optional): Same as :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the file needs globals outside the allow-list
            and the user did not opt in
            (``MMDET_GAN_UNSAFE_CHECKPOINT_LOAD=1``, or
            ``--unsafe-load-checkpoint`` of the tools).
        CheckpointLoadError: the file is truncated or not a checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        detail = _unpickler_detail(str(err))
        if not _needs_unsafe_globals(detail):
            raise CheckpointLoadError(
                f'{filename} is not a readable checkpoint ({detail}). It is '
                'probably truncated or corrupted, or not a PyTorch file: use '
                'another checkpoint (e.g. an earlier epoch).') from err
        if unsafe_load_allowed():
            warnings.warn(
                f'Loading {filename} with weights_only=False because '
                f'{UNSAFE_LOAD_ENV}=1: this runs arbitrary code from the '
                'file; do it only for files you trust.')
            return torch.load(
                filename, map_location=map_location, weights_only=False)
        raise UnsafeCheckpointError(
            f'Refused to load {filename}: it contains objects outside the '
            f'safe allow-list ({detail}). Unpickling them could run '
            'arbitrary code. If you trust this file, opt in explicitly with '
            f'--unsafe-load-checkpoint (or {UNSAFE_LOAD_ENV}=1).') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointLoadError(
            f'{filename} is not a readable checkpoint ({type(err).__name__}:'
            f' {err}). It is probably truncated (an interrupted save) or '
            'corrupted: use another checkpoint (e.g. an earlier epoch).'
        ) from err


def register_checkpoint_safe_globals() -> None:
    """Allow-list MMEngine's checkpoint globals for
    ``torch.load(weights_only=True)``. Idempotent; called when ``mmdet_gan``
    is imported."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


def _local_loader() -> Callable:
    """The loader MMEngine's ``CheckpointLoader`` uses for local paths."""
    return CheckpointLoader._schemes['']


@contextlib.contextmanager
def use_safe_local_loader() -> Iterator[None]:
    """Load local checkpoints with :func:`load_from_local_safe` inside the
    block; the previous loader is restored afterwards."""
    previous = _local_loader()
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_safe, force=True)
    try:
        yield
    finally:
        CheckpointLoader.register_scheme(
            prefixes='', loader=previous, force=True)
