# GAN Mask R-CNN, ResNet-50 + FPN, Cityscapes (MMDetection's schedule).
# Only the model and the optim wrapper differ from MMDetection's Mask R-CNN.
_base_ = [
    'mmdet::cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py',
    './_base_/gan_mask_rcnn_game.py'
]
custom_imports = dict(imports=['mmdet_gan'], allow_failed_imports=False)

model = {{_base_.gan_model}}
custom_hooks = {{_base_.gan_custom_hooks}}

# Same optimizer as the base config (SGD, lr 0.01), split into two players.
optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                       weight_decay=0.0001)),
    discriminator={{_base_.gan_discriminator_optim_wrapper}})
