from .base_discriminator import ConvDiscriminator
from .box_discriminator import BoxDiscriminator
from .mask_discriminator import MaskDiscriminator

__all__ = ['ConvDiscriminator', 'BoxDiscriminator', 'MaskDiscriminator']
