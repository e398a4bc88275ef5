from .gan_mask_rcnn import GANMaskRCNN

__all__ = ['GANMaskRCNN']
