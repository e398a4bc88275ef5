"""Hybrid Task Cascade as the generator of the GAN game."""
from mmdet.models.detectors import HybridTaskCascade
from mmdet.registry import MODELS

from .gan_detector_mixin import GANDetectorMixin


@MODELS.register_module()
class GANHybridTaskCascade(GANDetectorMixin, HybridTaskCascade):
    """HTC trained as the generator of the GAN game. Needs
    ``roi_head.type='AdversarialHybridTaskCascadeRoIHead'``; see
    :class:`GANDetectorMixin` for the game's arguments."""
