"""Checkpoint loading with errors that say what to do, for one run."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmdet_gan.utils.checkpoint_safety import use_safe_local_loader


@HOOKS.register_module()
class SafeCheckpointLoadHook(Hook):
    """Load local checkpoints (``load_from``, ``--resume``) with
    :func:`mmdet_gan.utils.checkpoint_safety.load_from_local_safe` for the
    duration of the run.

    Importing ``mmdet_gan`` allow-lists what MMEngine checkpoints contain, so
    MMEngine's own loader already reads them under ``weights_only=True``.
    This hook adds clear errors: a file that needs more than the allow-list
    is refused with the explicit opt-in to name (``--unsafe-load-checkpoint``
    of this package's tools, or ``MMDET_GAN_UNSAFE_CHECKPOINT_LOAD=1``), and
    a truncated or corrupted file gets one sentence instead of a pickle
    traceback. The loader is installed in ``before_run`` (the runner loads
    or resumes right after the ``before_run`` hooks) and MMEngine's is put
    back in ``after_run``, so other runs of the process are unaffected.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._context = None

    def before_run(self, runner) -> None:
        """Install the safe loader for local paths."""
        if self._context is None:
            self._context = use_safe_local_loader()
            self._context.__enter__()

    def after_run(self, runner) -> None:
        """Put MMEngine's local loader back."""
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)
