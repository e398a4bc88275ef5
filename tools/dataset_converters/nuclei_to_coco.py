# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Turn one annotated image (an image + its instance label mask) into a
tiled COCO data set with fixed folds by position: the real-data benchmark.

The fluorescence nuclei image that the ``stardist`` wheel ships (a real
512x512 image with 125 annotated nuclei) is read straight from the wheel::

    pip download --no-deps stardist==0.9.2 -d /tmp/stardist
    python tools/dataset_converters/nuclei_to_coco.py \
        --stardist-wheel /tmp/stardist/stardist-0.9.2-*.whl \
        --out-dir data/nuclei

or from any pair of files (``--image img.tif --labels mask.tif``; TIFF is
read with ``tifffile``, other formats with OpenCV). Writes
``data/nuclei/images/*.png`` and ``data/nuclei/fold{k}/annotations/
instances_{train,val}.json``; see :mod:`mmdet_gan.datasets.label_mask_tiles`.
"""
import argparse
import glob
import io
import json
import os.path as osp
import zipfile
from typing import List, Optional, Tuple

import numpy as np

from mmdet_gan.datasets.label_mask_tiles import write_tiled_coco
from mmdet_gan.utils.warning_filters import ignore_pkg_resources_deprecation

#: Where the stardist wheel keeps its 2D example image and labels.
STARDIST_IMAGE = 'stardist/data/images/img2d.tif'
STARDIST_LABELS = 'stardist/data/images/mask2d.tif'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='One image + instance label mask -> tiled COCO folds')
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        '--stardist-wheel',
        help='path (or glob) of a downloaded stardist wheel; its 2D example '
        'image and labels are used')
    src.add_argument('--image', help='single-channel image file')
    parser.add_argument('--labels', help='instance label mask of --image')
    parser.add_argument('--out-dir', default='data/nuclei')
    parser.add_argument('--tile-size', type=int, default=128)
    parser.add_argument('--folds', type=int, default=4)
    parser.add_argument('--class-name', default='nucleus')
    parser.add_argument('--min-area', type=int, default=16)
    args = parser.parse_args(argv)
    if args.image and not args.labels:
        parser.error('--image needs --labels')
    return args


def _read(data: bytes, name: str) -> np.ndarray:
    if name.lower().endswith(('.tif', '.tiff')):
        import tifffile
        return tifffile.imread(io.BytesIO(data))
    import cv2
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError(f'cannot decode {name}')
    return array


def read_pair(args: argparse.Namespace) -> Tuple[np.ndarray, np.ndarray]:
    """The image and label mask the arguments name."""
    if args.stardist_wheel:
        matches = sorted(glob.glob(args.stardist_wheel))
        if not matches:
            raise FileNotFoundError(
                f'no stardist wheel at {args.stardist_wheel!r}: download it '
                'with `pip download --no-deps stardist==0.9.2 -d DIR`')
        with zipfile.ZipFile(matches[-1]) as wheel:
            return (_read(wheel.read(STARDIST_IMAGE), STARDIST_IMAGE),
                    _read(wheel.read(STARDIST_LABELS), STARDIST_LABELS))
    pair = []
    for path in (args.image, args.labels):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist')
        with open(path, 'rb') as f:
            pair.append(_read(f.read(), path))
    return pair[0], pair[1]


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    image, labels = read_pair(args)
    manifest = write_tiled_coco(
        image,
        labels,
        args.out_dir,
        tile_size=args.tile_size,
        num_folds=args.folds,
        class_name=args.class_name,
        min_area=args.min_area)
    print(json.dumps(manifest['splits']))
    return manifest


if __name__ == '__main__':
    ignore_pkg_resources_deprecation()
    main()
