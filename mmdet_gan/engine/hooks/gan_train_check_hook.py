"""Fail before the first iteration when the runner's pieces do not fit a
GAN model."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from mmengine.optim import OptimWrapper

from mmdet_gan.models.detectors import GANDetectorMixin


@HOOKS.register_module()
class GANTrainCheckHook(Hook):
    """Check, as soon as the runner has built them, that the optim wrapper
    and the model wrapper are the ones :class:`GANMaskRCNN` needs.

    Without it a GAN config that kept a single-optimizer ``optim_wrapper``
    (e.g. an override without ``constructor='GANOptimWrapperConstructor'``)
    or MMEngine's default DDP wrapper builds fine and fails only inside the
    first ``train_step``, after the data set, the weights and any checkpoint
    have been loaded. The checks run in ``before_run``, right after
    ``Runner.train`` builds the optim wrapper. Models other than
    :class:`GANMaskRCNN`, and runs that do not train (``runner.val()``,
    ``runner.test()``), are not checked.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Raise ``ValueError`` with what to set if a piece does not fit.

        Raises:
            ValueError: the optim wrapper is not an ``OptimWrapperDict`` with
                ``generator`` and ``discriminator`` wrappers, or the model
                is wrapped by ``MMDistributedDataParallel`` itself (which
                never calls the model's ``train_step``).
        """
        optim_wrapper = getattr(runner, 'optim_wrapper', None)
        if not isinstance(optim_wrapper, OptimWrapper):
            return  # not built: the runner does not train
        model = runner.model
        wrapper = None
        if is_model_wrapper(model):
            wrapper, model = model, model.module
        if not isinstance(model, GANDetectorMixin):
            return
        try:
            # the check (and the message) train_step itself applies
            model.check_optim_wrapper(optim_wrapper)
        except TypeError as err:
            # a ValueError, like the optim wrapper constructor's errors
            # (Runner.call_hook re-raises TypeErrors with the hook's repr
            # appended and the traceback dropped)
            raise ValueError(str(err)) from err
        if type(wrapper) is MMDistributedDataParallel:
            raise ValueError(
                'MMDistributedDataParallel never calls '
                'GANMaskRCNN.train_step: set model_wrapper_cfg=dict('
                "type='GANDistributedDataParallel') in the config (it comes "
                'with configs/_base_/gan_default_runtime.py)')
