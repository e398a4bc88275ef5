# Stock MMDetection Mask R-CNN, ResNet-18 + FPN, on the synthetic demo data
# (tools/dataset_converters/create_demo_dataset.py -> data/demo/). This is
# the baseline that the GAN Mask R-CNN demo config is compared against.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmdet_gan'], allow_failed_imports=False)
default_scope = 'mmdet'

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

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        data_root='data/demo/',
        metainfo=dict(
            classes=('ellipse', 'ring', 'star', 'crescent'),
            palette=[(220, 20, 60), (0, 130, 230), (250, 170, 30),
                     (60, 180, 75)]),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            # Identity on 192x192 images; sets the scale_factor the heads
            # need.
            dict(type='Resize', scale=(192, 192), keep_ratio=True),
            # The shapes have no orientation: flip both ways.
            dict(
                type='RandomFlip',
                prob=[0.25, 0.25],
                direction=['horizontal', 'vertical']),
            dict(type='PackDetInputs')
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        data_root='data/demo/',
        metainfo=dict(
            classes=('ellipse', 'ring', 'star', 'crescent'),
            palette=[(220, 20, 60), (0, 130, 230), (250, 170, 30),
                     (60, 180, 75)]),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(192, 192), keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(
                type='PackDetInputs',
                meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                           'scale_factor'))
        ]))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file='data/demo/annotations/instances_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator

# Schedule: 16 epochs x 60 iterations (batch 4). Measured with this config
# on 2 CPU cores of a shared machine (little other load), torch 2.13 CPU:
# 0.56-0.63 s/iter, 10 min 42 s for the whole run (start-up and 4
# evaluations included); bbox AP 0.373, segm AP 0.310 at epoch 16. Half the
# schedule (max_epochs=8, milestones [6, 7]): 5 min 37 s, bbox AP 0.198,
# segm AP 0.138.
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

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        interval=4,
        max_keep_ckpts=2,
        save_best='coco/segm_mAP',
        rule='greater',
        # atomic writes (mmdet_gan.utils.atomic_io)
        backend_args=dict(backend='atomic_local')))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)

# mmdet_gan hooks: exact resume (RNG states saved in checkpoints), a dataset
# check before the first iteration, and the clean-up and clear errors of the
# atomic checkpoints (see configs/_base_/gan_default_runtime.py).
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='DatasetCheckHook'),
    dict(type='CheckpointTmpCleanupHook'),
    dict(type='SafeCheckpointLoadHook'),
]
