# The synthetic demo data (tools/dataset_converters/create_demo_dataset.py
# -> data/demo/): 192x192 images of four shape classes
# (mmdet_gan.datasets.DEMO_CLASSES), instance boxes and masks in COCO format.
# MMDetection's COCO instance dataset settings pointed at it.
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

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
