"""PointRend as the generator of the GAN game."""
from mmdet.models.detectors import PointRend
from mmdet.registry import MODELS

from .gan_detector_mixin import GANDetectorMixin


@MODELS.register_module()
class GANPointRend(GANDetectorMixin, PointRend):
    """PointRend trained as the generator of the GAN game. Needs
    ``roi_head.type='AdversarialPointRendRoIHead'`` (the mask discriminator
    judges the coarse mask, see that head); see :class:`GANDetectorMixin`
    for the game's arguments."""
