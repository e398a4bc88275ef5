# Copyright (c) mmdet-gan contributors. All rights reserved.
"""COCO writing of the synthetic demo dataset: one split's PNG images and
its annotation dict (compressed-RLE masks, exact ``area`` and ``bbox``)."""
import json
import os
import os.path as osp
from typing import Dict, List

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .config import DemoDatasetConfig
from .rendering import DEMO_CLASSES, generate_image

SPLITS = ('train', 'val')
_SPLIT_SEED = {'train': 0, 'val': 1}
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]


def mask_to_annotation(mask: np.ndarray) -> Dict:
    """COCO ``segmentation`` (compressed RLE), ``area`` and ``bbox``.

    Args:
        mask (np.ndarray): (H, W) binary mask, not empty.

    Returns:
        dict: ``segmentation`` ({'size': [H, W], 'counts': str}), ``area``
        (int, pixel count) and ``bbox`` ([x, y, w, h] of the mask's pixels,
        as pycocotools' ``toBbox`` computes it).
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [
        float(x0),
        float(y0),
        float(xs.max() - x0 + 1),
        float(ys.max() - y0 + 1)
    ]
    return dict(
        segmentation=dict(
            size=[int(v) for v in rle['size']],
            counts=rle['counts'].decode('ascii')),
        area=int(mask.sum()),
        bbox=bbox)


def coco_categories() -> List[Dict]:
    """COCO ``categories`` of :data:`DEMO_CLASSES` (ids from 1)."""
    return [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(DEMO_CLASSES)
    ]


def write_split(split: str, num_images: int, cfg: DemoDatasetConfig,
                out_dir: str) -> Dict:
    """Draw and write one split's images, ``{out_dir}/{split}/%06d.png``.

    Image ``i`` of a split is drawn from its own random stream (seeded with
    ``cfg.seed``, the split and ``i``), so it does not depend on the number
    of images.

    Args:
        split (str): ``'train'`` or ``'val'``.
        num_images (int): Number of images.
        cfg (DemoDatasetConfig): Dataset parameters.
        out_dir (str): Dataset folder.

    Returns:
        dict: The split's COCO dict (``info``, ``licenses``, ``images``,
        ``annotations``, ``categories``); write it with
        :func:`write_ann_file`.
    """
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for idx in range(num_images):
        # One independent stream per image: image i is the same whatever
        # the number of images, and generation order does not matter.
        rng = np.random.default_rng([cfg.seed, _SPLIT_SEED[split], idx])
        img, instances = generate_image(rng, cfg)
        file_name = f'{idx:06d}.png'
        ok, buf = cv2.imencode('.png', img[..., ::-1], _PNG_PARAMS)
        if not ok:  # pragma: no cover
            raise RuntimeError(f'cv2 failed to encode {file_name}')
        with open(osp.join(img_dir, file_name), 'wb') as f:
            f.write(buf.tobytes())
        image_id = idx + 1
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=cfg.img_size,
                height=cfg.img_size))
        for inst in instances:
            ann = mask_to_annotation(inst['mask'])
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=inst['category'] + 1,
                    iscrowd=0,
                    **ann))
    return dict(
        info=dict(
            description=f'mmdet-gan synthetic demo dataset ({split})',
            version=str(cfg.version)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=coco_categories())


def ann_file(out_dir: str, split: str) -> str:
    """Path of a split's COCO annotation file."""
    return osp.join(out_dir, 'annotations', f'instances_{split}.json')


def write_ann_file(coco: Dict, path: str) -> None:
    """Write a COCO dict as compact json (no spaces)."""
    with open(path, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
