# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Times Precise RoI Pooling against RoIAlign and a plain-PyTorch version.

One run prints, for each RoI distribution and output size, the forward and
forward+backward times of

* ``ours``: :func:`mmdet_gan.ops.prroi_pool`, backward to the features and
  to the RoI coordinates (``fwd+bwd``) or to the features only
  (``fwd+bwd feat``);
* ``pytorch``: the same closed-form integral written with plain PyTorch ops
  (dense per-RoI weight matrices, autograd for both gradients); it is timed
  on ``--ref-rois`` RoIs and scaled linearly to ``--num-rois`` (its cost is
  exactly linear in the number of RoIs);
* ``roi_align``: RoIAlign with ``sampling_ratio=2, aligned=True`` on the
  same device (no gradient to the boxes, which it does not have), from
  ``--reference``: ``mmcv`` (``mmcv.ops.RoIAlign``, the default where mmcv's
  ops import) or ``torchvision`` (``torchvision.ops.roi_align``, the same
  semantics; the default elsewhere, e.g. on a GPU machine without mmcv's
  CUDA ops); ``none`` (the default where neither imports) leaves it out;
* ``mmcv_prroi``: ``mmcv.ops.PrRoIPool``, on CUDA only (mmcv has no CPU
  kernel) and where mmcv's ops import;

and the ratios the project tracks (see docs/benchmarks.md). Each time is
the best of ``--repeat`` runs after a warm-up run (on CUDA, synchronised
around each run). ``--json PATH`` also writes every time (seconds) there.

Example::

    python tools/analysis_tools/benchmark_prroi.py            # GPU if any
    python tools/analysis_tools/benchmark_prroi.py --device cpu
    python tools/analysis_tools/benchmark_prroi.py --reference torchvision
"""
import argparse
import importlib
import json
import os
import platform
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from mmdet_gan.ops import prroi_pool
from mmdet_gan.utils.benchmarking import best_time, random_rois
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation

# RoI side lengths (sqrt of the area, image pixels) per distribution.
BOX_SCALES = {
    # what MMDetection's SingleRoIExtractor maps to P2 (finest_scale 56)
    'p2': (16., 112.),
    # every proposal size, as pooled from P2 by MultiLevelMaxRoIExtractor
    'all': (16., 800.),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument('--num-rois', type=int, default=512)
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument(
        '--image-size',
        type=int,
        nargs=2,
        default=[800, 1344],
        metavar=('H', 'W'),
        help='padded input image; the map is its stride-4 level (P2)')
    parser.add_argument('--stride', type=int, default=4)
    parser.add_argument('--output-sizes', type=int, nargs='+', default=[7, 28])
    parser.add_argument(
        '--boxes', nargs='+', default=list(BOX_SCALES), choices=BOX_SCALES)
    parser.add_argument(
        '--ref-rois',
        type=int,
        default=16,
        help='RoIs for the plain-PyTorch version (scaled to --num-rois)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--reference',
        default=None,
        choices=REFERENCES,
        help='the RoIAlign to compare with (default: mmcv where its ops '
        'import, else torchvision where it imports, else none)')
    parser.add_argument(
        '--json',
        default=None,
        metavar='PATH',
        help='also write the settings and every time (seconds) there')
    return parser.parse_args(argv)


#: ``--reference`` choices: where RoIAlign comes from
REFERENCES = ('mmcv', 'torchvision', 'none')


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:  # also mmcv without its compiled ops
        return False
    return True


def default_reference() -> str:
    """mmcv's RoIAlign where mmcv's ops import, else torchvision's where
    torchvision imports, else ``'none'``."""
    for name, module in (('mmcv', 'mmcv.ops'), ('torchvision',
                                                'torchvision.ops')):
        if _importable(module):
            return name
    return 'none'


def roi_align_reference(
        name: str, output_size: int,
        spatial_scale: float) -> Optional[Callable[[Tensor, Tensor], Tensor]]:
    """RoIAlign(``output_size``, ``spatial_scale``, sampling_ratio=2,
    aligned=True) from ``name`` (see :data:`REFERENCES`); None for
    ``'none'``."""
    if name == 'mmcv':
        from mmcv.ops import RoIAlign
        return RoIAlign(output_size, spatial_scale, sampling_ratio=2)
    if name == 'torchvision':
        from torchvision.ops import roi_align

        def torchvision_roi_align(features: Tensor, rois: Tensor) -> Tensor:
            return roi_align(
                features,
                rois,
                output_size,
                spatial_scale,
                sampling_ratio=2,
                aligned=True)

        return torchvision_roi_align
    if name == 'none':
        return None
    raise ValueError(f'unknown RoIAlign reference {name!r}: one of '
                     f'{REFERENCES}')


def _hat_cdf(t: Tensor) -> Tensor:
    """Integral of max(0, 1 - |s|) from -inf to t."""
    return torch.where(
        t <= -1, torch.zeros_like(t),
        torch.where(
            t <= 0, 0.5 * (1 + t)**2,
            torch.where(t < 1, 1 - 0.5 * (1 - t)**2, torch.ones_like(t))))


def _axis_weights(lo: Tensor, size: Tensor, bins: int, length: int) -> Tensor:
    """(K, bins, length) normalised weights of the grid points per bin."""
    edges = lo[:, None] + torch.arange(
        bins + 1, device=lo.device, dtype=lo.dtype) * size[:, None]
    grid = torch.arange(length, device=lo.device, dtype=lo.dtype)
    weights = (
        _hat_cdf(edges[:, 1:, None] - grid) -
        _hat_cdf(edges[:, :-1, None] - grid))
    inv = torch.where(size > 0, 1 / size.clamp(min=1e-12),
                      torch.zeros_like(size))
    return weights * inv[:, None, None]


def prroi_pool_pytorch(features: Tensor, rois: Tensor, output_size: Tuple[int,
                                                                          int],
                       spatial_scale: float) -> Tensor:
    """Precise RoI Pooling in plain PyTorch (closed form, dense weights).

    out[k] = ay[k] @ F[b_k] @ ax[k].T with (bins, H) and (bins, W) weight
    matrices; differentiable w.r.t. features and RoI coordinates.
    """
    ph, pw = output_size
    _, _, height, width = features.shape
    x1, y1, x2, y2 = (rois[:, 1:] * spatial_scale).unbind(1)
    ax = _axis_weights(x1, (x2 - x1).clamp(min=0) / pw, pw, width)
    ay = _axis_weights(y1, (y2 - y1).clamp(min=0) / ph, ph, height)
    out = rois.new_zeros(rois.size(0), features.size(1), ph, pw)
    batch_idx = rois[:, 0].long()
    for b in batch_idx.unique().tolist():
        keep = batch_idx == b
        pooled = torch.einsum('kph,chw,kqw->kcpq', ay[keep], features[b],
                              ax[keep])
        out = out.index_put((keep.nonzero()[:, 0], ), pooled)
    return out


ROI_ALIGN_NAMES = {
    'mmcv': 'mmcv.ops.RoIAlign(sampling_ratio=2) (aligned=True)',
    'torchvision': 'torchvision.ops.roi_align(sampling_ratio=2, aligned=True)',
    'none': 'none (left out)',
}


def ratio(a: Dict[str, float],
          b: Dict[str, float],
          key: str,
          fmt: str = '.2f') -> str:
    return f'{a[key] / b[key]:{fmt}}x'


def time_method(pool: Callable[[Tensor, Tensor], Tensor], features: Tensor,
                rois: Tensor, grad: Tensor, repeat: int, device: str,
                coord_grad: bool) -> Dict[str, float]:
    """Best forward and forward+backward times of ``pool``."""

    def forward():
        with torch.no_grad():
            pool(features, rois)

    def forward_backward():
        x = features.detach().requires_grad_()
        r = rois.detach().requires_grad_(coord_grad)
        pool(x, r).backward(grad)

    return dict(
        fwd=best_time(forward, repeat, device),
        fwd_bwd=best_time(forward_backward, repeat, device))


def main(argv=None):
    args = parse_args(argv)
    reference = args.reference or default_reference()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    stride = args.stride
    height, width = (s // stride for s in args.image_size)
    gen = torch.Generator().manual_seed(args.seed)
    features = torch.randn(
        1, args.channels, height, width, generator=gen).to(device)
    scale = 1 / stride

    if device == 'cuda':
        machine = torch.cuda.get_device_name()
    else:
        machine = (f'{platform.processor() or platform.machine()}, '
                   f'{os.cpu_count()} logical CPUs')
    print(f'device: {device} ({machine}); torch {torch.__version__}, '
          f'{torch.get_num_threads()} intra-op threads')
    print(f'map: 1x{args.channels}x{height}x{width} (stride {stride} of a '
          f'{args.image_size[0]}x{args.image_size[1]} image), '
          f'K={args.num_rois} RoIs, best of {args.repeat}')
    print(f'roi_align: {ROI_ALIGN_NAMES[reference]}')

    with_mmcv_prroi = device == 'cuda' and _importable('mmcv.ops')
    if with_mmcv_prroi:
        from mmcv.ops import PrRoIPool as MMCVPrRoIPool
    report = dict(
        device=device,
        machine=machine,
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        reference=reference,
        num_rois=args.num_rois,
        channels=args.channels,
        map_size=[height, width],
        stride=stride,
        repeat=args.repeat,
        cases=[])

    for box_kind in args.boxes:
        rois = random_rois(args.num_rois, args.image_size,
                           BOX_SCALES[box_kind], gen).to(device)
        side = ((rois[:, 3] - rois[:, 1]) *
                (rois[:, 4] - rois[:, 2])).sqrt().median().item()
        for size in args.output_sizes:
            grad = torch.randn(
                args.num_rois, args.channels, size, size,
                generator=gen).to(device)
            ours = lambda x, r: prroi_pool(x, r, size, scale)  # noqa: E731
            results = {
                'ours':
                time_method(ours, features, rois, grad, args.repeat, device,
                            True),
                'ours (feat grad only)':
                time_method(ours, features, rois, grad, args.repeat, device,
                            False),
            }
            roi_align = roi_align_reference(reference, size, scale)
            if roi_align is not None:
                results['roi_align'] = time_method(roi_align, features, rois,
                                                   grad, args.repeat, device,
                                                   False)
            if with_mmcv_prroi:
                results['mmcv_prroi'] = time_method(
                    MMCVPrRoIPool(size, scale), features, rois, grad,
                    args.repeat, device, True)
            # plain PyTorch on a subset, scaled; also checks the values
            k_ref = min(args.ref_rois, args.num_rois)
            ref = lambda x, r: prroi_pool_pytorch(  # noqa: E731
                x, r, (size, size), scale)
            ref_times = time_method(ref, features, rois[:k_ref], grad[:k_ref],
                                    1, device, True)
            results[f'pytorch (x{args.num_rois / k_ref:g})'] = {
                k: v * args.num_rois / k_ref
                for k, v in ref_times.items()
            }
            with torch.no_grad():  # in float64: float32 rounding aside
                f64, r64 = features.double(), rois[:k_ref].double()
                diff = (ours(f64, r64) - ref(f64, r64)).abs().max().item()

            print(f'\n[{box_kind} boxes, median side {side:.0f} px = '
                  f'{side / stride:.0f} map px] output {size}x{size}; '
                  f'max |ours - pytorch| (float64) = {diff:.1e}')
            print(f'  {"method":<24}{"fwd (ms)":>10}{"fwd+bwd (ms)":>14}')
            for name, t in results.items():
                print(f'  {name:<24}{t["fwd"] * 1e3:>10.1f}'
                      f'{t["fwd_bwd"] * 1e3:>14.1f}')
            ours_t = results['ours']
            feat_only = results['ours (feat grad only)']
            ref_t = results[f'pytorch (x{args.num_rois / k_ref:g})']
            if 'roi_align' in results:
                ra = results['roi_align']
                print('  ours / roi_align: '
                      f'fwd {ratio(ours_t, ra, "fwd")}, '
                      f'fwd+bwd {ratio(ours_t, ra, "fwd_bwd")} (with coord '
                      f'grad), {ratio(feat_only, ra, "fwd_bwd")} (feat grad '
                      'only)')
            print('  pytorch / ours: '
                  f'fwd {ratio(ref_t, ours_t, "fwd", ".0f")}, '
                  f'fwd+bwd {ratio(ref_t, ours_t, "fwd_bwd", ".0f")}')
            if 'mmcv_prroi' in results:
                mm = results['mmcv_prroi']
                print('  ours / mmcv_prroi: '
                      f'fwd {ratio(ours_t, mm, "fwd")}, '
                      f'fwd+bwd {ratio(ours_t, mm, "fwd_bwd")}')
            report['cases'].append(
                dict(
                    boxes=box_kind,
                    output_size=size,
                    median_side=side,
                    max_abs_diff_float64=diff,
                    pytorch_rois=k_ref,
                    times={
                        ('pytorch' if name.startswith('pytorch') else name): t
                        for name, t in results.items()
                    }))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'\ntimes written to {args.json}')
    return report


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    main()
