"""The DCGAN-style conv stack that both discriminators of GAN Mask R-CNN
are built on."""
import contextlib
import math
from typing import Iterator, List, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
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


@contextlib.contextmanager
def batch_statistics_fallback(layer: nn.Module,
                              num_values: int) -> Iterator[None]:
    """Let ``layer`` run on a batch too small for batch statistics.

    In training, BatchNorm needs at least two values per channel
    (``N * H * W >= 2`` of its input); a 1x1 map with ``N = 1``, or any map
    with ``N = 0``, has fewer (and an empty batch would write NaN into the
    running statistics). For such a batch the BatchNorm layers of ``layer``
    are put in evaluation mode for the block: they normalise with their
    running statistics and leave them unchanged, so the output is finite
    and no error is raised. The layer's own ``forward`` runs, whatever its
    order of conv, norm and activation. :class:`~torch.nn.SyncBatchNorm`
    layers are left as they are: their batch spans all processes (every
    process must join its all-reduce, and torch accepts empty inputs on
    some of them).

    Args:
        layer (nn.Module): A layer about to run, e.g. a ``ConvModule``.
        num_values (int): Values per channel its norm layers will see
            (``N * H_out * W_out``).
    """
    norms = [
        m for m in layer.modules() if isinstance(m, _BatchNorm)
        and not isinstance(m, nn.SyncBatchNorm) and m.training
    ] if num_values < 2 else []
    for norm in norms:
        norm.train(False)
    try:
        yield
    finally:
        for norm in norms:
            norm.train(True)


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


class ConvDiscriminator(BaseModule):
    """DCGAN-style discriminator over square RoI maps, built from
    :class:`~mmcv.cnn.ConvModule` layers.

    Layer ``i`` (0-based) of the first ``num_convs - 1`` has
    ``base_channels * 2**i`` output channels and is a 4x4, stride-2,
    padding-1 conv (3x3 stride-1 ones come first when ``roi_size`` is too
    small, see :func:`dcgan_layer_specs`), followed by the norm layer (all
    but the first layer) and the activation. The last layer's kernel is
    the remaining spatial size, so its output is 1x1; it has
    ``last_channels`` channels and, by default, neither norm nor
    activation. Subclasses choose what the layers' outputs become
    (:meth:`forward`).

    In training, a BatchNorm layer that would see fewer than two values per
    channel (``N = 0``, or ``N = 1`` at a 1x1 map) normalises with its
    running statistics instead of raising (see
    :func:`batch_statistics_fallback`).

    Args:
        in_channels (int): Channels of the input RoI features.
        roi_size (int): Spatial size ``S`` of the square input.
        base_channels (int): Output channels of the first conv; each later
            conv doubles them.
        num_convs (int): Number of conv layers.
        norm_cfg (dict, optional): Norm layer of layers ``2 .. num_convs -
            1`` (1-based).
        act_cfg (dict, optional): Activation after every layer but the
            last.
        with_spectral_norm (bool): Spectral normalisation (Miyato et al.,
            2018) of every conv's weight, an alternative to batch statistics
            for keeping D Lipschitz (set ``norm_cfg=None`` with it to drop
            BatchNorm).
        last_channels (int): Output channels of the last conv (1: one
            logit per sample).
        last_layer_norm_act (bool): Give the last layer the norm and the
            activation of the hidden layers too.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int,
                 roi_size: int,
                 base_channels: int,
                 num_convs: int,
                 norm_cfg: OptConfigType,
                 act_cfg: OptConfigType,
                 with_spectral_norm: bool = False,
                 last_channels: int = 1,
                 last_layer_norm_act: bool = False,
                 init_cfg: OptMultiConfig = DCGAN_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        self.specs = dcgan_layer_specs(roi_size, num_convs,
                                       self.__class__.__name__)
        self.in_channels = in_channels
        self.roi_size = roi_size
        self.base_channels = base_channels
        self.num_convs = num_convs
        self.convs = nn.ModuleList()
        channels = in_channels
        for i, (kernel, stride, padding, _) in enumerate(self.specs):
            is_last = i == num_convs - 1
            out_channels = last_channels if is_last else \
                base_channels * 2**i
            plain = i == 0 or (is_last and not last_layer_norm_act)
            self.convs.append(
                ConvModule(
                    channels,
                    out_channels,
                    kernel,
                    stride=stride,
                    padding=padding,
                    norm_cfg=None if plain else norm_cfg,
                    act_cfg=None
                    if is_last and not last_layer_norm_act else act_cfg,
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
            list[Tensor]: ``num_convs`` tensors, layer ``i``'s of shape
            (N, C_i, S_i, S_i); the last one is (N, C_last, 1, 1).
        """
        self._check_input(x)
        return self._run_layers(
            cast_to_compute_dtype(x, self), 0, len(self.convs))

    def _run_layers(self, x: Tensor, start: int, stop: int) -> List[Tensor]:
        """Outputs of layers ``start .. stop - 1``, the first fed ``x``."""
        outs = []
        for layer, (_, _, _, out_size) in zip(self.convs[start:stop],
                                              self.specs[start:stop]):
            with batch_statistics_fallback(layer, x.size(0) * out_size**2):
                x = layer(x)
            outs.append(x)
        return outs

    def _first_joint_layer(self) -> int:
        """Index of the first layer that must see real and fake as one
        batch: the first with a norm layer, or with spectral normalisation
        (its power iteration steps at every call in training);
        ``num_convs`` if none has either."""
        return next((i for i, layer in enumerate(self.convs)
                     if layer.with_norm or layer.with_spectral_norm),
                    len(self.convs))

    def forward_layers_joint(
            self, real: Tensor,
            fake: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Outputs of every conv layer for real and fake samples whose
        normalisation layers see them as one batch.

        The same outputs as :meth:`forward_layers` of
        ``torch.cat([real, fake])`` split after ``len(real)`` rows, without
        that concatenation of the inputs: the layers before the first one
        with a norm layer (the first, plain conv) see each side alone, which
        gives the same values, and the two sides are joined at the input of
        the first normalised layer (or the first with spectral
        normalisation, see :meth:`_first_joint_layer`). So autograd keeps
        each side's input as
        its own tensor (a product kept as its factors stays so) and no copy
        of both inputs.

        Args:
            real (Tensor): (N_r, in_channels, roi_size, roi_size).
            fake (Tensor): (N_f, in_channels, roi_size, roi_size).

        Returns:
            tuple[list[Tensor], list[Tensor]]: each side's ``num_convs``
            layer outputs, as :meth:`forward_layers` gives them.
        """
        self._check_input(real)
        self._check_input(fake)
        first = self._first_joint_layer()
        sides = [cast_to_compute_dtype(x, self) for x in (real, fake)]
        alone = [self._run_layers(x, 0, first) for x in sides]
        if first == len(self.convs):
            return alone[0], alone[1]
        joint_input = torch.cat(
            [outs[-1] if outs else x for outs, x in zip(alone, sides)])
        joint = self._run_layers(joint_input, first, len(self.convs))
        num_real = real.size(0)
        return (alone[0] + [out[:num_real] for out in joint],
                alone[1] + [out[num_real:] for out in joint])
