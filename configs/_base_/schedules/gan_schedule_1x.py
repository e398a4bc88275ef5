# MMDetection's 1x schedule with one optimizer per player. The
# param_scheduler applies to both players.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

optim_wrapper = dict(
    _delete_=True,  # the inherited single optimizer
    constructor='GANOptimWrapperConstructor',
    # The default wrapper type of both players; MMDetection's `--amp` sets
    # type='AmpOptimWrapper' and loss_scale='dynamic' here, which then holds
    # for both (a `type` inside a player would win, and keep it from AMP).
    type='OptimWrapper',
    generator=dict(
        optimizer=dict(type='SGD', lr=0.02, momentum=0.9,
                       weight_decay=0.0001)),
    # D: SGD at G's lr / 5, bias lr x2 without weight decay (reference).
    discriminator=dict(
        optimizer=dict(type='SGD', momentum=0.9, weight_decay=0.0001),
        lr_factor=0.2,
        paramwise_cfg=dict(
            bias_lr_mult=2.,
            bias_decay_mult=0.,
            # bias_lr_mult skips norm layers: their biases get it here
            custom_keys={'bn.bias': dict(lr_mult=2., decay_mult=0.)})))
