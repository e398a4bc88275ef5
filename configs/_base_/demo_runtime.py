# MMDetection's default runtime for the demo baselines: mmdet_gan imported
# (for its hooks and the atomic checkpoint backend), a fixed seed, the best
# segm AP kept. The GAN demo configs add the GAN parts (DDP wrapper,
# GANTrainCheckHook) as configs/_base_/gan_default_runtime.py does.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmdet_gan'], allow_failed_imports=False)
default_scope = 'mmdet'

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

# mmdet_gan hooks: exact resume (RNG states saved in checkpoints), a dataset
# check before the first iteration, and the clean-up and clear errors of the
# atomic checkpoints (see configs/_base_/gan_default_runtime.py).
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='DatasetCheckHook'),
    dict(type='CheckpointTmpCleanupHook'),
    dict(type='SafeCheckpointLoadHook'),
]
