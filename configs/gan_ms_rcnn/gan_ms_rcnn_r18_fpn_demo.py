# GAN Mask Scoring R-CNN on the synthetic demo data: the baseline demo config
# (configs/ms_rcnn/ms_rcnn_r18_fpn_demo.py, trained from scratch) with the
# GAN model, one optimizer per player and the GAN runtime (as in
# configs/_base_/gan_default_runtime.py).
_base_ = '../ms_rcnn/ms_rcnn_r18_fpn_demo.py'

# The adversarial branch of the GAN Mask R-CNN demo
# (configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py, where its size is
# explained): each box pooled (28x28 Precise RoI Pooling) from the one FPN
# level its scale maps to, at most 16 positives per batch for each
# discriminator, discriminators 16 channels wide. The mask discriminator
# judges the mask head's prediction; the MaskIoU head trains as in the
# baseline. The discriminators take in_channels and roi_size from their
# extractors.
model = dict(
    type='GANMaskScoringRCNN',
    roi_head=dict(
        type='AdversarialMaskScoringRoIHead',
        adv_box_roi_extractor=dict(
            type='RegistrySingleRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=28),
            out_channels=128,
            featmap_strides=[4, 8, 16, 32]),
        adv_mask_roi_extractor=dict(
            type='RegistrySingleRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=28),
            out_channels=128,
            featmap_strides=[4, 8, 16, 32]),
        num_adv_samples=16),
    discriminator=dict(
        box=dict(type='BoxDiscriminator', base_channels=16),
        mask=dict(type='MaskDiscriminator', base_channels=16)),
    # w_b = 0.025 and w_m = 0.5 (reference)
    loss_adv=dict(
        box=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.025),
        mask=dict(type='MultiScaleL1Loss', loss_weight=0.5)),
    gan_cfg=dict(
        order='generator_first',
        disc_steps=1,
        disc_start_iter=0,
        adv_start_iter=0,
        adv_warmup_iters=0,
        # as the GAN Mask R-CNN demo (see there); the 3-seed results in
        # this folder's README were measured with 'separate'
        real_fake_batch='joint',
        nonfinite_loss='skip'))

# Same optimizer as the baseline for the generator; the discriminators use
# the same kind, at 1/5 of its lr (reference ratio). `type` is the default
# wrapper of both players (MMDetection's --amp switches it).
optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    type='OptimWrapper',
    generator=dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        clip_grad=dict(max_norm=35, norm_type=2)),
    discriminator=dict(
        optimizer=dict(type='AdamW', weight_decay=1e-4),
        lr_factor=0.2,
        paramwise_cfg=dict(bias_decay_mult=0.)))

model_wrapper_cfg = dict(type='GANDistributedDataParallel')
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='GANTrainCheckHook'),
    dict(type='DatasetCheckHook'),
    dict(type='CheckpointTmpCleanupHook'),
    dict(type='SafeCheckpointLoadHook'),
]
