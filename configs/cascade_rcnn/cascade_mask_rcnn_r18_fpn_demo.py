# Stock MMDetection Cascade Mask R-CNN, ResNet-18 + FPN, on the synthetic
# demo data (tools/dataset_converters/create_demo_dataset.py -> data/demo/).
# This is the baseline that the GAN Cascade Mask R-CNN demo config is
# compared against.
#
# MMDetection's cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py (its
# model, dataset, schedule and runtime bases) with the demo's dataset,
# schedule and runtime bases, as configs/mask_rcnn/mask_rcnn_r18_fpn_demo.py,
# and the model changed exactly as that config changes Mask R-CNN's (see the
# reasons there): R-18 from scratch, 128-channel FPN and RoI heads with BN in
# FPN and the mask head, small anchors, fewer proposals and RoIs, 4 classes.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    '../_base_/datasets/demo_instance.py',
    '../_base_/schedules/demo_schedule_16e.py', '../_base_/demo_runtime.py'
]

# The three stages' box heads and sampler settings are lists, which a child
# config replaces instead of merging: each element below is the stock
# stage's (`_base_` here is the merged base config, as in MMDetection's
# qdtrack configs) with the demo's values, so nothing else is copied.
model = dict(
    backbone=dict(
        depth=18,
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    neck=dict(
        in_channels=[64, 128, 256, 512],
        out_channels=128,
        norm_cfg=dict(type='BN', requires_grad=True)),
    rpn_head=dict(
        in_channels=128, feat_channels=128, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=128),
        bbox_head=[
            dict(head, in_channels=128, fc_out_channels=512, num_classes=4)
            for head in _base_.model.roi_head.bbox_head
        ],
        mask_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=128),
        mask_head=dict(
            in_channels=128,
            conv_out_channels=128,
            norm_cfg=dict(type='BN', requires_grad=True),
            num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=[
            dict(stage, sampler=dict(stage.sampler, num=64))
            for stage in _base_.model.train_cfg.rcnn
        ]),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=500)))
