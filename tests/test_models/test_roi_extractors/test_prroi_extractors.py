# Copyright (c) mmdet-gan contributors. All rights reserved.
"""RoI extractors that can use mmdet_gan's PrRoIPool from config dicts."""
import pytest
import torch
from mmcv import ops as mmcv_ops
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


def linear_feats(channels=8, batch=2):
    """Level ``l`` holds ``f = 100 l + 50 b + c + x / 2 + y / 4`` (``b``
    image, ``c`` channel, ``x, y`` feature coordinates): a bilinear (or
    bilinearly sampled) linear map, so a bin's mean is ``f`` at the bin's
    centre, and the hundreds say which level a value was pooled from."""
    feats = []
    for lvl, s in enumerate(STRIDES):
        b, c, y, x = torch.meshgrid(
            *(torch.arange(n, dtype=torch.float32)
              for n in (batch, channels, IMG // s, IMG // s)),
            indexing='ij')
        feats.append(100 * lvl + 50 * b + c + x / 2 + y / 4)
    return tuple(feats)


def linear_pooled(rois, levels, output_size=(7, 7), channels=8, shift=0.):
    """Closed-form pooled ``linear_feats`` in float64: ``f`` at each bin's
    centre, in the coordinates of the level picked for each RoI
    (``image / stride - shift``; RoIAlign with ``aligned=True`` shifts by
    half a pixel)."""
    ph, pw = output_size
    out = torch.empty(len(levels), channels, ph, pw, dtype=torch.float64)
    centres = torch.arange(max(ph, pw), dtype=torch.float64) + 0.5
    chan = torch.arange(channels, dtype=torch.float64)[:, None, None]
    for k, (roi, lvl) in enumerate(zip(rois.tolist(), levels)):
        img = roi[0]
        x1, y1, x2, y2 = (v / STRIDES[lvl] - shift for v in roi[1:])
        xc = x1 + centres[:pw] * (x2 - x1) / pw
        yc = y1 + centres[:ph] * (y2 - y1) / ph
        out[k] = 100 * lvl + 50 * img + chan + xc / 2 + yc[:, None] / 4
    return out


# (image, x1, y1, w, h) and the level of MMDetection's rule
# floor(log2(sqrt(w h) / 56 + 1e-6)) clamped to [0, 3], by hand:
HAND_BOXES = [
    ((0, 10, 20, 40, 40), 0),  # log2(40 / 56) < 0: clamped to 0
    ((1, 100, 50, 111, 111), 0),  # 111 / 56 = 1.98 < 2
    ((0, 30, 300, 112, 112), 1),  # 112 / 56 = 2: the boundary
    ((1, 200, 10, 64, 256), 1),  # sqrt(64 * 256) = 128
    ((0, 250, 250, 200, 200), 1),  # 200 / 56 = 3.6
    ((1, 20, 40, 224, 224), 2),  # 224 / 56 = 4: the boundary
    ((0, 100, 120, 300, 300), 2),  # 300 / 56 = 5.4
    ((1, 16, 16, 448, 448), 3),  # 448 / 56 = 8: the boundary
    ((0, 17, 17, 462, 462), 3),  # 462 / 56 = 8.25
]


def hand_rois():
    """The RoIs of ``HAND_BOXES`` (each inside the map of its level, and
    inside it by half a pixel for RoIAlign) and their levels."""
    rois = torch.tensor([[b, x, y, x + w, y + h]
                         for (b, x, y, w, h), _ in HAND_BOXES],
                        dtype=torch.float32)
    return rois, [lvl for _, lvl in HAND_BOXES]


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
    assert ours.roi_layers[0].aligned
    # RoIAlign (aligned: half a pixel shift) averages 2 x 2 samples placed
    # symmetrically in each bin: on a linear map, f at the bin centre
    rois, levels = hand_rois()
    out = ours(linear_feats(), rois)
    torch.testing.assert_close(
        out.double(),
        linear_pooled(rois, levels, shift=0.5),
        rtol=1e-5,
        atol=1e-4)
    with pytest.raises(KeyError, match='NoSuchRoILayer'):
        cfg['roi_layer'] = dict(type='NoSuchRoILayer', output_size=7)
        MODELS.build(cfg)


def test_single_extractor_maps_each_roi_to_its_level():
    extractor = MODELS.build(extractor_cfg('RegistrySingleRoIExtractor'))
    rois, levels = hand_rois()
    assert sorted(set(levels)) == [0, 1, 2, 3]  # covers every level
    out = extractor(linear_feats(), rois)
    assert out.shape == (len(levels), 8, 7, 7)
    torch.testing.assert_close(
        out.double(), linear_pooled(rois, levels), rtol=1e-5, atol=1e-4)


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


# RegistrySingleRoIExtractor maps the unscaled box to a level, as mmdet
# does (scale sqrt(100 * 60) = 77: level 0; the scaled box, 116, would map
# to level 1); on linear_feats the max over the levels is level 3 (+300).
@pytest.mark.parametrize('type_, level', [('RegistrySingleRoIExtractor', 0),
                                          ('MultiLevelMaxRoIExtractor', 3)])
def test_roi_scale_factor(type_, level):
    extractor = MODELS.build(extractor_cfg(type_))
    rois = torch.tensor([[1., 100., 100., 200., 160.]])
    # scaled by 1.5 about its centre (150, 130): 150 x 90, by hand
    scaled = torch.tensor([[1., 75., 85., 225., 175.]])
    out = extractor(linear_feats(), rois, roi_scale_factor=1.5)
    torch.testing.assert_close(
        out.double(), linear_pooled(scaled, [level]), rtol=1e-5, atol=1e-4)


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


def test_single_extractor_pools_at_given_levels():
    extractor = MODELS.build(extractor_cfg('RegistrySingleRoIExtractor'))
    rois, _ = hand_rois()
    forced = [0] * len(rois)
    out = extractor(
        linear_feats(),
        rois,
        target_lvls=torch.zeros(len(rois), dtype=torch.long))
    torch.testing.assert_close(
        out.double(), linear_pooled(rois, forced), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match='target_lvls must be'):
        extractor(linear_feats(), rois, target_lvls=torch.zeros(2).long())


def test_fake_box_pooled_at_its_gt_level():
    """A GT box of 111 px maps to P2, its prediction of 113 px to P3: with
    ``fake_at_real_level`` both are pooled from P2 (the hundreds of
    ``linear_feats`` say the level)."""
    from mmdet_gan.models.roi_heads.adversarial_samples import pool_real_fake
    extractor = MODELS.build(extractor_cfg('RegistrySingleRoIExtractor'))
    feats = linear_feats()
    inds = torch.tensor([1])
    real = torch.tensor([[100., 50., 211., 161.]])
    fake = torch.tensor([[100., 50., 213., 163.]], requires_grad=True)
    fake_rois = torch.cat([inds.float()[:, None], fake.detach()], dim=1)
    _, own = pool_real_fake(extractor, feats, inds, real, fake)
    torch.testing.assert_close(
        own.double(), linear_pooled(fake_rois, [1]), rtol=1e-5, atol=1e-4)
    _, at_gt = pool_real_fake(
        extractor, feats, inds, real, fake, fake_at_real_level=True)
    torch.testing.assert_close(
        at_gt.double(), linear_pooled(fake_rois, [0]), rtol=1e-5, atol=1e-4)
    at_gt.sum().backward()  # still differentiable w.r.t. the coordinates
    assert fake.grad is not None and fake.grad.abs().sum() > 0


@pytest.mark.parametrize('fake_at_real_level', [False, True])
@pytest.mark.parametrize(
    'extractor_type',
    ['RegistrySingleRoIExtractor', 'MultiLevelMaxRoIExtractor'])
def test_real_boxes_pooled_once_per_distinct_box(extractor_type,
                                                 fake_at_real_level):
    """Positives matched to the same GT box share its real features: each
    distinct (image, GT box) is pooled once, and every row gets the values
    that pooling it alone gives."""
    from mmdet_gan.models.roi_heads.adversarial_samples import pool_real_fake
    if fake_at_real_level and extractor_type == 'MultiLevelMaxRoIExtractor':
        pytest.skip('the max over levels has no level per box')
    extractor = MODELS.build(extractor_cfg(extractor_type))
    feats = make_feats()
    gts = torch.tensor([[4., 6., 40., 30.], [10., 12., 130., 150.]])
    # rows 0, 2, 4 repeat (image 0, box 0); row 3 is box 0 of image 1;
    # box 1 maps to P3, box 0 to P2
    inds = torch.tensor([0, 0, 0, 1, 0])
    real = gts[[0, 1, 0, 0, 0]]
    fake = real + torch.linspace(0.5, 2.5, 5)[:, None]
    pooled_rows = []
    forward = extractor.forward

    def counting_forward(feats, rois, *args, **kwargs):
        pooled_rows.append(rois.size(0))
        return forward(feats, rois, *args, **kwargs)

    extractor.forward = counting_forward
    got_real, _ = pool_real_fake(
        extractor,
        feats,
        inds,
        real,
        fake,
        fake_at_real_level=fake_at_real_level)
    assert pooled_rows == [3, 5]  # real: 3 distinct rows; fake: all 5
    extractor.forward = forward
    for i in range(5):
        roi = torch.cat([inds[i:i + 1].float()[:, None], real[i:i + 1]], 1)
        torch.testing.assert_close(got_real[i:i + 1], extractor(feats, roi))
    assert not got_real.requires_grad
