from .gan_cascade_rcnn import GANCascadeRCNN
from .gan_detector_mixin import GANDetectorMixin
from .gan_htc import GANHybridTaskCascade
from .gan_mask_rcnn import GANMaskRCNN
from .gan_mask_scoring_rcnn import GANMaskScoringRCNN
from .gan_point_rend import GANPointRend

__all__ = [
    'GANDetectorMixin', 'GANMaskRCNN', 'GANCascadeRCNN',
    'GANHybridTaskCascade', 'GANMaskScoringRCNN', 'GANPointRend'
]
