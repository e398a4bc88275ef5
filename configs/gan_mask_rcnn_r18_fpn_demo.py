# GAN Mask R-CNN on the synthetic demo data: the baseline demo config
# (configs/mask_rcnn_r18_fpn_demo.py, trained from scratch: no pretrained
# weights are reachable here) with only the model and the optim wrapper
# changed.
_base_ = ['./mask_rcnn_r18_fpn_demo.py', './_base_/gan_mask_rcnn_game.py']

# The demo's FPN is 128 channels wide (see the baseline config). To keep
# the adversarial branch within 1.10x of the baseline's CPU time and memory
# (the target of tools/analysis_tools/benchmark_train.py), it is smaller
# than the reference's:
# - each box is pooled (28x28 Precise RoI Pooling) from the one FPN level
#   its scale maps to (MMDetection's convention) instead of from every
#   level fused by max; MultiLevelMaxRoIExtractor is the reference pooler;
# - at most 16 positives per batch feed each discriminator;
# - the discriminators are a quarter as wide as the reference's
#   (base_channels 16: 16-32-64-128 channels).
# Measured (docs/benchmarks.md): 1.07x the baseline's CPU time per
# iteration and 1.08x its memory; the previous demo setting (P3-P5 fused by
# max, base_channels 32) costs 1.19x / 1.13x.
adv_roi_extractor = dict(
    type='RegistrySingleRoIExtractor',
    roi_layer=dict(type='PrRoIPool', output_size=28),
    out_channels={{_base_.fpn_channels}},
    featmap_strides=[4, 8, 16, 32])
model = dict(
    type='GANMaskRCNN',
    roi_head=dict(
        type='AdversarialRoIHead',
        adv_box_roi_extractor=adv_roi_extractor,
        adv_mask_roi_extractor=adv_roi_extractor,
        num_adv_samples=16),
    discriminator=dict(
        box=dict(
            type='BoxDiscriminator',
            in_channels={{_base_.fpn_channels}},
            base_channels=16,
            roi_size=28),
        mask=dict(
            type='MaskDiscriminator',
            in_channels={{_base_.fpn_channels}},
            base_channels=16,
            roi_size=28)),
    loss_adv={{_base_.gan_loss_adv}},
    gan_cfg={{_base_.gan_schedule}})
custom_hooks = {{_base_.gan_custom_hooks}}

# Same optimizer as the baseline for the generator; the discriminators use
# the same kind, at 1/5 of its lr (reference ratio).
optim_wrapper = dict(
    _delete_=True,
    constructor='GANOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        clip_grad=dict(max_norm=35, norm_type=2)),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', weight_decay=1e-4),
        lr_factor=0.2,
        paramwise_cfg=dict(bias_decay_mult=0.)))
