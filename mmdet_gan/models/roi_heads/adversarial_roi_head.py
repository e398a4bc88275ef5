"""RoI heads of the GAN detectors: MMDetection's own, with the adversarial
samples of :mod:`.adversarial_roi_head_mixin` added."""
from mmdet.models.roi_heads import (CascadeRoIHead, HybridTaskCascadeRoIHead,
                                    MaskScoringRoIHead, PointRendRoIHead,
                                    StandardRoIHead)
from mmdet.registry import MODELS

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
    """


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
