"""DCGAN-style discriminator over RoI features (box branch of GAN Mask
R-CNN)."""
import math
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


def dcgan_layer_specs(roi_size: int, num_convs: int,
                      owner: str) -> List[Tuple[int, int, int, int]]:
    """Kernel, stride, padding and output size of every conv of a DCGAN
    discriminator that maps a ``roi_size x roi_size`` map to ``1 x 1``.

    The strides are chosen to reach the output shape (the paper's "5 conv
    layers"), whatever the RoI size: the hidden convs are 4x4, stride 2,
    padding 1 (each maps a size ``s`` to ``s // 2``) as long as the map
    stays at least 1x1; when ``roi_size`` is too small for ``num_convs - 1``
    of them (below ``2 ** (num_convs - 1)``, e.g. 14 with 5 convs), the
    first ones are 3x3, stride 1, padding 1 instead (size preserved). The
    last conv's kernel is the size that remains (stride 1, no padding), so
    the output is exactly 1x1. For 28 (and 56) every hidden conv is
    strided, as in the reference.

    Args:
        roi_size (int): Spatial size ``S`` of the square input.
        num_convs (int): Number of conv layers, at least 1.
        owner (str): Class name used in error messages.

    Returns:
        list[tuple[int, int, int, int]]: ``(kernel, stride, padding,
        out_size)`` for each layer.

    Raises:
        ValueError: If ``roi_size`` or ``num_convs`` is not an int >= 1.
    """
    if not isinstance(num_convs, int) or num_convs < 1:
        raise ValueError(
            f'{owner}: num_convs must be an int >= 1, got {num_convs!r}.')
    if not isinstance(roi_size, int) or roi_size < 1:
        raise ValueError(
            f'{owner}: roi_size must be an int >= 1, got {roi_size!r}.')
    num_hidden = num_convs - 1
    num_strided = min(num_hidden, int(math.floor(math.log2(roi_size))))
    specs = [(3, 1, 1, roi_size)] * (num_hidden - num_strided)
    size = roi_size
    for _ in range(num_strided):
        size //= 2  # floor((s + 2 * 1 - 4) / 2) + 1
        specs.append((4, 2, 1, size))
    specs.append((size, 1, 0, 1))
    return specs


def conv_module_forward(layer: ConvModule, x: Tensor) -> Tensor:
    """Run a ``conv -> norm -> act`` :class:`ConvModule` that also works on
    batches too small for batch statistics.

    In training, BatchNorm needs at least two values per channel
    (``N * H * W >= 2``); a 1x1 map with ``N = 1``, or any map with
    ``N = 0``, has fewer. For such a batch the BatchNorm layer normalises
    with its running statistics, as in evaluation, and leaves them
    unchanged, so the output is finite and no error is raised. Any other
    input goes through ``layer(x)`` unchanged, and so does any input of a
    :class:`~torch.nn.SyncBatchNorm` layer, whose batch spans all processes
    (every process must join its all-reduce, and torch accepts empty inputs
    on some of them).

    Args:
        layer (ConvModule): A layer with the default ``('conv', 'norm',
            'act')`` order.
        x (Tensor): Input of shape (N, C, H, W).

    Returns:
        Tensor: Output of shape (N, C', H', W').
    """
    norm = layer.norm if layer.with_norm else None
    if not (layer.training and isinstance(norm, _BatchNorm)) or isinstance(
            norm, nn.SyncBatchNorm):
        return layer(x)
    out = layer.conv(x)
    if out.numel() // out.size(1) >= 2:
        out = norm(out)
    elif norm.running_mean is not None:
        out = F.batch_norm(out, norm.running_mean, norm.running_var,
                           norm.weight, norm.bias, False, 0.0, norm.eps)
    elif norm.affine:
        # no running statistics to fall back on: keep the affine part
        out = out * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)
    if layer.with_activation:
        out = layer.activate(out)
    return out


def _autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (torch >= 2.0)."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no device_type argument
        if device_type == 'cpu':
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def cast_to_compute_dtype(x: Tensor, module: nn.Module) -> Tensor:
    """Cast a module's input to the dtype the module computes in.

    Under automatic mixed precision the player whose optim wrapper has no
    autocast still receives the other player's float16/bfloat16 tensors
    (e.g. RoI features pooled by a generator under autocast), and a conv
    with float32 weights refuses them. When autocast is off for ``x``'s
    device type, ``x`` is cast to the dtype of ``module``'s parameters;
    under autocast it is returned as is, and autocast casts it per op.

    Args:
        x (Tensor): (N, C, H, W) input of ``module``.
        module (nn.Module): The module about to run on ``x``.

    Returns:
        Tensor: (N, C, H, W) ``x``, in the parameters' dtype unless
        autocast is on (or ``module`` has no floating-point parameters).
    """
    if _autocast_enabled(x.device.type):
        return x
    param = next((p for p in module.parameters() if p.is_floating_point()),
                 None)
    if param is None or x.dtype == param.dtype:
        return x
    return x.to(param.dtype)


#: DCGAN-style initialisation of the discriminators (reference code):
#: conv weights N(0, 2 / (k * k * out)), BN weights N(1, 0.02), biases 0.
#: BaseModule deep-copies ``init_cfg``, so sharing this default is safe.
DCGAN_INIT_CFG = [
    dict(
        type='Kaiming',
        layer='Conv2d',
        mode='fan_out',
        nonlinearity='relu',
        distribution='normal'),
    dict(type='Normal', layer='_BatchNorm', mean=1.0, std=0.02, bias=0.0)
]


@MODELS.register_module()
class BoxDiscriminator(BaseModule):
    """Box discriminator of GAN Mask R-CNN.

    A DCGAN-style conv net that scores RoI features pooled from a box:
    real samples are pooled at the ground-truth boxes, fake ones at the
    box head's predictions. Layer ``i`` (0-based) of the first
    ``num_convs - 1`` is a 4x4, stride-2, padding-1 conv with
    ``base_channels * 2**i`` channels, followed by BatchNorm (all but the
    first layer) and the activation (LeakyReLU(0.2) by default). The last
    layer is a plain conv (no norm, no activation) whose kernel is the
    remaining spatial size, so the output is exactly one raw logit per box.
    For the defaults (``roi_size=28``, ``num_convs=5``) the maps are
    28 -> 14 -> 7 -> 3 -> 1 and the last kernel is 1x1; ``roi_size=56``
    gives a 3x3 last kernel. ``roi_size`` must be at least
    ``2**(num_convs - 1)``.

    In training, a BatchNorm layer that would see fewer than two values per
    channel (``N = 0``, or ``N = 1`` at a 1x1 map) normalises with its
    running statistics instead of raising (see :func:`conv_module_forward`).

    Args:
        in_channels (int): Channels of the input RoI features.
            Defaults to 256.
        roi_size (int): Spatial size ``S`` of the square input.
            Defaults to 28.
        base_channels (int): Output channels of the first conv; each later
            stride-2 conv doubles them. Defaults to 64.
        num_convs (int): Number of conv layers. Defaults to 5.
        norm_cfg (dict, optional): Norm layer of layers ``2 .. num_convs -
            1`` (1-based). Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after every layer but the
            last. Defaults to ``dict(type='LeakyReLU', negative_slope=0.2)``.
        with_spectral_norm (bool): Spectral normalisation (Miyato et al.,
            2018) of every conv's weight, an alternative to batch statistics
            for keeping D Lipschitz (set ``norm_cfg=None`` with it to drop
            BatchNorm). Defaults to False (reference).
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
        super().__init__(init_cfg=init_cfg)
        owner = self.__class__.__name__
        specs = dcgan_layer_specs(roi_size, num_convs, owner)
        self.in_channels = in_channels
        self.roi_size = roi_size
        self.base_channels = base_channels
        self.num_convs = num_convs

        self.convs = nn.ModuleList()
        channels = in_channels
        for i, (kernel, stride, padding, _) in enumerate(specs):
            is_last = i == num_convs - 1
            out_channels = 1 if is_last else base_channels * 2**i
            self.convs.append(
                ConvModule(
                    channels,
                    out_channels,
                    kernel,
                    stride=stride,
                    padding=padding,
                    norm_cfg=None if i == 0 or is_last else norm_cfg,
                    act_cfg=None if is_last else act_cfg,
                    with_spectral_norm=with_spectral_norm))
            channels = out_channels

    def _check_input(self, x: Tensor) -> None:
        """Raise a ValueError if ``x`` is not (N, in_channels, S, S)."""
        expected = (self.in_channels, self.roi_size, self.roi_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f'{self.__class__.__name__} expects input of shape '
                f'(N, {expected[0]}, {expected[1]}, {expected[2]}), got '
                f'{tuple(x.shape)}.')

    def forward_layers(self, x: Tensor) -> List[Tensor]:
        """Outputs of every conv layer.

        The input is first cast to the discriminator's compute dtype (see
        :func:`cast_to_compute_dtype`).

        Args:
            x (Tensor): (N, in_channels, roi_size, roi_size) RoI features.

        Returns:
            list[Tensor]: ``num_convs`` tensors; the last is the
            (N, 1, 1, 1) logit map.
        """
        self._check_input(x)
        x = cast_to_compute_dtype(x, self)
        outs = []
        for layer in self.convs:
            x = conv_module_forward(layer, x)
            outs.append(x)
        return outs

    def forward(self, x: Tensor) -> Tensor:
        """Score RoI features.

        Args:
            x (Tensor): (N, in_channels, roi_size, roi_size) RoI features;
                N may be 0.

        Returns:
            Tensor: (N, 1) raw logits (no sigmoid).
        """
        return self.forward_layers(x)[-1].flatten(1)
