# MMDetection's default runtime plus what a GAN game needs to run.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmdet_gan'], allow_failed_imports=False)

# MMEngine's default DDP wrapper never calls the model's train_step.
model_wrapper_cfg = dict(type='GANDistributedDataParallel')

# Checkpoints are written atomically (temporary file + fsync + rename), so a
# kill while saving never leaves a truncated checkpoint under its final name.
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))

# - RNGStateHook: checkpoints keep the random generators' states, --resume
#   restores them (exact resume);
# - GANTrainCheckHook: a single-optimizer optim_wrapper or MMEngine's own DDP
#   wrapper fails before the first iteration, saying what to set;
# - DatasetCheckHook: annotations that would fail mid-epoch or shift labels
#   stop the run before it starts;
# - CheckpointTmpCleanupHook: removes the temporary file a killed save left;
# - SafeCheckpointLoadHook: load_from / --resume errors that say what to do.
# A config that replaces custom_hooks should keep these in its list.
custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='GANTrainCheckHook'),
    dict(type='DatasetCheckHook'),
    dict(type='CheckpointTmpCleanupHook'),
    dict(type='SafeCheckpointLoadHook'),
]
