# GAN Mask R-CNN, ResNet-50 + FPN: MMDetection's Mask R-CNN as the generator
# and two discriminators (DESIGN.md sections 1-3), with the reference
# implementation's values. Every knob is a key of `model`, so a config that
# inherits this one overrides it by merging, e.g.
#   model = dict(loss_adv=dict(mask=dict(loss_weight=0.25)))
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

model = dict(
    type='GANMaskRCNN',
    roi_head=dict(
        type='AdversarialRoIHead',
        # What each discriminator judges: 28x28 RoI features pooled with
        # Precise RoI Pooling from the (detached) FPN levels P2-P5, fused by
        # element-wise max (reference). `levels=[...]` pools fewer levels;
        # type='RegistrySingleRoIExtractor' pools each box from the one level
        # its scale maps to (MMDetection's convention, cheaper). The
        # discriminators take their in_channels and roi_size from these
        # extractors, so `roi_layer.output_size` is the one RoI-size knob per
        # branch (a mask branch size other than the mask head's 28 resizes
        # the masks to it).
        adv_box_roi_extractor=dict(
            type='MultiLevelMaxRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=28),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        adv_mask_roi_extractor=dict(
            type='MultiLevelMaxRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=28),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        # at most this many positives per batch feed each discriminator
        # (None: all of them, as the reference)
        num_adv_samples=None),
    # DCGAN-style discriminators (4x4 stride-2 convs), 64 base channels.
    # Leave out `box` or `mask` (and its extractor) to play one branch only.
    discriminator=dict(
        box=dict(type='BoxDiscriminator', base_channels=64),
        mask=dict(type='MaskDiscriminator', base_channels=64)),
    # w_b = 0.025 and w_m = 0.5 (the paper's 1/l).
    loss_adv=dict(
        box=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.025),
        mask=dict(type='MultiScaleL1Loss', loss_weight=0.5)),
    # Reference order: a G step, then one D step on the same forward pass.
    gan_cfg=dict(
        order='generator_first',
        disc_steps=1,
        disc_start_iter=0,
        adv_start_iter=0,
        adv_warmup_iters=0,
        # a NaN/Inf loss of either player: 'skip' its step (logged) or 'stop'
        nonfinite_loss='skip'))
