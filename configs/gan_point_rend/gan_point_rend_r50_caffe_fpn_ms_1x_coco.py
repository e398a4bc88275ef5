# GAN PointRend, ResNet-50 (caffe) + FPN, multi-scale 1x schedule, COCO:
# MMDetection's point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py as the
# generator of the GAN game, with the reference adversarial branch. Only the
# model and the optim wrapper change (and the GAN runtime hooks). The mask
# discriminator judges the coarse mask (7x7, resized to 28x28 with its
# target); the point head keeps its point loss (see
# AdversarialPointRendRoIHead for why).
_base_ = [
    'mmdet::point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py',
    '../_base_/gan_runtime_hooks.py'
]

model = dict(
    type='GANPointRend',
    # What each discriminator judges (as configs/_base_/models/
    # gan_mask_rcnn_r50_fpn.py, the reference branch): 28x28 RoI features
    # pooled with Precise RoI Pooling from the detached FPN levels P2-P5,
    # fused by max; the discriminators take in_channels and roi_size from
    # these extractors.
    roi_head=dict(
        type='AdversarialPointRendRoIHead',
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
        num_adv_samples=None),
    discriminator=dict(
        box=dict(type='BoxDiscriminator', base_channels=64),
        mask=dict(type='MaskDiscriminator', base_channels=64)),
    # w_b = 0.025 and w_m = 0.5 (the paper's 1/l)
    loss_adv=dict(
        box=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.025),
        mask=dict(type='MultiScaleL1Loss', loss_weight=0.5)),
    gan_cfg=dict(
        order='generator_first',
        disc_steps=1,
        disc_start_iter=0,
        adv_start_iter=0,
        adv_warmup_iters=0,
        nonfinite_loss='skip'))

# One optimizer per player: G keeps the stock SGD (lr 0.02); D uses SGD
# at G's lr / 5, bias lr x2 without weight decay (reference). `type` is
# both players' default wrapper (MMDetection's --amp switches it).
optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    type='OptimWrapper',
    generator=dict(
        optimizer=dict(type='SGD', lr=0.02, momentum=0.9,
                       weight_decay=0.0001)),
    discriminator=dict(
        optimizer=dict(type='SGD', momentum=0.9, weight_decay=0.0001),
        lr_factor=0.2,
        paramwise_cfg=dict(
            bias_lr_mult=2.,
            bias_decay_mult=0.,
            # bias_lr_mult skips norm layers: their biases get it here
            custom_keys={'bn.bias': dict(lr_mult=2., decay_mult=0.)})))

# The GAN runtime keys come from ../_base_/gan_runtime_hooks.py; the
# atomic checkpoint writes are set here (MMDetection's config above brings
# its default_hooks, and MMEngine refuses a key defined in two bases).
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
