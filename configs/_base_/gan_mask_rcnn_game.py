# The parts of GAN Mask R-CNN that do not depend on the dataset: the
# discriminators, their inputs, losses and optimizer, and the game's
# schedule. The model configs pull them in with {{_base_.<name>}}.
# Values follow the reference implementation (DESIGN.md, section 1).

# Both discriminators judge 28x28 RoI features pooled with Precise RoI
# Pooling from the (detached) FPN levels P2-P5, fused by element-wise max
# (reference). `levels` of MultiLevelMaxRoIExtractor pools fewer levels
# (cheaper); `type='RegistrySingleRoIExtractor'` maps each box to one level by
# its scale instead (MMDetection's convention).
adv_roi_size = 28
gan_adv_roi_extractor = dict(
    type='MultiLevelMaxRoIExtractor',
    roi_layer=dict(type='PrRoIPool', output_size=adv_roi_size),
    out_channels=256,
    featmap_strides=[4, 8, 16, 32])

gan_discriminator = dict(
    box=dict(type='BoxDiscriminator', in_channels=256, roi_size=adv_roi_size),
    mask=dict(
        type='MaskDiscriminator', in_channels=256, roi_size=adv_roi_size))

# Weights w_b = 0.025 and w_m = 0.5 (the paper's 1/l).
gan_loss_adv = dict(
    box=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.025),
    mask=dict(type='MultiScaleL1Loss', loss_weight=0.5))

# Reference order: G step, then one D step on the same forward pass.
gan_schedule = dict(
    order='generator_first',
    disc_steps=1,
    disc_start_iter=0,
    adv_start_iter=0,
    adv_warmup_iters=0,
    # a NaN/Inf loss of either player: 'skip' its step (logged) or 'stop'
    nonfinite_loss='skip')

# The model part of a GAN config over an MMDetection Mask R-CNN config:
# `model = {{_base_.gan_model}}` merges it into the inherited model.
gan_model = dict(
    type='GANMaskRCNN',
    roi_head=dict(
        type='AdversarialRoIHead',
        adv_box_roi_extractor=gan_adv_roi_extractor,
        adv_mask_roi_extractor=gan_adv_roi_extractor),
    discriminator=gan_discriminator,
    loss_adv=gan_loss_adv,
    gan_cfg=gan_schedule)

# D: SGD, lr = G's lr / 5, bias lr x2 without weight decay (reference); the
# param_scheduler of the config applies to both players.
gan_discriminator_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', momentum=0.9, weight_decay=1e-4),
    lr_factor=0.2,
    paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.))

# MMEngine's default DDP wrapper never calls the model's train_step.
model_wrapper_cfg = dict(type='GANDistributedDataParallel')

# Reliability (mmdet_gan/engine/hooks): checkpoints keep the random
# generators and --resume restores them (RNGStateHook); a single-optimizer
# optim_wrapper or the default DDP wrapper fails before the first iteration
# (GANTrainCheckHook); annotations that would fail mid-epoch or shift labels
# stop the run first (DatasetCheckHook). A config that sets its own
# Exact resume (RNG states in checkpoints) and checks before the first
# iteration. The GAN configs set `custom_hooks = {{_base_.gan_custom_hooks}}`
# (a plain `custom_hooks` here would clash with a base config's own list);
# a config that replaces custom_hooks should keep these three in it.
gan_custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='GANTrainCheckHook'),
    dict(type='DatasetCheckHook')
]
