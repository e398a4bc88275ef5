# GAN Mask R-CNN on the synthetic demo data: the baseline demo config
# (configs/mask_rcnn_r18_fpn_demo.py, trained from scratch: no pretrained
# weights are reachable here) with only the model and the optim wrapper
# changed.
_base_ = ['./mask_rcnn_r18_fpn_demo.py', './_base_/gan_mask_rcnn_game.py']

model = dict(
    type='GANMaskRCNN',
    roi_head=dict(
        type='AdversarialRoIHead',
        adv_box_roi_extractor={{_base_.gan_adv_roi_extractor}},
        adv_mask_roi_extractor={{_base_.gan_adv_roi_extractor}},
        # Bounds the adversarial branch's cost on CPU.
        num_adv_samples=64),
    discriminator={{_base_.gan_discriminator}},
    loss_adv={{_base_.gan_loss_adv}},
    gan_cfg={{_base_.gan_schedule}})
custom_hooks = {{_base_.gan_custom_hooks}}

optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
        clip_grad=dict(max_norm=35, norm_type=2)),
    discriminator={{_base_.gan_discriminator_optim_wrapper}})
