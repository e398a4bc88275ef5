# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Precise RoI Pooling (Jiang et al., ECCV 2018) on CPU and CUDA.

Same signature and semantics as :func:`mmcv.ops.prroi_pool` /
:class:`mmcv.ops.PrRoIPool` (which in mmcv 2.x have CUDA kernels only), so
either can be swapped for the other. The compiled kernels live in
``mmdet_gan._ext`` (sources in ``ops/csrc/``).
"""
import functools
from types import ModuleType
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable
from torch.nn.modules.utils import _pair

_BUILD_HINT = (
    'The compiled ops of mmdet_gan (mmdet_gan._ext) are not available. '
    'Build them from the repository root with '
    '`pip install --no-build-isolation -e .` (or `bash tools/setup_env.sh`, '
    'which also sets up the environment); add FORCE_CUDA=1 to compile the '
    'CUDA kernels. See DEVELOPERS.md.')


@functools.lru_cache(maxsize=None)
def _load_ext() -> ModuleType:
    """Import ``mmdet_gan._ext`` on first use, with a build hint on failure.

    Loading lazily keeps ``import mmdet_gan`` working (configs, tools, tests
    that do not pool) in an environment where the extension is not built.
    """
    try:
        from mmdet_gan import _ext
    except ImportError as e:
        raise ImportError(f'{_BUILD_HINT} (import error: {e})') from e
    return _ext


def _compute_dtype(tensor: Tensor) -> Tensor:
    """Up-casts float16/bfloat16 (e.g. features under autocast) to float32;
    other dtypes are returned as they are."""
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return tensor.float()
    return tensor


class PrRoIPoolFunction(Function):
    """Autograd function of Precise RoI Pooling.

    Each RoI, scaled by ``spatial_scale``, is split into ``output_size``
    bins; a bin outputs the exact mean, over its area, of the bilinear
    interpolation of the feature map (zero outside the map), computed in
    closed form. Bins of zero area (also boxes with ``x2 < x1``) output 0.
    The output is differentiable w.r.t. both the features and the RoI
    coordinates; the batch-index column of ``rois`` gets a zero gradient.

    float16/bfloat16 inputs (autocast) are up-cast and computed in float32,
    each on its own, so float16/bfloat16 features with float32 RoIs (how
    the extractors pass them, so as not to round the coordinates) give a
    float32 output; otherwise ``features`` and ``rois`` must share a dtype
    (float32, or float64 e.g. for gradcheck).
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type='cuda', cast_inputs=torch.float32)
    def forward(ctx,
                features: Tensor,
                rois: Tensor,
                output_size: Union[int, Tuple[int, int]],
                spatial_scale: float = 1.0) -> Tensor:
        """Pools ``features`` inside ``rois``.

        Args:
            features (Tensor): (N, C, H, W) feature maps.
            rois (Tensor): (K, 5) RoIs as ``[batch_idx, x1, y1, x2, y2]`` in
                the coordinates of the image, i.e. before ``spatial_scale``.
            output_size (int | tuple[int, int]): ``(PH, PW)`` bins per RoI.
            spatial_scale (float): Scale from image to feature-map
                coordinates (``1 / stride``). Defaults to 1.0.

        Returns:
            Tensor: (K, C, PH, PW) pooled features.
        """
        ext = _load_ext()
        pooled_height, pooled_width = (int(s) for s in _pair(output_size))
        spatial_scale = float(spatial_scale)
        features = _compute_dtype(features)
        rois = _compute_dtype(rois)
        output = ext.prroi_pool_forward(
            features,
            rois,
            pooled_height=pooled_height,
            pooled_width=pooled_width,
            spatial_scale=spatial_scale)
        ctx.params = dict(
            pooled_height=pooled_height,
            pooled_width=pooled_width,
            spatial_scale=spatial_scale)
        ctx.save_for_backward(features, rois, output)
        return output

    @staticmethod
    @once_differentiable
    @torch.amp.custom_bwd(device_type='cuda')
    def backward(ctx, grad_output: Tensor) -> tuple:
        """Gradients w.r.t. ``features`` (N, C, H, W) and ``rois`` (K, 5)."""
        ext = _load_ext()
        features, rois, output = ctx.saved_tensors
        grad_output = grad_output.to(features.dtype)
        grad_features = grad_rois = None
        # the RoIs' values were checked by the forward (no CUDA host sync)
        if ctx.needs_input_grad[0]:
            grad_features = ext.prroi_pool_backward(
                grad_output, features, rois, check_values=False, **ctx.params)
        if ctx.needs_input_grad[1]:
            grad_rois = ext.prroi_pool_coor_backward(
                grad_output,
                output,
                features,
                rois,
                check_values=False,
                **ctx.params)
        return grad_features, grad_rois, None, None


prroi_pool = PrRoIPoolFunction.apply


class MultiLevelMaxPrRoIPoolFunction(Function):
    """Precise RoI Pooling of the same RoIs from several feature levels,
    fused by element-wise max, as one autograd node.

    Equal in value to ``torch.maximum`` over :func:`prroi_pool` of each
    level, but it keeps for the backward pass only the fused output and the
    index of the winning level (uint8) per output element, instead of every
    level's output and every partial maximum (``2 L - 1`` tensors of the
    output's size for ``L`` levels). The backward pass gives each level the
    output gradient where it won; the coordinate gradient of a level needs
    its own output only where its gradient is non-zero, and there it equals
    the fused one.

    Ties go to the first level in order (``torch.maximum`` splits their
    gradient in halves): a subgradient of the max either way.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type='cuda', cast_inputs=torch.float32)
    def forward(ctx, rois: Tensor, output_size: Union[int, Tuple[int, int]],
                spatial_scales: Sequence[float], *features: Tensor) -> Tensor:
        """Pools ``rois`` from each level and takes the max.

        Args:
            rois (Tensor): (K, 5) RoIs as ``[batch_idx, x1, y1, x2, y2]``.
            output_size (int | tuple[int, int]): ``(PH, PW)`` bins per RoI.
            spatial_scales (Sequence[float]): One scale per level.
            *features (Tensor): The levels, each (N, C, H_l, W_l).

        Returns:
            Tensor: (K, C, PH, PW) fused features.
        """
        if not features or len(features) != len(spatial_scales):
            raise ValueError(
                'multi_level_max_prroi_pool needs one spatial scale per '
                f'feature level, got {len(features)} levels and '
                f'{len(spatial_scales)} scales')
        if len(features) > 255:
            raise ValueError('multi_level_max_prroi_pool fuses at most 255 '
                             f'levels, got {len(features)}')
        ext = _load_ext()
        pooled_height, pooled_width = (int(s) for s in _pair(output_size))
        rois = _compute_dtype(rois)
        features = tuple(_compute_dtype(feat) for feat in features)
        scales = tuple(float(scale) for scale in spatial_scales)
        fused = winner = better = None
        for lvl, (feat, scale) in enumerate(zip(features, scales)):
            # the RoIs' values are checked once (one CUDA host sync per call)
            out = ext.prroi_pool_forward(
                feat,
                rois,
                pooled_height=pooled_height,
                pooled_width=pooled_width,
                spatial_scale=scale,
                check_values=lvl == 0)
            if fused is None:
                fused = out
                winner = torch.zeros_like(out, dtype=torch.uint8)
                better = torch.empty_like(out, dtype=torch.bool)
                continue
            # in place: each level's (K, C, PH, PW) output is the size of
            # the result (95 MB for 118 RoIs x 256 x 28 x 28)
            torch.gt(out, fused, out=better)
            winner.masked_fill_(better, lvl)
            torch.maximum(fused, out, out=fused)  # NaN propagates
            del out
        ctx.pooled_size = (pooled_height, pooled_width)
        ctx.scales = scales
        ctx.save_for_backward(rois, fused, winner, *features)
        return fused

    @staticmethod
    @once_differentiable
    @torch.amp.custom_bwd(device_type='cuda')
    def backward(ctx, grad_output: Tensor) -> tuple:
        """Gradients w.r.t. ``rois`` (K, 5) and each level's features."""
        ext = _load_ext()
        rois, fused, winner, *features = ctx.saved_tensors
        grad_output = grad_output.to(fused.dtype)
        pooled_height, pooled_width = ctx.pooled_size
        need_rois = ctx.needs_input_grad[0]
        grad_rois = torch.zeros_like(rois) if need_rois else None
        grad_features = []
        zero = grad_output.new_zeros(())
        # one buffer for every level's share of the gradient (K, C, PH, PW)
        # and one for where that level won
        grad_lvl = won = None
        for lvl, (feat, scale) in enumerate(zip(features, ctx.scales)):
            need_feat = ctx.needs_input_grad[3 + lvl]
            if not (need_feat or need_rois):
                grad_features.append(None)
                continue
            if grad_lvl is None:
                grad_lvl = grad_output.new_empty(grad_output.shape)
                won = torch.empty_like(winner, dtype=torch.bool)
            torch.eq(winner, lvl, out=won)
            torch.where(won, grad_output, zero, out=grad_lvl)
            params = dict(
                pooled_height=pooled_height,
                pooled_width=pooled_width,
                spatial_scale=scale,
                check_values=False)
            grad_features.append(
                ext.prroi_pool_backward(grad_lvl, feat, rois, **params
                                        ) if need_feat else None)
            if need_rois:
                grad_rois += ext.prroi_pool_coor_backward(
                    grad_lvl, fused, feat, rois, **params)
        return (grad_rois, None, None, *grad_features)


def multi_level_max_prroi_pool(features: Sequence[Tensor], rois: Tensor,
                               output_size: Union[int, Tuple[int, int]],
                               spatial_scales: Sequence[float]) -> Tensor:
    """Element-wise max over the levels of :func:`prroi_pool`, with the
    backward memory of a single level (see
    :class:`MultiLevelMaxPrRoIPoolFunction`).

    Args:
        features (Sequence[Tensor]): L levels, each (N, C, H_l, W_l), one
            dtype.
        rois (Tensor): (K, 5) RoIs as ``[batch_idx, x1, y1, x2, y2]`` in
            image coordinates; float32 RoIs go with float16/bfloat16
            features.
        output_size (int | tuple[int, int]): ``(PH, PW)`` bins per RoI.
        spatial_scales (Sequence[float]): L scales (``1 / stride``).

    Returns:
        Tensor: (K, C, PH, PW) fused features (float32 for float16/bfloat16
        inputs).
    """
    return MultiLevelMaxPrRoIPoolFunction.apply(rois, output_size,
                                                tuple(spatial_scales),
                                                *features)


class PrRoIPool(nn.Module):
    """Precise RoI Pooling layer, a CPU+CUDA drop-in for
    :class:`mmcv.ops.PrRoIPool`.

    Usable as ``roi_layer`` of MMDetection RoI extractors through
    ``RegistrySingleRoIExtractor`` / ``MultiLevelMaxRoIExtractor`` (plain
    ``SingleRoIExtractor`` resolves ``'PrRoIPool'`` to mmcv's CUDA-only op).

    Args:
        output_size (int | tuple[int, int]): ``(PH, PW)`` bins per RoI; an
            int gives a square grid. Stored as a tuple.
        spatial_scale (float): Scale from image to feature-map coordinates.
            Defaults to 1.0.
    """

    def __init__(self,
                 output_size: Union[int, Tuple[int, int]],
                 spatial_scale: float = 1.0) -> None:
        super().__init__()
        self.output_size = tuple(int(s) for s in _pair(output_size))
        self.spatial_scale = float(spatial_scale)

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        """
        Args:
            features (Tensor): (N, C, H, W) feature maps.
            rois (Tensor): (K, 5) RoIs as ``[batch_idx, x1, y1, x2, y2]``.

        Returns:
            Tensor: (K, C, PH, PW) pooled features, in the dtype of
            ``features`` (float16 features, e.g. under autocast, are pooled
            in float32 and the result cast back, as MMDetection's extractors
            expect the output dtype of the features).
        """
        output = prroi_pool(features, rois, self.output_size,
                            self.spatial_scale)
        return output.to(features.dtype)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(output_size={self.output_size}, '
                f'spatial_scale={self.spatial_scale})')
