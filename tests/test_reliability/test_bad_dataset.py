"""Bad dataset input (issue 6) with the GAN demo config.

Where MMDetection goes on (images without annotations, crowd-only images,
zero-width/height boxes, polygons with fewer than 3 points, masks partly
outside the image, category ids outside the config), GAN training goes on
with finite losses, including a batch with no usable instance at all (the
adversarial branch gets no sample). Where MMDetection fails late or not at
all (an instance without a mask, class names the file does not have, an
empty data set), the run stops before the first iteration with a message
naming the field and the fix.
"""
import copy
import json
import math
import os.path as osp
import re

import pytest
import torch
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.runner import Runner

from mmdet_gan.utils.dataset_check import (DatasetCheckError,
                                           check_detection_dataset,
                                           explain_dataset_error)
from .utils import write_small_gan_config

pytestmark = pytest.mark.slow


@pytest.fixture
def one_thread():
    """Tiny models run 5-40x faster single-threaded on the shared 2-core
    machine (see utils.run_train)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_coco(data_root):
    with open(osp.join(data_root, 'annotations', 'instances_train.json')) as f:
        return json.load(f)


def box_polygon(x, y, w, h):
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def bad_annotations(data_root):
    """Six images of the tiny demo data with hand-made annotations, in
    this order (the tests read them unshuffled, two per batch):

    1. crowd only; 2. only zero-width / zero-height boxes (so batch 1 has no
    usable instance); 3. a 2-point polygon next to its real objects; 4. two
    boxes and masks partly outside the image; 5. category ids 99 (not in the
    file) and 5 (in the file, not in the config) next to its real objects;
    6. no annotation at all.
    """
    coco = tiny_coco(data_root)
    images = coco['images'][:6]
    real = {
        img['id']:
        [a for a in coco['annotations'] if a['image_id'] == img['id']]
        for img in images
    }
    anns = []

    def add(img, cat, bbox, seg, crowd=0, area=None):
        anns.append(
            dict(
                id=len(anns) + 1,
                image_id=img['id'],
                category_id=cat,
                iscrowd=crowd,
                bbox=bbox,
                segmentation=seg,
                area=bbox[2] * bbox[3] if area is None else area))

    def add_real(img):
        for a in real[img['id']]:
            add(img,
                a['category_id'],
                a['bbox'],
                a['segmentation'],
                area=a['area'])

    add(images[0], 1, [10, 10, 40, 40], box_polygon(10, 10, 40, 40), crowd=1)
    add(images[1], 2, [20, 20, 0, 30], box_polygon(20, 20, 0, 30), area=0)
    add(images[1], 3, [20, 20, 30, 0], box_polygon(20, 20, 30, 0), area=0)
    add(images[2], 1, [30, 30, 20, 20], [[30, 30, 50, 50]])
    add_real(images[2])
    add(images[3], 2, [100, 100, 60, 60], box_polygon(100, 100, 60, 60))
    add(images[3], 3, [-20, -10, 50, 40], box_polygon(-20, -10, 50, 40))
    add(images[4], 99, [10, 10, 40, 40], box_polygon(10, 10, 40, 40))
    add(images[4], 5, [60, 60, 30, 30], box_polygon(60, 60, 30, 30))
    add_real(images[4])
    categories = coco['categories'] + [
        dict(id=5, name='triangle', supercategory='shape')
    ]
    return dict(images=images, annotations=anns, categories=categories)


def write_json(content, path):
    with open(path, 'w') as f:
        json.dump(content, f)
    return str(path)


def small_cfg(tmp_path, data_root, ann_file, **kwargs):
    path = write_small_gan_config(
        str(tmp_path / 'small_gan.py'),
        data_root,
        ann_file=ann_file,
        num_images=None,
        max_epochs=1,
        shuffle=False,
        flip=False,
        **kwargs)
    cfg = Config.fromfile(path)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = tmp_path.name  # own logger and message hub
    return cfg


def test_bad_annotations_train_with_finite_losses(tiny_demo_data, tmp_path,
                                                  one_thread):
    ann_file = write_json(
        bad_annotations(tiny_demo_data), tmp_path / 'bad.json')
    cfg = small_cfg(tmp_path, tiny_demo_data, ann_file, filter_empty_gt=False)
    runner = Runner.from_cfg(cfg)
    dataset = runner.train_dataloader.dataset
    # what MMDetection kept of each image (zero-size boxes and unknown
    # categories are dropped; the crowd box is kept as ignored)
    coco = tiny_coco(tiny_demo_data)
    num_real = [
        sum(a['image_id'] == img['id'] for a in coco['annotations'])
        for img in coco['images'][:6]
    ]
    instances = [dataset.get_data_info(i)['instances'] for i in range(6)]
    assert [len(i)
            for i in instances] == [1, 0, 1 + num_real[2], 2, num_real[4], 0]
    assert instances[0][0]['ignore_flag'] == 1
    assert not any(i['bbox_label'] >= 4 for i in instances[4])
    # the 2-point polygon's instance is ignored by LoadAnnotations
    packed = dataset[2]['data_samples']
    assert len(packed.ignored_instances) == 1
    assert len(packed.gt_instances) == len(instances[2]) - 1

    runner.train()

    hub = runner.message_hub
    assert runner.iter == 3
    losses = {
        key[len('train/'):]: hub.get_scalar(key).data[0]
        for key in hub.log_scalars if key.startswith('train/loss')
    }
    for name in ('loss', 'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask',
                 'loss_adv_g_box', 'loss_adv_g_mask', 'loss_adv_d_box',
                 'loss_adv_d_mask'):
        values = losses[name]
        assert len(values) == 3, name
        assert all(math.isfinite(v) for v in values), (name, values)
    # batch 1 (crowd-only + zero-size boxes) has no positive: the
    # adversarial terms are exactly 0; batches 2 and 3 train both players
    for name in ('loss_adv_g_box', 'loss_adv_g_mask', 'loss_adv_d_box'):
        assert losses[name][0] == 0, name
        assert all(v != 0 for v in losses[name][1:]), name


def test_instance_without_mask_stops_before_the_first_iteration(
        tiny_demo_data, tmp_path, one_thread):
    coco = tiny_coco(tiny_demo_data)
    coco['annotations'][3].pop('segmentation')
    ann_file = write_json(coco, tmp_path / 'no_segmentation.json')
    image = next(img['file_name'] for img in coco['images']
                 if img['id'] == coco['annotations'][3]['image_id'])
    cfg = small_cfg(tmp_path, tiny_demo_data, ann_file)

    # MMDetection alone: KeyError('mask') from a data loader worker, in
    # the middle of an epoch
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    index = next(
        i for i in range(len(dataset))
        if osp.basename(dataset.get_data_info(i)['img_path']) == image)
    with pytest.raises(KeyError, match='mask'):
        dataset[index]

    runner = Runner.from_cfg(cfg)
    with pytest.raises(DatasetCheckError) as err:
        runner.train()
    message = str(err.value)
    assert 'has no or an empty "segmentation"' in message
    assert image in message and ann_file in message
    assert 'give it a polygon or RLE segmentation' in message
    assert runner.iter == 0


def test_class_names_missing_from_ann_file(tiny_demo_data, tmp_path):
    coco = tiny_coco(tiny_demo_data)
    coco['categories'][1]['name'] = 'Ring'  # config says 'ring'
    ann_file = write_json(coco, tmp_path / 'renamed.json')
    cfg = small_cfg(tmp_path, tiny_demo_data, ann_file)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    # MMDetection alone: 'ring' dropped, 'star' and 'crescent' shifted to
    # labels 1 and 2, no error
    assert len(dataset.cat_ids) == 3 and len(dataset) > 0
    assert dataset.cat2label == {1: 0, 3: 1, 4: 2}
    with pytest.raises(
            DatasetCheckError,
            match=r"metainfo.classes \['ring'\] are not category names of "
            r'.*renamed.json .*make metainfo.classes match the file\'s '
            r'categories\[\].name'):
        check_detection_dataset(dataset)


@pytest.mark.parametrize('case,expected', [
    ('no_class_matches', r"none of metainfo.classes \['ellipse', 'ring', "
     r"'star', 'crescent'\] is a category name of .*: make "
     'metainfo.classes match'),
    ('no_images', r'lists no images: fill its "images"'),
    ('no_annotations', r'has no annotations and filter_cfg.filter_empty_gt'
     r'=True drops images without any'),
])
def test_empty_dataset_error_is_explained(tiny_demo_data, tmp_path, case,
                                          expected):
    coco = tiny_coco(tiny_demo_data)
    if case == 'no_class_matches':
        for cat in coco['categories']:
            cat['name'] = cat['name'].upper()
    elif case == 'no_images':
        coco['images'], coco['annotations'] = [], []
    else:
        coco['annotations'] = []
    ann_file = write_json(coco, tmp_path / f'{case}.json')
    dataset_cfg = small_cfg(tmp_path, tiny_demo_data,
                            ann_file).train_dataloader.dataset
    with pytest.raises(ValueError) as err:
        DATASETS.build(copy.deepcopy(dataset_cfg))
    # MMDetection's own message says nothing about the cause
    assert str(err.value) == 'need at least one array to concatenate'
    explained = explain_dataset_error(err.value, dataset_cfg)
    assert isinstance(explained, DatasetCheckError)
    assert str(explained).startswith('The training data set is empty: ')
    assert re.search(expected, str(explained))
    # other errors are not touched
    assert explain_dataset_error(ValueError('other'), dataset_cfg) is None
