from .adversarial_roi_head import (AdversarialCascadeRoIHead,
                                   AdversarialHybridTaskCascadeRoIHead,
                                   AdversarialMaskScoringRoIHead,
                                   AdversarialPointRendRoIHead,
                                   AdversarialRoIHead)
from .adversarial_roi_head_mixin import (AdversarialCascadeRoIHeadMixin,
                                         AdversarialHeadMixin,
                                         AdversarialRoIHeadMixin)
from .adversarial_samples import (AdversarialPair, AdversarialSamples,
                                  MaskedFeaturesPair, resize_masks)

__all__ = [
    'AdversarialRoIHead', 'AdversarialMaskScoringRoIHead',
    'AdversarialPointRendRoIHead', 'AdversarialCascadeRoIHead',
    'AdversarialHybridTaskCascadeRoIHead', 'AdversarialHeadMixin',
    'AdversarialRoIHeadMixin', 'AdversarialCascadeRoIHeadMixin',
    'AdversarialPair', 'AdversarialSamples', 'MaskedFeaturesPair',
    'resize_masks'
]
