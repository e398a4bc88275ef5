from .adversarial_roi_head import ADV_INPUTS_PREFIX, AdversarialRoIHead

__all__ = ['ADV_INPUTS_PREFIX', 'AdversarialRoIHead']
