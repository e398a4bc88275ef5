# GAN Mask R-CNN, ResNet-50 + FPN, 1x schedule, COCO.
# Only the model and the optim wrapper differ from MMDetection's Mask R-CNN.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    './_base_/gan_mask_rcnn_game.py'
]
custom_imports = dict(imports=['mmdet_gan'], allow_failed_imports=False)

model = {{_base_.gan_model}}
custom_hooks = {{_base_.gan_custom_hooks}}

optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.02, momentum=0.9,
                       weight_decay=0.0001)),
    discriminator={{_base_.gan_discriminator_optim_wrapper}})
