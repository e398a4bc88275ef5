"""Check the training data set before the first iteration."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmdet_gan.utils.dataset_check import check_detection_dataset


@HOOKS.register_module()
class DatasetCheckHook(Hook):
    """Run :func:`mmdet_gan.utils.dataset_check.check_detection_dataset` on
    the training data set in ``before_train``, so that an annotation that
    would fail in a data loader worker in the middle of an epoch
    (``KeyError: 'mask'``), or class names that would shift the labels
    silently, stop the run first with the field and the fix.

    Costs one pass over the parsed annotations when the pipeline loads
    masks (no image is read).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Raise ``DatasetCheckError`` on the first problem found."""
        check_detection_dataset(runner.train_dataloader.dataset)
