# Copyright (c) mmdet-gan contributors. All rights reserved.
"""A COCO instance-segmentation data set from one image and its instance
label mask, cut into tiles, with a fixed train/val split by position.

Made for real annotated microscopy images such as the fluorescence nuclei
image that the ``stardist`` wheel ships (``stardist/data/images/img2d.tif``
and ``mask2d.tif``: 512x512, 125 nuclei): a data set too small to split at
random without leaking, so it is split into ``num_folds`` folds of tile
columns. Fold ``k`` validates on the tiles of column group ``k`` and trains
on the others; every fold's annotation files share one folder of tile
images.

Layout written under ``out_dir``::

    images/r{row}_c{col}.png            one 8-bit RGB image per tile
    fold{k}/annotations/instances_train.json
    fold{k}/annotations/instances_val.json
    manifest.json                       the arguments and the counts

Instances cut by a tile's border keep their part inside the tile when it has
at least ``min_area`` pixels. A nucleus that straddles a train tile and a
val tile appears, cut, in both: the folds are honest about position, not
about every pixel.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .synthetic import mask_to_annotation


def to_uint8_rgb(image: np.ndarray,
                 low: float = 1.,
                 high: float = 99.8) -> np.ndarray:
    """Percentile-normalise a single-channel image to 8-bit RGB.

    Args:
        image (np.ndarray): (H, W) image of any numeric dtype.
        low (float): Percentile mapped to 0. Defaults to 1.
        high (float): Percentile mapped to 255. Defaults to 99.8.

    Returns:
        np.ndarray: (H, W, 3) uint8, the grey value in every channel.
    """
    if image.ndim != 2:
        raise ValueError(f'expected a single-channel (H, W) image, got shape '
                         f'{image.shape}')
    lo, hi = np.percentile(image, [low, high])
    scaled = (image.astype(np.float64) - lo) / max(hi - lo, 1e-12)
    grey = np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def tile_grid(height: int, width: int,
              tile_size: int) -> List[Tuple[int, int, int, int]]:
    """The non-overlapping tiles that cover the image's full-tile area.

    Returns:
        list[tuple[int, int, int, int]]: ``(row, col, y0, x0)`` per tile, row
        by row.
    """
    if tile_size < 1 or tile_size > min(height, width):
        raise ValueError(f'tile_size must be in [1, {min(height, width)}] '
                         f'for a {height}x{width} image, got {tile_size}')
    return [(r, c, r * tile_size, c * tile_size)
            for r in range(height // tile_size)
            for c in range(width // tile_size)]


def tile_instances(labels: np.ndarray, min_area: int) -> List[Dict]:
    """COCO annotations (without ids) of the instances of one label tile.

    Args:
        labels (np.ndarray): (h, w) instance ids, 0 = background.
        min_area (int): Instances with fewer pixels in the tile are dropped.

    Returns:
        list[dict]: ``segmentation`` (RLE), ``area``, ``bbox`` per instance,
        ordered by instance id.
    """
    anns = []
    for inst_id in np.unique(labels):
        if inst_id == 0:
            continue
        mask = labels == inst_id
        if mask.sum() < min_area:
            continue
        anns.append(mask_to_annotation(mask))
    return anns


def fold_of_column(col: int, num_cols: int, num_folds: int) -> int:
    """The fold whose validation set holds tile column ``col``: the columns
    split into ``num_folds`` contiguous groups."""
    return col * num_folds // num_cols


def write_tiled_coco(image: np.ndarray,
                     labels: np.ndarray,
                     out_dir: str,
                     tile_size: int = 128,
                     num_folds: int = 4,
                     class_name: str = 'nucleus',
                     min_area: int = 16) -> Dict:
    """Cut ``image`` / ``labels`` into tiles and write the COCO folds.

    Args:
        image (np.ndarray): (H, W) single-channel image.
        labels (np.ndarray): (H, W) instance label mask, 0 = background.
        out_dir (str): Output folder (created).
        tile_size (int): Side of the square tiles. Defaults to 128.
        num_folds (int): Folds of tile columns (2 <= num_folds <= number of
            tile columns). Defaults to 4.
        class_name (str): The one category's name. Defaults to 'nucleus'.
        min_area (int): Smallest kept instance part, in pixels.

    Returns:
        dict: The manifest (also written to ``manifest.json``).
    """
    if image.shape != labels.shape or image.ndim != 2:
        raise ValueError(f'image and labels must be (H, W) of the same '
                         f'shape, got {image.shape} and {labels.shape}')
    grid = tile_grid(*image.shape, tile_size)
    num_cols = image.shape[1] // tile_size
    if not 2 <= num_folds <= num_cols:
        raise ValueError(f'num_folds must be in [2, {num_cols}] (tile '
                         f'columns) for tile_size={tile_size}, got '
                         f'{num_folds}')
    import cv2
    rgb = to_uint8_rgb(image)
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    tiles = []
    for row, col, y0, x0 in grid:
        name = f'r{row}_c{col}.png'
        crop = rgb[y0:y0 + tile_size, x0:x0 + tile_size]
        cv2.imwrite(osp.join(out_dir, 'images', name), crop[..., ::-1])
        tiles.append(
            dict(
                file_name=name,
                fold=fold_of_column(col, num_cols, num_folds),
                anns=tile_instances(
                    labels[y0:y0 + tile_size, x0:x0 + tile_size], min_area)))
    categories = [dict(id=1, name=class_name)]
    counts = []
    for fold in range(num_folds):
        ann_dir = osp.join(out_dir, f'fold{fold}', 'annotations')
        os.makedirs(ann_dir, exist_ok=True)
        for split in ('train', 'val'):
            chosen = [
                t for t in tiles if (t['fold'] == fold) == (split == 'val')
            ]
            coco = _coco_dict(chosen, tile_size, categories)
            with open(osp.join(ann_dir, f'instances_{split}.json'), 'w') as f:
                json.dump(coco, f)
            counts.append(
                dict(
                    fold=fold,
                    split=split,
                    images=len(coco['images']),
                    instances=len(coco['annotations'])))
    manifest = dict(
        image_shape=list(image.shape),
        tile_size=tile_size,
        num_folds=num_folds,
        class_name=class_name,
        min_area=min_area,
        splits=counts)
    with open(osp.join(out_dir, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    return manifest


def _coco_dict(tiles: Sequence[Dict], tile_size: int,
               categories: List[Dict]) -> Dict:
    images, annotations = [], []
    for img_id, tile in enumerate(tiles, start=1):
        images.append(
            dict(
                id=img_id,
                file_name=tile['file_name'],
                height=tile_size,
                width=tile_size))
        for ann in tile['anns']:
            annotations.append(
                dict(
                    ann,
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=1,
                    iscrowd=0))
    return dict(images=images, annotations=annotations, categories=categories)
