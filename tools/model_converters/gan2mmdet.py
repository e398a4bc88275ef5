# Copyright (c) mmdet-gan contributors.
"""Strip the discriminators from a GAN Mask R-CNN checkpoint, so it loads
into a stock MMDetection Mask R-CNN (for deployment with plain MMDetection).

Usage: python tools/model_converters/gan2mmdet.py CKPT OUT

OUT is written atomically, as the checkpoints are: a failed or interrupted
conversion leaves a previous OUT as it was and no partial file.
"""
import argparse
import io

import torch

import mmdet_gan  # noqa: F401  (safe checkpoint loading)
from mmdet_gan.utils.atomic_io import atomic_write_bytes
from mmdet_gan.utils.checkpoint_convert import strip_discriminators
from mmdet_gan.utils.checkpoint_safety import load_from_local_safe
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a GAN Mask R-CNN checkpoint to a stock '
        'MMDetection Mask R-CNN checkpoint')
    parser.add_argument('checkpoint', help='GAN Mask R-CNN checkpoint')
    parser.add_argument('out', help='output checkpoint path')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    checkpoint = load_from_local_safe(args.checkpoint, map_location='cpu')
    converted, num_removed = strip_discriminators(checkpoint)
    if num_removed == 0:
        print(f'{args.checkpoint} has no discriminator weights: it already '
              'is a stock checkpoint; writing it unchanged')
    # serialised in memory first: nothing touches OUT unless it all worked
    buffer = io.BytesIO()
    torch.save(converted, buffer)
    atomic_write_bytes(buffer.getvalue(), args.out)  # creates the folders
    print(f'removed {num_removed} discriminator entries; kept '
          f'{len(converted["state_dict"])}; saved {args.out}')


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    main()
