# MMDetection's default runtime plus what a GAN game needs to run
# (./gan_runtime_hooks.py: custom_imports, the GAN DDP wrapper, the hooks).
_base_ = ['mmdet::_base_/default_runtime.py', './gan_runtime_hooks.py']

# Checkpoints are written atomically (temporary file + fsync + rename), so a
# kill while saving never leaves a truncated checkpoint under its final name.
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')))
