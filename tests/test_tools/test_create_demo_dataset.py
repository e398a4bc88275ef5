# Copyright (c) mmdet-gan contributors. All rights reserved.
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from mmdet_gan.datasets import (DEMO_CLASSES, DemoDatasetConfig,
                                create_demo_dataset, generate_image,
                                mask_to_annotation)
from mmdet_gan.datasets.synthetic import MANIFEST_NAME

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL = dict(num_train=6, num_val=3, img_size=128)


def _load_tool():
    path = osp.join(REPO, 'tools', 'dataset_converters',
                    'create_demo_dataset.py')
    spec = importlib.util.spec_from_file_location('create_demo_dataset', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(root):
    """Relative path -> bytes of every file under root."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


@pytest.fixture(scope='module')
def small_dataset(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('demo'))
    assert create_demo_dataset(out, DemoDatasetConfig(**SMALL))
    return out


def test_layout(small_dataset):
    for split, num in (('train', SMALL['num_train']), ('val',
                                                       SMALL['num_val'])):
        assert osp.isfile(
            osp.join(small_dataset, 'annotations', f'instances_{split}.json'))
        assert sorted(os.listdir(osp.join(
            small_dataset, split))) == [f'{i:06d}.png' for i in range(num)]
    with open(osp.join(small_dataset, MANIFEST_NAME)) as f:
        manifest = json.load(f)
    assert manifest['params']['num_train'] == SMALL['num_train']
    assert manifest['classes'] == list(DEMO_CLASSES)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_valid_coco(small_dataset, split):
    coco = COCO(
        osp.join(small_dataset, 'annotations', f'instances_{split}.json'))
    size = SMALL['img_size']
    cats = coco.loadCats(coco.getCatIds())
    assert [c['name'] for c in cats] == list(DEMO_CLASSES)
    assert [c['id'] for c in cats] == [1, 2, 3, 4]

    assert len(coco.getImgIds()) == SMALL[f'num_{split}']
    fill_ratios = []
    for img_id in coco.getImgIds():
        info = coco.imgs[img_id]
        assert (info['height'], info['width']) == (size, size)
        img = cv2.imread(osp.join(small_dataset, split, info['file_name']))
        assert img is not None and img.shape == (size, size, 3)

        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) >= 1
        union = np.zeros((size, size), np.int32)
        for ann in anns:
            assert ann['iscrowd'] == 0
            assert ann['category_id'] in coco.cats
            mask = coco.annToMask(ann)
            assert mask.shape == (size, size)
            assert int(mask.sum()) == ann['area'] > 0
            assert float(mask_utils.area(ann['segmentation'])) == ann['area']
            ys, xs = np.nonzero(mask)
            x, y, w, h = ann['bbox']
            assert [x, y, w, h] == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            assert np.allclose(
                mask_utils.toBbox(ann['segmentation']), ann['bbox'])
            fill_ratios.append(ann['area'] / (w * h))
            union += mask
        # Occlusion is resolved: visible masks never overlap.
        assert union.max() <= 1
    # Masks are not their boxes.
    fill_ratios = np.array(fill_ratios)
    assert (fill_ratios < 0.85).mean() > 0.8


def test_categories_and_sizes_vary():
    out_cfg = DemoDatasetConfig(num_train=1, num_val=1)
    cats, areas = set(), []
    for i in range(20):
        rng = np.random.default_rng([0, 0, i])
        img, instances = generate_image(rng, out_cfg)
        assert img.dtype == np.uint8
        assert img.shape == (out_cfg.img_size, out_cfg.img_size, 3)
        cats.update(inst['category'] for inst in instances)
        areas += [int(inst['mask'].sum()) for inst in instances]
    assert cats == set(range(len(DEMO_CLASSES)))
    assert min(areas) < 300 and max(areas) > 2000


def test_mask_to_annotation_ring():
    mask = np.zeros((20, 30), np.uint8)
    cv2.circle(mask, (15, 10), 8, 1, -1)
    cv2.circle(mask, (15, 10), 4, 0, -1)
    ann = mask_to_annotation(mask)
    assert ann['bbox'] == [7.0, 2.0, 17.0, 17.0]
    assert ann['area'] == int(mask.sum())
    decoded = mask_utils.decode(
        dict(
            size=ann['segmentation']['size'],
            counts=ann['segmentation']['counts'].encode()))
    np.testing.assert_array_equal(decoded, mask)  # the hole is kept


def test_deterministic(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    tool = _load_tool()
    argv = ['--num-train', '3', '--num-val', '2', '--img-size', '96']
    assert tool.main(argv + ['--out-dir', a]) == 0
    assert tool.main(argv + ['--out-dir', b]) == 0
    tree_a, tree_b = _tree(a), _tree(b)
    assert len(tree_a) == 3 + 2 + 2 + 1
    assert tree_a == tree_b
    # Another seed gives other images.
    c = str(tmp_path / 'c')
    assert tool.main(argv + ['--out-dir', c, '--seed', '1']) == 0
    assert _tree(c)['train/000000.png'] != tree_a['train/000000.png']


def test_skip_and_force(tmp_path, capsys):
    out = str(tmp_path / 'demo')
    cfg = DemoDatasetConfig(num_train=3, num_val=2, img_size=96)
    assert create_demo_dataset(out, cfg)
    ann = osp.join(out, 'annotations', 'instances_train.json')
    os.utime(ann, (0, 0))
    # Same parameters: skipped, files untouched.
    assert not create_demo_dataset(out, cfg)
    assert osp.getmtime(ann) == 0

    tool = _load_tool()
    argv = [
        '--out-dir', out, '--num-train', '3', '--num-val', '2', '--img-size',
        '96'
    ]
    assert tool.main(argv) == 0
    assert 'skipped' in capsys.readouterr().out
    assert osp.getmtime(ann) == 0
    # --force regenerates.
    assert tool.main(argv + ['--force']) == 0
    assert osp.getmtime(ann) > 0

    # Other parameters: regenerated, stale images removed.
    assert create_demo_dataset(
        out, DemoDatasetConfig(num_train=2, num_val=2, img_size=96))
    assert sorted(os.listdir(osp.join(
        out, 'train'))) == ['000000.png', '000001.png']
    # A missing image makes it stale too.
    os.remove(osp.join(out, 'val', '000001.png'))
    assert create_demo_dataset(
        out, DemoDatasetConfig(num_train=2, num_val=2, img_size=96))
    assert osp.isfile(osp.join(out, 'val', '000001.png'))


def test_refuses_foreign_data(tmp_path):
    out = tmp_path / 'foreign'
    (out / 'train').mkdir(parents=True)
    (out / 'train' / 'mine.png').write_bytes(b'x')
    cfg = DemoDatasetConfig(num_train=2, num_val=1, img_size=96)
    with pytest.raises(FileExistsError, match='not made by this tool'):
        create_demo_dataset(str(out), cfg)
    assert (out / 'train' / 'mine.png').exists()
    assert create_demo_dataset(str(out), cfg, force=True)
    assert not (out / 'train' / 'mine.png').exists()


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_train=0), 'num_train must be >= 1'),
    (dict(num_val=-1), 'num_val must be >= 1'),
    (dict(img_size=32), r'img_size must be in \[64, 1024\]'),
    (dict(min_objects=0), 'min_objects must be >= 1'),
    (dict(min_objects=3, max_objects=2), r'max_objects \(2\) must be >='),
    (dict(min_visible=0.0), r'min_visible must be in \(0, 1\]'),
    (dict(seed=-1), 'seed must be >= 0'),
    (dict(num_train=2.5), 'num_train must be an int'),
])
def test_bad_args(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_demo_dataset(str(tmp_path / 'x'), DemoDatasetConfig(**kwargs))
    assert not (tmp_path / 'x').exists()


def test_bad_args_cli(tmp_path, capsys):
    tool = _load_tool()
    out = str(tmp_path / 'x')
    assert tool.main(['--out-dir', out, '--num-train', '0']) == 2
    err = capsys.readouterr().err
    assert 'error: num_train must be >= 1, got 0' in err
    with pytest.raises(SystemExit):
        tool.main(['--out-dir', out, '--img-size', 'big'])
    assert 'invalid int value' in capsys.readouterr().err
    assert not osp.exists(out)
