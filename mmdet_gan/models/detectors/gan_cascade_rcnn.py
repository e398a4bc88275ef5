"""Cascade Mask R-CNN as the generator of the GAN game."""
from mmdet.models.detectors import CascadeRCNN
from mmdet.registry import MODELS

from .gan_detector_mixin import GANDetectorMixin


@MODELS.register_module()
class GANCascadeRCNN(GANDetectorMixin, CascadeRCNN):
    """Cascade (Mask) R-CNN trained as the generator of the GAN game. Needs
    ``roi_head.type='AdversarialCascadeRoIHead'``, whose ``adv_stages``
    choose the stages the discriminators judge (default: the last); see
    :class:`GANDetectorMixin` for the game's arguments."""
