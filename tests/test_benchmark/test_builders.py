# Copyright (c) mmdet-gan contributors. All rights reserved.
import pytest
import torch

from mmdet_gan.benchmark import builders


def test_same_generator_weights():
    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Linear(3, 2))
    gan = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    gan[0].load_state_dict(base[0].state_dict())
    assert builders.same_generator_weights(gan, base)
    with torch.no_grad():
        gan[0].bias += 1
    assert not builders.same_generator_weights(gan, base)
    assert not builders.same_generator_weights(base[0], gan)  # missing keys


def test_demo_batches_are_distinct_and_sized():
    batches = builders.demo_batches(3, 2, 64, 1, 4)
    assert len(batches) == 3
    for batch in batches:
        assert len(batch['inputs']) == len(batch['data_samples']) == 2
        assert batch['inputs'][0].shape == (3, 64, 64)
        for sample in batch['data_samples']:
            assert len(sample.gt_instances) == 1
            assert sample.gt_instances.masks.masks.shape[1:] == (64, 64)
    assert not torch.equal(batches[0]['inputs'][0], batches[1]['inputs'][0])


def test_demo_batches_at_coco_shape_with_varying_object_counts():
    """(height, width) images and object counts cycled over the images (the
    COCO-scale benchmark: 800x1333, 8 and 15 objects)."""
    batches = builders.demo_batches(2, 2, (80, 133), [8, 15], 4)
    counts = [
        len(sample.gt_instances) for batch in batches
        for sample in batch['data_samples']
    ]
    assert counts == [8, 15, 8, 15]
    for batch in batches:
        assert batch['inputs'][0].shape == (3, 80, 133)
        assert batch['data_samples'][0].gt_instances.masks.masks.shape[1:] \
            == (80, 133)
    assert builders.image_size([64]) == (64, 64)
    assert builders.image_size(64) == (64, 64)
    with pytest.raises(ValueError, match='height, width'):
        builders.image_size([1, 2, 3])


def test_num_classes_of_a_cascade():
    from mmengine.config import Config
    cfg = Config(
        dict(
            model=dict(
                roi_head=dict(bbox_head=[
                    dict(num_classes=4),
                    dict(num_classes=4),
                    dict(num_classes=7)
                ]))))
    assert builders.num_classes_of(cfg) == 7
    cfg.model.roi_head.bbox_head = dict(num_classes=3)
    assert builders.num_classes_of(cfg) == 3
