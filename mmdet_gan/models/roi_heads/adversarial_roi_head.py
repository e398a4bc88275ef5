"""RoI heads of the GAN detectors: MMDetection's own, with the adversarial
samples of :mod:`.adversarial_roi_head_mixin` added."""
from typing import List, Tuple

from mmdet.models.roi_heads import (CascadeRoIHead, HybridTaskCascadeRoIHead,
                                    MaskScoringRoIHead, PointRendRoIHead,
                                    StandardRoIHead)
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.utils import InstanceList
from torch import Tensor

from .adversarial_roi_head_mixin import (AdversarialCascadeRoIHeadMixin,
                                         AdversarialRoIHeadMixin)


@MODELS.register_module()
class AdversarialRoIHead(AdversarialRoIHeadMixin, StandardRoIHead):
    """``StandardRoIHead`` (Mask R-CNN) that also gives the samples of the
    box and mask discriminators; see :class:`AdversarialHeadMixin` for the
    arguments."""


@MODELS.register_module()
class AdversarialMaskScoringRoIHead(AdversarialRoIHeadMixin,
                                    MaskScoringRoIHead):
    """``MaskScoringRoIHead`` (Mask Scoring R-CNN) with the adversarial
    samples. The mask discriminator judges the mask head's prediction; the
    MaskIoU head, which scores that mask, is trained as in the stock head:
    the adversarial losses do not pass through it."""


@MODELS.register_module()
class AdversarialPointRendRoIHead(AdversarialRoIHeadMixin, PointRendRoIHead):
    """``PointRendRoIHead`` with the adversarial samples.

    The mask discriminator judges the **coarse** mask (the ``mask_head``'s
    dense prediction at ``train_cfg.rcnn.mask_size``, 7x7, resized
    bilinearly, as its target is, to the extractor's size). In training
    the point head predicts only at sampled points (random and
    uncertainty-chosen, a non-differentiable choice), so there is no dense
    refined mask to judge; rendering one at 28x28 would take the
    inference-time subdivision steps (top-k selection, repeated point-head
    passes) at every iteration, and the selection would cut the gradient
    anyway. The point head keeps its own point loss, and the refined
    masks at inference start from the coarse mask the game trains. The
    adversarial gradient reaches the coarse mask head (and through its
    input the FPN), not the point head.

    A batch without positives (no GT in any image) gives a zero point loss
    attached to the point head and the coarse masks; MMDetection's own
    ``PointRendRoIHead`` stops on such a batch (``RoI is a empty tensor``),
    which a data set with empty images meets sooner or later.
    """

    def _mask_point_loss(self, x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         mask_preds: Tensor,
                         batch_gt_instances: InstanceList) -> dict:
        """The stock point loss; ``dict(loss_point=0)`` (a zero gradient
        for the point head) when the batch has no positives."""
        if mask_preds.size(0) == 0:
            zero = mask_preds.sum() * 0.
            for param in self.point_head.parameters():
                zero = zero + param.sum() * 0.
            return dict(loss_point=zero)
        return super()._mask_point_loss(x, sampling_results, mask_preds,
                                        batch_gt_instances)


@MODELS.register_module()
class AdversarialCascadeRoIHead(AdversarialCascadeRoIHeadMixin,
                                CascadeRoIHead):
    """``CascadeRoIHead`` (Cascade Mask R-CNN) with the adversarial samples
    of the stages in ``adv_stages`` (see
    :class:`AdversarialCascadeRoIHeadMixin`)."""


@MODELS.register_module()
class AdversarialHybridTaskCascadeRoIHead(AdversarialCascadeRoIHeadMixin,
                                          HybridTaskCascadeRoIHead):
    """``HybridTaskCascadeRoIHead`` (HTC) with the adversarial samples of
    the stages in ``adv_stages``. With the mask information flow, a stage's
    judged mask is the one its head predicts from the earlier stages'
    features, so the adversarial gradient of the last stage also reaches
    the earlier mask heads."""
