# What a GAN game needs to run, without any key of MMDetection's own
# configs: a GAN config that inherits a complete MMDetection config (which
# brings MMDetection's default runtime) lists this file as a second base
# (MMEngine refuses a key defined in two bases, so `default_hooks` stays in
# the config itself). configs/_base_/gan_default_runtime.py is MMDetection's
# default runtime plus this file and the atomic checkpoint writes.
custom_imports = dict(imports=['mmdet_gan'], allow_failed_imports=False)

# MMEngine's default DDP wrapper never calls the model's train_step.
model_wrapper_cfg = dict(type='GANDistributedDataParallel')

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
