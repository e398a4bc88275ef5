from .adversarial_losses import (GANLoss, MultiScaleL1Loss,
                                 discriminator_scores, zero_loss)

__all__ = ['GANLoss', 'MultiScaleL1Loss', 'discriminator_scores', 'zero_loss']
