"""Mask Scoring R-CNN as the generator of the GAN game."""
from mmdet.models.detectors import MaskScoringRCNN
from mmdet.registry import MODELS

from .gan_detector_mixin import GANDetectorMixin


@MODELS.register_module()
class GANMaskScoringRCNN(GANDetectorMixin, MaskScoringRCNN):
    """Mask Scoring R-CNN trained as the generator of the GAN game. Needs
    ``roi_head.type='AdversarialMaskScoringRoIHead'``; see
    :class:`GANDetectorMixin` for the game's arguments."""
