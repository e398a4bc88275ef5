from .adversarial_losses import (GANLoss, MultiScaleL1Loss,
                                 discriminator_scores, mean_abs_diff,
                                 zero_loss)

__all__ = [
    'GANLoss', 'MultiScaleL1Loss', 'discriminator_scores', 'mean_abs_diff',
    'zero_loss'
]
