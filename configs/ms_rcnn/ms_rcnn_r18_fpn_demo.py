# Stock MMDetection Mask Scoring R-CNN, ResNet-18 + FPN, on the synthetic
# demo data (tools/dataset_converters/create_demo_dataset.py -> data/demo/).
# This is the baseline that the GAN Mask Scoring R-CNN demo config is
# compared against.
#
# The Mask R-CNN demo baseline with the changes MMDetection's
# ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py makes to its
# mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py (the MaskIoU head, scoring each
# mask by its predicted IoU), the head at the demo's width (128 channels,
# fc 512, as the box head) and 4 classes. (MMDetection has no model-only
# base of Mask Scoring R-CNN, and MMEngine refuses a key defined in two
# bases, so it cannot be combined with the demo's dataset and schedule
# bases the way configs/cascade_rcnn/cascade_mask_rcnn_r18_fpn_demo.py
# combines its Cascade Mask R-CNN model base.)
_base_ = '../mask_rcnn/mask_rcnn_r18_fpn_demo.py'

model = dict(
    type='MaskScoringRCNN',
    roi_head=dict(
        type='MaskScoringRoIHead',
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=128,
            conv_out_channels=128,
            fc_out_channels=512,
            num_classes=4)),
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
