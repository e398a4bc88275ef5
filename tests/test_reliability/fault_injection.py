"""Test-only faults that kill a training process on purpose.

Imported by the reliability tests' configs through ``custom_imports``
(``tests.test_reliability.fault_injection``, with the repository root on
``PYTHONPATH``). Nothing happens unless an environment variable asks for it,
so the interrupted runs and the reference run share one config.

- ``MMDET_GAN_TEST_SIGKILL_AT_ITER=N``: ``SigkillHook`` kills the process
  right after global iteration ``N`` (1-based).
- ``MMDET_GAN_TEST_SIGKILL_SAVING=epoch_2.pth``: the process is killed
  while it saves that checkpoint, after every byte went to the temporary
  file and before the rename (the ``fsync`` of the temporary file).
"""
import os
import os.path as osp
import signal

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

SIGKILL_AT_ITER_ENV = 'MMDET_GAN_TEST_SIGKILL_AT_ITER'
SIGKILL_SAVING_ENV = 'MMDET_GAN_TEST_SIGKILL_SAVING'


def _sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class SigkillHook(Hook):
    """``kill -9`` the training process right after iteration
    ``$MMDET_GAN_TEST_SIGKILL_AT_ITER`` (1-based, global): no ``finally``,
    no ``atexit``, like a node that dies."""

    priority = 'LOWEST'

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        at_iter = os.environ.get(SIGKILL_AT_ITER_ENV)
        if at_iter is not None and runner.iter + 1 == int(at_iter):
            _sigkill_self()


def _install_sigkill_while_saving(name: str) -> None:
    """Kill the process when it ``fsync``\\ s the temporary file of
    checkpoint ``name`` (``.<name>.<hex>.tmp``)."""
    real_fsync = os.fsync

    def fsync(fd):
        try:
            path = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            path = ''
        if osp.basename(path).startswith(f'.{name}.'):
            _sigkill_self()
        return real_fsync(fd)

    os.fsync = fsync


if os.environ.get(SIGKILL_SAVING_ENV):
    _install_sigkill_while_saving(os.environ[SIGKILL_SAVING_ENV])
