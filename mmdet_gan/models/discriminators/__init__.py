from .box_discriminator import BoxDiscriminator
from .mask_discriminator import MaskDiscriminator

__all__ = ['BoxDiscriminator', 'MaskDiscriminator']
