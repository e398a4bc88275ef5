"""SegAN-style multi-scale discriminator for the mask branch of GAN Mask
R-CNN."""
import functools
from typing import List, Sequence, Tuple, Union

import torch
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from torch import Tensor

from .base_discriminator import DCGAN_INIT_CFG, ConvDiscriminator

# the multi-scale features per layer, or the logits
MaskDiscOutput = Union[Tensor, Tuple[Tensor, ...]]


@MODELS.register_module()
class MaskDiscriminator(ConvDiscriminator):
    """Mask discriminator of GAN Mask R-CNN.

    Its input is a mask (ground truth for real samples, the mask head's
    sigmoid output for fake ones) multiplied element-wise with the RoI
    features of the same box. The conv stack is a
    :class:`ConvDiscriminator`, as the box discriminator's: ``num_convs -
    1`` 4x4 stride-2 convs
    doubling channels from ``base_channels``, then one conv reducing the
    map to 1x1 with one output channel; BatchNorm on layers
    ``2 .. num_convs - 1`` (1-based); the activation (LeakyReLU(0.2) by
    default) after every layer but the last.

    The last layer has no BatchNorm and no activation, unlike the
    reference implementation's (a 1024-channel conv + BN + LeakyReLU). It
    has one output channel so that ``return_features=False`` gives a logit
    usable with :class:`GANLoss`, and batch statistics over one channel of
    a 1x1 map would erase what it says: real and fake batches are scored
    in separate forward passes, and both would be normalised to the same
    mean.

    With ``return_features=True`` (SegAN's multi-scale L1 loss, the
    paper's choice) the output is the flattened input and the flattened
    output of every layer, each multiplied by its entry of
    ``layer_weights`` (reference: 1, 1, 2, 2, 2, 4), as a tuple of
    per-layer tensors: their concatenation is SegAN's feature vector,
    ``torch.cat(out, dim=1)``, which the loss does not build.

    Args:
        in_channels (int): Channels of the input. Defaults to 256.
        roi_size (int): Spatial size ``S`` of the square input.
            Defaults to 28.
        base_channels (int): Output channels of the first conv.
            Defaults to 64.
        num_convs (int): Number of conv layers. Defaults to 5.
        layer_weights (Sequence[float]): Weight of the input followed by
            the weight of every layer's output; ``num_convs + 1`` values.
            Defaults to (1, 1, 2, 2, 2, 4).
        return_features (bool): Return the weighted multi-scale features
            (True) or the last layer's logit (False). Defaults to True.
        norm_cfg (dict, optional): Norm layer of the hidden layers.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after every layer but the
            last. Defaults to ``dict(type='LeakyReLU', negative_slope=0.2)``.
        with_spectral_norm (bool): As :class:`BoxDiscriminator`'s.
            Defaults to False.
        last_layer (str): ``'logit'`` (default): the last conv gives one
            channel, without BatchNorm or activation (see above: usable as
            a logit, and not normalised away when real and fake are scored
            as separate batches). ``'reference'``: the reference
            implementation's head (DESIGN.md section 3): the last conv has
            ``base_channels * 2 ** (num_convs - 1)`` channels (1024), with
            BatchNorm and LeakyReLU like layers 2 .. num_convs - 1, so the
            weight-4 term of the multi-scale features is a 1024-vector per
            sample instead of one scalar; needs ``return_features=True``.
            Consider ``gan_cfg.real_fake_batch='joint'`` with it (its
            BatchNorm over a 1x1 map normalises each separately scored
            batch to its own mean).
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to the one of :class:`BoxDiscriminator`.
    """

    def __init__(self,
                 in_channels: int = 256,
                 roi_size: int = 28,
                 base_channels: int = 64,
                 num_convs: int = 5,
                 layer_weights: Sequence[float] = (1, 1, 2, 2, 2, 4),
                 return_features: bool = True,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(
                     type='LeakyReLU', negative_slope=0.2),
                 with_spectral_norm: bool = False,
                 last_layer: str = 'logit',
                 init_cfg: OptMultiConfig = DCGAN_INIT_CFG) -> None:
        if last_layer not in ('logit', 'reference'):
            raise ValueError(
                f"{self.__class__.__name__}: last_layer must be 'logit' or "
                f"'reference', got {last_layer!r}.")
        if last_layer == 'reference' and not return_features:
            raise ValueError(
                f"{self.__class__.__name__}: last_layer='reference' has "
                'no logit to return: it needs return_features=True '
                '(the multi-scale L1 loss)')
        layer_weights = tuple(float(w) for w in layer_weights)
        if len(layer_weights) != num_convs + 1:
            raise ValueError(
                f'{self.__class__.__name__}: layer_weights needs '
                f'num_convs + 1 = {num_convs + 1} values (the input, then '
                f'each layer), got {len(layer_weights)}.')
        reference = last_layer == 'reference'
        # the reference head: the channels keep doubling (1024 for the
        # defaults), with the norm and activation of the hidden layers
        super().__init__(
            in_channels=in_channels,
            roi_size=roi_size,
            base_channels=base_channels,
            num_convs=num_convs,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            with_spectral_norm=with_spectral_norm,
            last_channels=base_channels *
            2**(num_convs - 1) if reference else 1,
            last_layer_norm_act=reference,
            init_cfg=init_cfg)
        self.layer_weights = layer_weights
        self.return_features = return_features
        self.last_layer = last_layer

    @property
    def feature_dim(self) -> int:
        """int: Length ``D`` of the feature vector returned per sample when
        ``return_features=True``."""
        dim = self.in_channels * self.roi_size**2
        size = self.roi_size
        channels = self.in_channels
        for layer in self.convs:
            size = (size + 2 * layer.conv.padding[0] -
                    layer.conv.kernel_size[0]) // layer.conv.stride[0] + 1
            channels = layer.conv.out_channels
            dim += channels * size**2
        return dim

    def forward(self, x: Tensor) -> MaskDiscOutput:
        """Score masked RoI features.

        Args:
            x (Tensor): (N, in_channels, roi_size, roi_size) masks times RoI
                features; N may be 0.

        Returns:
            Tensor | tuple[Tensor]: With ``return_features=True``, the
            weighted multi-scale features as ``num_convs + 1`` tensors, the
            input's and each layer's output, flattened to (N, D_l) and
            multiplied by their ``layer_weights`` entry; SegAN's (N, D)
            vector (D = :attr:`feature_dim`) is their concatenation along
            dim 1, which :class:`MultiScaleL1Loss` does not need to build
            (the input's term, 90% of D at the defaults, is ``x`` itself,
            not a copy, when its weight is 1 and ``x`` is in the output
            dtype). They are float32 (float64 if
            the input or the discriminator is) whatever autocast computed
            the layers in. Otherwise (N, 1) raw logits.
        """
        return self._outputs(x, self.forward_layers(x))

    def forward_joint(self, real: Tensor,
                      fake: Tensor) -> Tuple[MaskDiscOutput, MaskDiscOutput]:
        """:meth:`forward` of real and fake masked features normalised as
        one batch (``gan_cfg.real_fake_batch='joint'``): that of their
        concatenation, split (see :meth:`forward_layers_joint`).

        Returns:
            tuple: the real side's and the fake side's :meth:`forward`
            output.
        """
        real_outs, fake_outs = self.forward_layers_joint(real, fake)
        return self._outputs(real, real_outs), self._outputs(fake, fake_outs)

    def _outputs(self, x: Tensor, outs: List[Tensor]) -> MaskDiscOutput:
        """What :meth:`forward` returns, from its input and the layers'
        outputs."""
        if not self.return_features:
            return outs[-1].flatten(1)
        feats = [x] + outs
        # under autocast the input and the layer outputs differ in dtype
        dtype = functools.reduce(torch.promote_types, [f.dtype for f in feats],
                                 torch.float32)
        return tuple(
            _weighted(f.flatten(1).to(dtype), w)
            for f, w in zip(feats, self.layer_weights))


def _weighted(feat: Tensor, weight: float) -> Tensor:
    """``feat * weight``, ``feat`` itself for a weight of 1 (no copy)."""
    return feat if weight == 1 else feat * weight
