"""Convert GAN Mask R-CNN checkpoints to stock MMDetection ones."""
from collections import OrderedDict
from typing import Tuple

DISCRIMINATOR_PREFIX = 'discriminator.'


def strip_discriminators(checkpoint: dict) -> Tuple[dict, int]:
    """Return a stock ``MaskRCNN`` checkpoint made from a ``GANMaskRCNN`` one.

    Keeps the generator's weights and ``meta``; drops the discriminators'
    weights and the optimizer/scheduler states (a deployment checkpoint).

    Args:
        checkpoint (dict): a checkpoint with a ``state_dict``, or a bare
            state dict.

    Returns:
        tuple[dict, int]: the converted checkpoint and the number of
        discriminator entries removed.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict):
        raise TypeError('the checkpoint holds no state dict: expected a dict '
                        'with a "state_dict" entry or a bare state dict')
    kept = OrderedDict((k, v) for k, v in state_dict.items()
                       if not k.startswith(DISCRIMINATOR_PREFIX))
    converted = dict(state_dict=kept)
    if isinstance(checkpoint.get('meta'), dict):
        converted['meta'] = dict(checkpoint['meta'])
    return converted, len(state_dict) - len(kept)
