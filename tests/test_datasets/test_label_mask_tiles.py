import json
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmdet_gan.datasets.label_mask_tiles import (fold_of_column, to_uint8_rgb,
                                                 write_tiled_coco)


def labelled_image():
    """256x256: instance 1 inside tile (0, 0), instance 2 straddling the
    border between tile columns 0 and 1 (30 + 20 pixels wide), instance 3
    in tile (1, 1), and a 2x2 speck (4) that min_area drops."""
    labels = np.zeros((256, 256), np.uint16)
    labels[10:30, 10:40] = 1
    labels[60:80, 98:148] = 2
    labels[150:170, 200:230] = 3
    labels[200:202, 20:22] = 4
    image = (labels > 0).astype(np.uint16) * 200 + 10
    return image, labels


def decode(ann, shape=(128, 128)):
    return mask_utils.decode(ann['segmentation']).astype(bool)


def test_tiles_folds_and_exact_masks(tmp_path):
    image, labels = labelled_image()
    manifest = write_tiled_coco(
        image, labels, str(tmp_path), tile_size=128, num_folds=2, min_area=16)
    counts = {
        (s['fold'], s['split']): (s['images'], s['instances'])
        for s in manifest['splits']
    }
    # fold 0 validates on tile column 0 (instances 1 and the left part of 2)
    assert counts[(0, 'val')] == (2, 2)
    assert counts[(0, 'train')] == (2, 2)  # right part of 2, and 3
    assert counts[(1, 'val')] == (2, 2)
    ann_file = osp.join(
        str(tmp_path), 'fold0', 'annotations', 'instances_val.json')
    with open(ann_file) as f:
        coco = json.load(f)
    assert coco['categories'] == [dict(id=1, name='nucleus')]
    names = {img['id']: img['file_name'] for img in coco['images']}
    assert sorted(names.values()) == ['r0_c0.png', 'r1_c0.png']
    areas = sorted(ann['area'] for ann in coco['annotations'])
    assert areas == [20 * 30, 20 * 30]  # instance 1; 2's left 30 columns
    for ann in coco['annotations']:
        mask = decode(ann)
        assert mask.sum() == ann['area']
        x, y, w, h = ann['bbox']
        ys, xs = np.nonzero(mask)
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                ys.max() - ys.min() + 1)
    # the straddling instance: its two parts add up to the whole
    with open(
            osp.join(
                str(tmp_path), 'fold0', 'annotations',
                'instances_train.json')) as f:
        train = json.load(f)
    right = [a for a in train['annotations'] if a['area'] == 20 * 20]
    assert len(right) == 1
    assert osp.isfile(osp.join(str(tmp_path), 'images', 'r1_c1.png'))


def test_fold_of_column_and_normalisation():
    assert [fold_of_column(c, 4, 4) for c in range(4)] == [0, 1, 2, 3]
    assert [fold_of_column(c, 4, 2) for c in range(4)] == [0, 0, 1, 1]
    rgb = to_uint8_rgb(np.arange(1000, dtype=np.uint16).reshape(10, 100))
    assert rgb.shape == (10, 100, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_bad_arguments(tmp_path):
    image, labels = labelled_image()
    with pytest.raises(ValueError, match='num_folds must be in'):
        write_tiled_coco(image, labels, str(tmp_path), num_folds=3)
    with pytest.raises(ValueError, match='same shape'):
        write_tiled_coco(image[:100], labels, str(tmp_path))
    with pytest.raises(ValueError, match='tile_size'):
        write_tiled_coco(image, labels, str(tmp_path), tile_size=512)
