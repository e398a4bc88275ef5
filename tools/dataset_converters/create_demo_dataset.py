# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Generate the synthetic COCO-format demo dataset.

Example:
    python tools/dataset_converters/create_demo_dataset.py
    python tools/dataset_converters/create_demo_dataset.py \
        --out-dir data/demo_small --num-train 20 --num-val 5 --force

Images are drawn from a seeded generator: the same arguments give the same
files. If ``--out-dir`` already holds a dataset made with the same arguments
the tool does nothing (``--force`` regenerates). See
:mod:`mmdet_gan.datasets.synthetic` for what the images contain.
"""
import argparse
import sys
from typing import List, Optional

from mmdet_gan.datasets import DemoDatasetConfig, create_demo_dataset
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    defaults = DemoDatasetConfig()
    parser = argparse.ArgumentParser(
        description='Generate the synthetic COCO-format instance '
        'segmentation demo dataset (deterministic).')
    parser.add_argument('--out-dir', default='data/demo', help='output folder')
    parser.add_argument(
        '--num-train',
        type=int,
        default=defaults.num_train,
        help='number of training images')
    parser.add_argument(
        '--num-val',
        type=int,
        default=defaults.num_val,
        help='number of validation images')
    parser.add_argument(
        '--img-size',
        type=int,
        default=defaults.img_size,
        help='side of the square images in pixels')
    parser.add_argument(
        '--min-objects',
        type=int,
        default=defaults.min_objects,
        help='fewest objects drawn per image')
    parser.add_argument(
        '--max-objects',
        type=int,
        default=defaults.max_objects,
        help='most objects drawn per image (before dropping hidden ones)')
    parser.add_argument(
        '--min-visible',
        type=float,
        default=defaults.min_visible,
        help='drop objects with less than this fraction visible')
    parser.add_argument(
        '--seed', type=int, default=defaults.seed, help='random seed')
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if the dataset is up to date')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = DemoDatasetConfig(
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.img_size,
        min_objects=args.min_objects,
        max_objects=args.max_objects,
        min_visible=args.min_visible,
        seed=args.seed)
    try:
        create_demo_dataset(args.out_dir, cfg, force=args.force, verbose=True)
    except (ValueError, FileExistsError) as e:
        print(f'create_demo_dataset.py: error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    sys.exit(main())
