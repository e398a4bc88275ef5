# GAN Mask R-CNN, ResNet-50 + FPN, 1x schedule, COCO: MMDetection's
# mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py with the GAN model, one optimizer
# per player and the GAN runtime.
_base_ = [
    '../_base_/models/gan_mask_rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../_base_/schedules/gan_schedule_1x.py',
    '../_base_/gan_default_runtime.py'
]
