"""GAN Mask R-CNN (Le et al., arXiv 2010.13757)."""
from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS

from .gan_detector_mixin import GANDetectorMixin


@MODELS.register_module()
class GANMaskRCNN(GANDetectorMixin, MaskRCNN):
    """Mask R-CNN trained as the generator of the GAN game against a box and
    a mask discriminator (the paper's model). Needs
    ``roi_head.type='AdversarialRoIHead'``; see :class:`GANDetectorMixin`
    for the game's arguments and :class:`~mmdet.models.MaskRCNN` for the
    others."""
