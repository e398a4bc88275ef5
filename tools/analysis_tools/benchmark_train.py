# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Training cost of GAN Mask R-CNN against its Mask R-CNN baseline.

A command line over :mod:`mmdet_gan.benchmark` (what is measured and how:
``mmdet_gan/benchmark/train.py``; the report format: ``report.py``). Both
models are built from their configs with the same seed and run on the same
batches, interleaved; it prints, per model, the time per training and
inference iteration (median and IQR of wall and process CPU time), the
GAN/baseline ratios, the peak training memory, whether the ratios are
within ``--target``, the step breakdown (from the ``torch.profiler`` ranges
of ``mmdet_gan.utils.profiling``, in as many separate profiled iterations
as timed ones) and the GAN step's top operators.

Example::

    python tools/analysis_tools/benchmark_train.py
    python tools/analysis_tools/benchmark_train.py --iters 5 --warmup 1 \\
        --cfg-options model.roi_head.num_adv_samples=16
    python tools/analysis_tools/benchmark_train.py --data-root data/demo/
    python tools/analysis_tools/benchmark_train.py --data-root data/demo/ \\
        --threads 1 --iters 20 --same-work
    python tools/analysis_tools/benchmark_train.py --threads 1 --iters 4 \\
        --warmup 1 --infer-iters 0 --cfg-options \\
        model.roi_head.adv_box_roi_extractor.levels=[3] \\
        model.roi_head.adv_mask_roi_extractor.levels=[3]

With ``--same-work`` every measured round starts both models from one
saved state, the GAN's generator holding the baseline's weights, with the
RNGs seeded per batch: the generators sample the same proposals and RoIs,
so the ratios measure the adversarial part alone, without the drift of two
models that train apart (``mmdet_gan/benchmark/replay.py``).

Without ``--data-root`` (or if it does not exist) the batches come from
``mmdet.testing.demo_mm_inputs`` (``--batch-size`` images of
``--img-size`` px (one side: square; two: height and width), ``--num-gts``
objects with masks each (several values: cycled over the images), the
configs' number of classes). At COCO scale, e.g.::

    python tools/analysis_tools/benchmark_train.py --threads 1 \\
        --gan-config configs/gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py \\
        --base-config $(python -c "import mmdet, os; print(os.path.join(\\
            os.path.dirname(mmdet.__file__), '.mim/configs/mask_rcnn/\\
mask-rcnn_r50_fpn_1x_coco.py'))") \\
        --img-size 800 1333 --batch-size 2 --num-gts 8 15 --iters 3 \\
        --warmup 1 --infer-iters 0 --target 1.03 \\
        --shared-cfg-options model.backbone.init_cfg=None
"""
import argparse
import json
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction

from mmdet_gan.benchmark import (TrainBenchmarkOptions, check_ratios,
                                 run_train_benchmark)
from mmdet_gan.benchmark.report import format_report
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_GAN_CONFIG = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                              'gan_mask_rcnn_r18_fpn_demo.py')
DEFAULT_BASE_CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                               'mask_rcnn_r18_fpn_demo.py')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the command line (``None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        description='Time and memory of GAN Mask R-CNN training against '
        'its Mask R-CNN baseline, on the same batches')
    parser.add_argument(
        '--gan-config', default=DEFAULT_GAN_CONFIG, help='GAN config file')
    parser.add_argument(
        '--base-config',
        default=DEFAULT_BASE_CONFIG,
        help='baseline (Mask R-CNN) config file')
    parser.add_argument(
        '--iters',
        type=int,
        default=10,
        help='timed training iterations per model (as many profiled ones '
        'follow them for the step breakdown)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=3,
        help='untimed training iterations per model before the timed ones')
    parser.add_argument(
        '--infer-iters',
        type=int,
        default=3,
        help='timed inference iterations per model (after --warmup '
        'untimed ones, at most 1); 0 skips the inference timing (it does '
        'not depend on --cfg-options)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument(
        '--data-root',
        default=None,
        help='if given and existing, take the batches from the GAN '
        'config\'s train_dataloader with this data_root (num_workers=0)')
    parser.add_argument(
        '--batch-size', type=int, default=4, help='images per batch')
    parser.add_argument(
        '--img-size',
        type=int,
        nargs='+',
        default=[192],
        help='side of the square demo_mm_inputs images (the demo data is '
        '192 px), or their height and width (COCO: 800 1333)')
    parser.add_argument(
        '--num-gts',
        type=int,
        nargs='+',
        default=[4],
        help='objects (with masks) per demo_mm_inputs image; several '
        'values are cycled over the images (e.g. 8 15)')
    parser.add_argument(
        '--num-batches',
        type=int,
        default=4,
        help='distinct batches, cycled over the iterations')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch.set_num_threads for the run (default: torch\'s); '
        'with 1 the CPU-time ratio is the least sensitive to other '
        'processes on a shared machine')
    parser.add_argument(
        '--same-work',
        action='store_true',
        help='after the warm-up, start every measured round from the saved '
        'post-warm-up state, the GAN\'s generator holding the baseline\'s '
        'weights, with the RNGs seeded per batch: both generators sample '
        'the same proposals and RoIs, so the ratios measure the adversarial '
        'part alone (mmdet_gan/benchmark/replay.py); without it each model '
        'trains on and their work drifts apart')
    parser.add_argument(
        '--json', default=None, help='also write the results to this file')
    parser.add_argument(
        '--top-ops',
        type=int,
        default=8,
        help='operators of the profiled GAN step to list (0: none)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the GAN config (not the baseline), '
        'e.g. model.roi_head.num_adv_samples=32 '
        'model.roi_head.adv_box_roi_extractor.levels=[0]')
    parser.add_argument(
        '--target',
        type=float,
        default=1.10,
        help='the GAN/baseline ratio of training time and of memory to check '
        '(the report says whether each is within it)')
    parser.add_argument(
        '--shared-cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of both configs (applied before '
        '--cfg-options), e.g. model.train_cfg.rcnn.sampler.num=128')
    args = parser.parse_args(argv)
    for name in ('iters', 'batch_size', 'num_batches'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if len(args.img_size) > 2 or min(args.img_size) < 1:
        parser.error('--img-size takes one side or a height and a width, '
                     f'each >= 1, got {args.img_size}')
    if min(args.num_gts) < 0:
        parser.error(f'--num-gts must be >= 0, got {args.num_gts}')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    if not args.target > 0:
        parser.error(f'--target must be > 0, got {args.target}')
    for name in ('warmup', 'infer_iters', 'top_ops'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    for name in ('gan_config', 'base_config'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'--{name.replace("_", "-")}: no such file '
                         f'{getattr(args, name)}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Entry point: runs the benchmark, prints the report and returns the
    results (see ``mmdet_gan.benchmark.run_train_benchmark``)."""
    args = vars(parse_args(argv))
    json_path = args.pop('json')
    res = run_train_benchmark(
        TrainBenchmarkOptions(**args, display_root=REPO_ROOT))
    print(format_report(res), flush=True)
    if json_path:
        with open(json_path, 'w') as f:
            json.dump(res, f, indent=2)
    check_ratios(res)
    return res


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    main()
    sys.exit(0)
