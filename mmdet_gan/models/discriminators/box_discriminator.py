"""DCGAN-style discriminator over RoI features (box branch of GAN Mask
R-CNN)."""
from typing import Tuple

from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from torch import Tensor

from .base_discriminator import DCGAN_INIT_CFG, ConvDiscriminator


@MODELS.register_module()
class BoxDiscriminator(ConvDiscriminator):
    """Box discriminator of GAN Mask R-CNN.

    A :class:`ConvDiscriminator` that scores RoI features pooled from a
    box: real samples are pooled at the ground-truth boxes, fake ones at the
    box head's predictions. Its last layer is a plain conv with one output
    channel, one raw logit per box. For the defaults (``roi_size=28``,
    ``num_convs=5``) the maps are 28 -> 14 -> 7 -> 3 -> 1 and the last
    kernel is 1x1; ``roi_size=56`` gives a 3x3 last kernel; sizes below
    ``2**(num_convs - 1)`` start with 3x3 stride-1 convs.

    Args:
        in_channels (int): Channels of the input RoI features.
            Defaults to 256.
        roi_size (int): Spatial size ``S`` of the square input.
            Defaults to 28.
        base_channels (int): Output channels of the first conv; each later
            conv doubles them. Defaults to 64.
        num_convs (int): Number of conv layers. Defaults to 5.
        norm_cfg (dict, optional): Norm layer of layers ``2 .. num_convs -
            1`` (1-based). Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after every layer but the
            last. Defaults to ``dict(type='LeakyReLU', negative_slope=0.2)``.
        with_spectral_norm (bool): Spectral normalisation of every conv's
            weight (see :class:`ConvDiscriminator`). Defaults to False
            (reference).
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to the reference implementation's: convs
            ``N(0, 2 / (k * k * out_channels))`` (Kaiming, fan-out), norm
            weights ``N(1, 0.02)``, biases 0.
    """

    def __init__(self,
                 in_channels: int = 256,
                 roi_size: int = 28,
                 base_channels: int = 64,
                 num_convs: int = 5,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(
                     type='LeakyReLU', negative_slope=0.2),
                 with_spectral_norm: bool = False,
                 init_cfg: OptMultiConfig = DCGAN_INIT_CFG) -> None:
        super().__init__(
            in_channels=in_channels,
            roi_size=roi_size,
            base_channels=base_channels,
            num_convs=num_convs,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            with_spectral_norm=with_spectral_norm,
            init_cfg=init_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Score RoI features.

        Args:
            x (Tensor): (N, in_channels, roi_size, roi_size) RoI features;
                N may be 0.

        Returns:
            Tensor: (N, 1) raw logits (no sigmoid).
        """
        return self.forward_layers(x)[-1].flatten(1)

    def forward_joint(self, real: Tensor,
                      fake: Tensor) -> Tuple[Tensor, Tensor]:
        """Score real and fake RoI features normalised as one batch
        (``gan_cfg.real_fake_batch='joint'``): :meth:`forward` of their
        concatenation, split (see :meth:`forward_layers_joint`).

        Returns:
            tuple[Tensor, Tensor]: (N_r, 1) and (N_f, 1) raw logits.
        """
        real_outs, fake_outs = self.forward_layers_joint(real, fake)
        return real_outs[-1].flatten(1), fake_outs[-1].flatten(1)
