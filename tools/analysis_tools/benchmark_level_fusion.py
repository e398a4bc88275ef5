# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Max over FPN levels of Precise RoI Pooling: chained ``torch.maximum``
against the fused :func:`mmdet_gan.ops.multi_level_max_prroi_pool`.

This is the pooler of the reference GAN Mask R-CNN
(``MultiLevelMaxRoIExtractor`` with ``PrRoIPool`` layers). For the box
discriminator's fake boxes it runs on detached features with a gradient to
the box coordinates only, which is what is timed here (``--feature-grad``
adds the feature gradient). One run prints, for both versions, the best
forward+backward time of ``--repeat`` runs and the bytes autograd keeps for
the backward pass (``saved_tensors_hooks``, each storage counted once), and
their ratios.

Example::

    python tools/analysis_tools/benchmark_level_fusion.py --device cpu \\
        --num-rois 32 --channels 128 --image-size 192 192
"""
import argparse
from typing import Callable, Dict, List, Sequence

import torch
from torch import Tensor

from mmdet_gan.ops import multi_level_max_prroi_pool, prroi_pool
from mmdet_gan.utils.benchmarking import best_time, random_rois
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--num-rois',
        type=int,
        default=32,
        help='RoIs (discriminator samples)')
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument(
        '--image-size',
        type=int,
        nargs=2,
        default=[800, 1344],
        metavar=('H', 'W'),
        help='padded input image (one image)')
    parser.add_argument(
        '--strides',
        type=int,
        nargs='+',
        default=[4, 8, 16, 32],
        help='strides of the fused levels')
    parser.add_argument('--output-size', type=int, default=28)
    parser.add_argument(
        '--feature-grad',
        action='store_true',
        help='also back-propagate to the features (the GAN detaches them)')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.num_rois < 1 or args.repeat < 1 or args.output_size < 1:
        parser.error('--num-rois, --repeat and --output-size must be >= 1')
    if not args.strides:
        parser.error('--strides needs at least one stride')
    return args


def chained_maximum(feats: List[Tensor], rois: Tensor, output_size: int,
                    scales: List[float]) -> Tensor:
    """``torch.maximum`` over :func:`prroi_pool` of each level (what
    ``MultiLevelMaxRoIExtractor`` did before the fused op)."""
    out = None
    for feat, scale in zip(feats, scales):
        pooled = prroi_pool(feat, rois, output_size, scale)
        out = pooled if out is None else torch.maximum(out, pooled)
    return out


def fused_maximum(feats: List[Tensor], rois: Tensor, output_size: int,
                  scales: List[float]) -> Tensor:
    return multi_level_max_prroi_pool(feats, rois, output_size, scales)


def kept_bytes(pool: Callable, feats: List[Tensor], rois: Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of one
    call, each storage once (the inputs, which exist anyway, left out)."""
    inputs = {t.untyped_storage().data_ptr() for t in [*feats, rois]}
    storages: Dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in inputs:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = pool(feats, rois)
    del out
    return sum(storages.values())


def benchmark(args: argparse.Namespace) -> Dict[str, Dict[str, float]]:
    """Time and kept bytes of both versions; also checks they agree."""
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    height, width = args.image_size
    feats = [
        torch.randn(
            1, args.channels, -(-height // s), -(-width // s),
            generator=gen).to(args.device) for s in args.strides
    ]
    scales = [1. / s for s in args.strides]
    # sides log-uniform from 16 px to the image's short side
    rois = random_rois(args.num_rois, (height, width),
                       (16., min(height, width)), gen).to(args.device)
    grad = torch.randn(
        args.num_rois,
        args.channels,
        args.output_size,
        args.output_size,
        generator=gen).to(args.device)
    results = {}
    outputs = {}
    for name, fn in (('chained', chained_maximum), ('fused', fused_maximum)):

        def pool(f, r, fn=fn):
            return fn(f, r, args.output_size, scales)

        def step(pool=pool, name=name):
            x = [f.detach().requires_grad_(args.feature_grad) for f in feats]
            r = rois.detach().requires_grad_()
            out = pool(x, r)
            out.backward(grad)
            outputs[name] = (out.detach(), r.grad)

        x = [f.detach().requires_grad_(args.feature_grad) for f in feats]
        results[name] = dict(
            fwd_bwd_ms=best_time(step, args.repeat, args.device) * 1e3,
            kept_mib=kept_bytes(pool, x,
                                rois.detach().requires_grad_()) / 2**20)
    for a, b in zip(outputs['chained'], outputs['fused']):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    return results


def format_report(args: argparse.Namespace,
                  results: Dict[str, Dict[str, float]]) -> str:
    chained, fused = results['chained'], results['fused']
    grads = 'coordinates and features' if args.feature_grad else \
        'coordinates only (detached features)'
    lines = [
        f'device: {args.device}; torch {torch.__version__}, '
        f'{torch.get_num_threads()} intra-op threads',
        f'{args.num_rois} RoIs, {args.channels} channels, '
        f'{args.output_size}x{args.output_size}, levels of strides '
        f'{args.strides} of a {args.image_size[0]}x{args.image_size[1]} '
        f'image; gradient to the {grads}; best of {args.repeat}',
        f'  {"version":<10}{"fwd+bwd (ms)":>14}{"kept for bwd (MiB)":>20}',
    ]
    for name, res in results.items():
        lines.append(f'  {name:<10}{res["fwd_bwd_ms"]:>14.1f}'
                     f'{res["kept_mib"]:>20.1f}')
    time_ratio = fused['fwd_bwd_ms'] / chained['fwd_bwd_ms']
    memory_ratio = fused['kept_mib'] / chained['kept_mib']
    lines.append(f'  fused / chained: time {time_ratio:.2f}x, kept memory '
                 f'{memory_ratio:.2f}x')
    return '\n'.join(lines)


def main(argv: Sequence[str] = None) -> Dict[str, Dict[str, float]]:
    args = parse_args(argv)
    results = benchmark(args)
    print(format_report(args, results))
    return results


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    main()
