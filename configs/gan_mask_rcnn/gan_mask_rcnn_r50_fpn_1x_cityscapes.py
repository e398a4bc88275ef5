# GAN Mask R-CNN, ResNet-50 + FPN, Cityscapes: MMDetection's
# cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py (the same changes to the same
# bases) with the GAN model, one optimizer per player and the GAN runtime.
_base_ = [
    '../_base_/models/gan_mask_rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/cityscapes_instance.py',
    '../_base_/gan_default_runtime.py',
    '../_base_/schedules/gan_schedule_1x.py'
]
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            num_classes=8,
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        mask_head=dict(num_classes=8)))

# lr is set for a batch size of 8; the discriminator follows (lr_factor)
optim_wrapper = dict(generator=dict(optimizer=dict(lr=0.01)))

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=8,
        by_epoch=True,
        milestones=[7],
        gamma=0.1)
]

# actual epoch = 8 * 8 = 64
train_cfg = dict(max_epochs=8)

# Initialised from MMDetection's COCO Mask R-CNN, as its Cityscapes config
# (the discriminators start from scratch).
load_from = 'https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_1x_coco/mask_rcnn_r50_fpn_1x_coco_20200205-d4b0c5d6.pth'  # noqa
