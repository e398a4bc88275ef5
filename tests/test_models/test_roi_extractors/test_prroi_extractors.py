# Copyright (c) mmdet-gan contributors. All rights reserved.
"""RoI extractors that can use mmdet_gan's PrRoIPool from config dicts."""
import pytest
import torch
from mmcv import ops as mmcv_ops
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs, demo_mm_proposals
from mmdet.utils import register_all_modules
from mmengine.hub import get_config
from mmengine.registry import MODELS as MMENGINE_MODELS

import mmdet_gan  # noqa: F401  (registers the modules)
from mmdet_gan.models.roi_extractors import (MultiLevelMaxRoIExtractor,
                                             RegistrySingleRoIExtractor)
from mmdet_gan.ops import PrRoIPool, prroi_pool

STRIDES = [4, 8, 16, 32]
IMG = 512  # feature maps 128, 64, 32, 16


def make_feats(channels=8, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(batch, channels, IMG // s, IMG // s, generator=gen)
        for s in STRIDES)


def make_rois(num=12, batch=2, seed=1):
    """Boxes from 16 to 500 px (log-uniform, so mmdet maps them to every
    FPN level), inside the image."""
    gen = torch.Generator().manual_seed(seed)
    wh = torch.exp(torch.empty(num, 2).uniform_(2.77, 6.2, generator=gen))
    wh[0] = IMG - 16  # one box for the coarsest level (scale >= 448)
    xy = torch.rand(num, 2, generator=gen) * (IMG - wh)
    batch_idx = (torch.arange(num) % batch).float()[:, None]
    return torch.cat([batch_idx, xy, xy + wh], dim=1)


def extractor_cfg(type_, output_size=7, **kwargs):
    return dict(
        type=type_,
        roi_layer=dict(type='PrRoIPool', output_size=output_size),
        out_channels=8,
        featmap_strides=STRIDES,
        **kwargs)


def test_prroi_pool_is_registered_without_collision():
    assert MODELS.get('PrRoIPool') is PrRoIPool
    # nothing else by that name in the registry tree mmdet's MODELS
    # inherits from, and mmcv's class (CUDA-only) is a different one
    assert 'PrRoIPool' not in MMENGINE_MODELS.module_dict
    assert mmcv_ops.PrRoIPool is not PrRoIPool
    layer = MODELS.build(
        dict(type='PrRoIPool', output_size=7, spatial_scale=0.25))
    assert isinstance(layer, PrRoIPool) and layer.output_size == (7, 7)


@pytest.mark.parametrize(
    'type_', ['RegistrySingleRoIExtractor', 'MultiLevelMaxRoIExtractor'])
def test_builds_prroi_layers_from_config(type_):
    extractor = MODELS.build(extractor_cfg(type_))
    assert isinstance(extractor,
                      (RegistrySingleRoIExtractor, MultiLevelMaxRoIExtractor))
    assert [type(layer) for layer in extractor.roi_layers] == [PrRoIPool] * 4
    assert [layer.spatial_scale
            for layer in extractor.roi_layers] == [1 / s for s in STRIDES]
    # stock SingleRoIExtractor would have picked mmcv's op for this config
    stock = MODELS.build(extractor_cfg('SingleRoIExtractor'))
    assert type(stock.roi_layers[0]) is mmcv_ops.PrRoIPool


def test_falls_back_to_mmcv_ops():
    cfg = extractor_cfg('RegistrySingleRoIExtractor')
    cfg['roi_layer'] = dict(type='RoIAlign', output_size=7, sampling_ratio=2)
    ours = MODELS.build(cfg)
    assert type(ours.roi_layers[0]) is mmcv_ops.RoIAlign
    stock = SingleRoIExtractor(**{k: v for k, v in cfg.items() if k != 'type'})
    feats, rois = make_feats(), make_rois()
    torch.testing.assert_close(ours(feats, rois), stock(feats, rois))
    with pytest.raises(KeyError, match='NoSuchRoILayer'):
        cfg['roi_layer'] = dict(type='NoSuchRoILayer', output_size=7)
        MODELS.build(cfg)


def test_single_extractor_maps_each_roi_to_its_level():
    extractor = MODELS.build(extractor_cfg('RegistrySingleRoIExtractor'))
    feats, rois = make_feats(), make_rois()
    out = extractor(feats, rois)
    assert out.shape == (12, 8, 7, 7)
    levels = extractor.map_roi_levels(rois, len(feats))
    assert levels.unique().tolist() == [0, 1, 2, 3]  # covers every level
    for k, lvl in enumerate(levels.tolist()):
        expected = prroi_pool(feats[lvl], rois[k:k + 1], 7, 1 / STRIDES[lvl])
        torch.testing.assert_close(out[k:k + 1], expected)


@pytest.mark.parametrize(
    'type_', ['RegistrySingleRoIExtractor', 'MultiLevelMaxRoIExtractor'])
def test_gradient_reaches_roi_coordinates(type_):
    extractor = MODELS.build(extractor_cfg(type_))
    feats = tuple(f.requires_grad_() for f in make_feats())
    rois = make_rois().requires_grad_()
    extractor(feats, rois).square().sum().backward()
    assert (rois.grad[:, 0] == 0).all()
    assert (rois.grad[:, 1:].abs() > 0).all()
    assert all(f.grad is not None for f in feats)


def test_max_fusion_equals_max_of_level_pools():
    extractor = MODELS.build(
        extractor_cfg('MultiLevelMaxRoIExtractor', output_size=(5, 6)))
    assert extractor.levels == [0, 1, 2, 3]
    feats, rois = make_feats(), make_rois()
    out = extractor(feats, rois)
    per_level = torch.stack(
        [prroi_pool(f, rois, (5, 6), 1 / s) for f, s in zip(feats, STRIDES)])
    assert out.shape == (12, 8, 5, 6)
    torch.testing.assert_close(out, per_level.max(dim=0).values)
    # every level wins somewhere, so none is ignored
    winners = per_level.argmax(dim=0).unique().tolist()
    assert winners == [0, 1, 2, 3]


def test_levels_option():
    extractor = MODELS.build(
        extractor_cfg('MultiLevelMaxRoIExtractor', levels=[1, 3]))
    feats, rois = make_feats(), make_rois()
    expected = torch.maximum(
        prroi_pool(feats[1], rois, 7, 1 / 8),
        prroi_pool(feats[3], rois, 7, 1 / 32))
    torch.testing.assert_close(extractor(feats, rois), expected)
    single = MODELS.build(
        extractor_cfg('MultiLevelMaxRoIExtractor', levels=[2]))
    torch.testing.assert_close(
        single(feats, rois), prroi_pool(feats[2], rois, 7, 1 / 16))
    for bad in ([], [4], [-1], [1, 1]):
        with pytest.raises(ValueError, match='`levels` must be None or'):
            MODELS.build(
                extractor_cfg('MultiLevelMaxRoIExtractor', levels=bad))


def test_roi_scale_factor():
    extractor = MODELS.build(extractor_cfg('MultiLevelMaxRoIExtractor'))
    feats, rois = make_feats(), make_rois()
    torch.testing.assert_close(
        extractor(feats, rois, roi_scale_factor=1.5),
        extractor(feats, extractor.roi_rescale(rois, 1.5)))


def test_empty_rois():
    extractor = MODELS.build(
        extractor_cfg('MultiLevelMaxRoIExtractor', output_size=28))
    feats = tuple(f.requires_grad_() for f in make_feats())
    out = extractor(feats, torch.zeros(0, 5))
    assert out.shape == (0, 8, 28, 28)
    out.sum().backward()
    assert all(f.grad is not None and (f.grad == 0).all() for f in feats)


@pytest.mark.parametrize(
    'type_', ['RegistrySingleRoIExtractor', 'MultiLevelMaxRoIExtractor'])
def test_half_features_keep_float32_rois(type_):
    # as under AMP: the features are float16, the RoIs are not rounded to
    # it, and Precise RoI Pooling computes (and returns) float32
    extractor = MODELS.build(extractor_cfg(type_))
    feats = tuple(f.half() for f in make_feats())
    out = extractor(feats, make_rois())
    assert out.dtype == torch.float32
    expected = extractor(tuple(f.float() for f in feats), make_rois())
    torch.testing.assert_close(out, expected)


def test_in_standard_roi_head_of_mask_rcnn():
    """Both extractors drop into a stock two-stage config."""
    register_all_modules()
    model_cfg = get_config(
        'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model
    cfg = model_cfg.roi_head
    cfg.update(
        train_cfg=model_cfg.train_cfg.rcnn, test_cfg=model_cfg.test_cfg.rcnn)
    cfg.bbox_roi_extractor.type = 'RegistrySingleRoIExtractor'
    cfg.bbox_roi_extractor.roi_layer = dict(type='PrRoIPool', output_size=7)
    cfg.mask_roi_extractor.type = 'MultiLevelMaxRoIExtractor'
    cfg.mask_roi_extractor.roi_layer = dict(type='PrRoIPool', output_size=14)
    roi_head = MODELS.build(cfg)
    assert type(roi_head.bbox_roi_extractor.roi_layers[0]) is PrRoIPool
    assert type(roi_head.mask_roi_extractor.roi_layers[0]) is PrRoIPool
    s = 128
    feats = tuple(
        torch.rand(1, 256, s // 2**(i + 2), s // 2**(i + 2)).requires_grad_()
        for i in range(4))
    image_shapes = [(3, s, s)]
    data_samples = demo_mm_inputs(
        batch_size=1,
        image_shapes=image_shapes,
        num_items=[2],
        num_classes=4,
        with_mask=True)['data_samples']
    proposals = demo_mm_proposals(image_shapes=image_shapes, num_proposals=50)
    losses = roi_head.loss(feats, proposals, data_samples)
    for name in ('loss_cls', 'loss_bbox', 'loss_mask'):
        assert torch.isfinite(losses[name]).all(), name
    sum(losses[name]
        for name in ('loss_cls', 'loss_bbox', 'loss_mask')).backward()
    assert all(f.grad is not None for f in feats)
