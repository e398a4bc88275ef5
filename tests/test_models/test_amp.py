# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Automatic mixed precision on the model side.

Under MMEngine's ``AmpOptimWrapper`` each player's forward runs under
``torch.autocast``; these tests check what either player computes in when
only one of them, or both, do: RoIs reach Precise RoI Pooling in float32
(the box coordinates are the box discriminator's signal), a discriminator
without autocast gets its input in its parameters' dtype, and the
adversarial losses reduce in float32.

``AmpOptimWrapper`` refuses to be built without CUDA, so on CPU a test-only
wrapper enters ``torch.autocast('cpu', dtype=torch.bfloat16)`` the way it
does; the CUDA float16 variants use the real one.
"""
import contextlib
import functools
import importlib
import os.path as osp
from typing import Callable, Iterator, List, NamedTuple, Sequence
from unittest import mock

import pytest
import torch
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

from mmdet_gan.models.discriminators import BoxDiscriminator, MaskDiscriminator
from mmdet_gan.models.losses import GANLoss, MultiScaleL1Loss
from mmdet_gan.models.roi_heads import adversarial_roi_head_mixin
from mmdet_gan.ops import MultiLevelMaxPrRoIPoolFunction, PrRoIPoolFunction

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
#: the demo config, wherever the checkout keeps it
DEMO_CONFIGS = ('gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py',
                'gan_mask_rcnn_r18_fpn_box-d_demo.py')
STRIDES = [4, 8, 16, 32]
EXTRACTORS = ['RegistrySingleRoIExtractor', 'MultiLevelMaxRoIExtractor']
#: players whose optim wrapper runs their forward under autocast
AMP_PLAYERS = [('generator', ), ('discriminator', ),
               ('generator', 'discriminator')]
AMP_IDS = ['generator', 'discriminator', 'both']


class CPUAutocastOptimWrapper(OptimWrapper):
    """Test-only ``OptimWrapper`` whose ``optim_context`` also enters
    ``torch.autocast('cpu', dtype=torch.bfloat16)``, as
    ``AmpOptimWrapper.optim_context`` enters CUDA autocast."""

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=torch.bfloat16):
            yield


@contextlib.contextmanager
def mmcv_cpu_kernels_in_float32() -> Iterator[None]:
    """Run mmcv's CPU ``nms`` and ``roi_align`` in float32.

    They have no bfloat16 CPU kernels (their CUDA kernels take float16), so
    without this the stock RPN and RoI heads stop a bfloat16 CPU autocast
    before it reaches the adversarial branch. Test scaffolding only.
    """
    nms_module = importlib.import_module('mmcv.ops.nms')
    roi_align_module = importlib.import_module('mmcv.ops.roi_align')
    nms = nms_module.ext_module.nms
    roi_align = roi_align_module.roi_align

    def nms_float32(bboxes, scores, **kwargs):
        return nms(bboxes.float(), scores.float(), **kwargs)

    def roi_align_float32(features, rois, *args):
        return roi_align(features.float(), rois.float(),
                         *args).to(features.dtype)

    with mock.patch.object(nms_module.ext_module, 'nms', nms_float32), \
            mock.patch.object(roi_align_module, 'roi_align',
                              roi_align_float32):
        yield


class PoolCall(NamedTuple):
    """What one call of Precise RoI Pooling received."""
    features: torch.dtype
    rois: torch.dtype
    autocast: bool


@contextlib.contextmanager
def spy_prroi_pool(device_type: str = 'cpu') -> Iterator[List[PoolCall]]:
    """Record the inputs of every call of the Precise RoI Pooling autograd
    functions (before anything inside them casts), and whether autocast
    was on for ``device_type``."""
    calls = []

    def spy(forward: Callable, rois_arg: int, feats_arg: int):

        def wrapped(ctx, *args):
            calls.append(
                PoolCall(args[feats_arg].dtype, args[rois_arg].dtype,
                         torch.is_autocast_enabled(device_type)))
            return forward(ctx, *args)

        return staticmethod(wrapped)

    with mock.patch.object(PrRoIPoolFunction, 'forward',
                           spy(PrRoIPoolFunction.forward, 1, 0)), \
            mock.patch.object(
                MultiLevelMaxPrRoIPoolFunction, 'forward',
                spy(MultiLevelMaxPrRoIPoolFunction.forward, 0, 3)):
        yield calls


def build_gan_mask_rcnn(device: str = 'cpu') -> torch.nn.Module:
    """The demo GAN Mask R-CNN, its box branch pooled with
    ``MultiLevelMaxRoIExtractor`` so that both extractors take part."""
    paths = [osp.join(CONFIG_DIR, name) for name in DEMO_CONFIGS]
    path = next((p for p in paths if osp.exists(p)), None)
    assert path is not None, f'no demo config among {paths}'
    model_cfg = Config.fromfile(path).model
    box_extractor = model_cfg.roi_head.adv_box_roi_extractor
    box_extractor.type = 'MultiLevelMaxRoIExtractor'
    box_extractor.pop('finest_scale', None)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.to(device)


def demo_batch() -> dict:
    return demo_mm_inputs(
        2, [[3, 128, 128]] * 2,
        num_items=[3, 2],
        num_classes=4,
        with_mask=True)


def optim_wrappers(model: torch.nn.Module, amp_players: Sequence[str],
                   amp_wrapper: Callable) -> OptimWrapperDict:
    """One SGD wrapper per player; ``amp_wrapper`` for those in
    ``amp_players``."""
    params = dict(generator=[], discriminator=[])
    for name, param in model.named_parameters():
        player = 'discriminator' if name.startswith(
            'discriminator.') else 'generator'
        params[player].append(param)
    return OptimWrapperDict(
        **{
            player: (amp_wrapper if player in amp_players else OptimWrapper)(
                optimizer=torch.optim.SGD(player_params, lr=0.01))
            for player, player_params in params.items()
        })


def params_of(module: torch.nn.Module) -> dict:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def check_amp_train_step(amp_players: Sequence[str],
                         device_type: str,
                         amp_dtype: torch.dtype,
                         amp_wrapper: Callable,
                         kernels: Callable,
                         order: str = 'generator_first') -> None:
    """One ``train_step`` with ``amp_players`` under autocast: finite
    losses, both players stepped, float32 RoIs into Precise RoI Pooling,
    and each discriminator's first conv run in its compute dtype, in every
    forward (also the one for the generator's adversarial loss, which
    ``discriminator_first`` runs apart from the discriminator's step)."""
    model = build_gan_mask_rcnn(device_type)
    model.game.order = order
    wrappers = optim_wrappers(model, amp_players, amp_wrapper)
    convs = []

    def record(module, args, output):
        convs.append((args[0].dtype, module.weight.dtype, output.dtype,
                      torch.is_autocast_enabled(device_type)))

    for disc in model.discriminator.values():
        disc.convs[0].conv.register_forward_hook(record)
    gen_before = params_of(model.roi_head.bbox_head)
    disc_before = params_of(model.discriminator)
    with kernels(), spy_prroi_pool(device_type) as calls:
        log_vars = model.train_step(demo_batch(), wrappers)

    for key in ('loss_mask', 'loss_adv_g_box', 'loss_adv_g_mask',
                'loss_adv_d_box', 'loss_adv_d_mask'):
        assert key in log_vars, key
    for key, value in log_vars.items():
        assert torch.isfinite(value).all(), key
    for before, module in ((gen_before, model.roi_head.bbox_head),
                           (disc_before, model.discriminator)):
        after = params_of(module)
        assert any(not torch.equal(before[n], after[n]) for n in before)

    # both branches pool with Precise RoI Pooling, RoIs always in float32
    assert calls
    assert all(call.rois == torch.float32 for call in calls), calls
    gen_amp = 'generator' in amp_players
    assert all(call.autocast == gen_amp for call in calls), calls
    if gen_amp:  # the features did come in the low precision dtype
        assert any(call.features == amp_dtype for call in calls), calls

    # first conv of each discriminator: autocast computes it in amp_dtype;
    # without autocast its input has the weights' dtype
    disc_amp = 'discriminator' in amp_players
    assert len(convs) >= 4  # real and fake of both branches
    for in_dtype, weight_dtype, out_dtype, autocast in convs:
        assert autocast == disc_amp
        if autocast:
            assert out_dtype == amp_dtype
        else:
            assert in_dtype == weight_dtype == out_dtype == torch.float32


@pytest.mark.parametrize('order', ['generator_first', 'discriminator_first'])
@pytest.mark.parametrize('amp_players', AMP_PLAYERS, ids=AMP_IDS)
def test_train_step_cpu_bfloat16(amp_players, order):
    check_amp_train_step(amp_players, 'cpu', torch.bfloat16,
                         CPUAutocastOptimWrapper, mmcv_cpu_kernels_in_float32,
                         order)


@pytest.mark.cuda
@pytest.mark.parametrize('amp_players', AMP_PLAYERS, ids=AMP_IDS)
def test_train_step_cuda_float16(amp_players):
    # a static loss scale of 1: a dynamic scaler skips its first steps
    amp_wrapper = functools.partial(
        AmpOptimWrapper, dtype=torch.float16, loss_scale=1.0)
    check_amp_train_step(amp_players, 'cuda', torch.float16, amp_wrapper,
                         contextlib.nullcontext)


def test_box_adversarial_gradient_reaches_regressor_under_autocast():
    model = build_gan_mask_rcnn()
    data = model.data_preprocessor(demo_batch(), True)
    decode = adversarial_roi_head_mixin.decode_positive_boxes
    decoded = []

    def decode_spy(bbox_head, sampling_results, bbox_pred, img_shapes):
        out = decode(bbox_head, sampling_results, bbox_pred, img_shapes)
        # decoding the float32 copy of the deltas gives the same boxes
        ref = decode(bbox_head, sampling_results,
                     bbox_pred.detach().float(), img_shapes)
        decoded.append((bbox_pred.dtype, out[1], ref[1]))
        return out

    with mmcv_cpu_kernels_in_float32(), torch.autocast(
            'cpu', dtype=torch.bfloat16), mock.patch.object(
                adversarial_roi_head_mixin, 'decode_positive_boxes',
                decode_spy):
        _, adv_samples = model.forward_generator(data['inputs'],
                                                 data['data_samples'])
        loss = model.generator_adversarial_losses(
            adv_samples.only('box'))['loss_adv_g_box']
    (pred_dtype, pred_boxes, ref_boxes), = decoded
    assert pred_dtype == torch.bfloat16
    assert pred_boxes.dtype == torch.float32 and pred_boxes.requires_grad
    torch.testing.assert_close(pred_boxes, ref_boxes, rtol=0, atol=0)
    for branch in ('box', 'mask'):
        for side in ('real', 'fake'):
            assert getattr(adv_samples[branch][0], side).dtype == torch.float32
    assert loss.dtype == torch.float32
    loss.backward()
    # the box coordinates' gradient goes through the float32 decode
    grad = model.roi_head.bbox_head.fc_reg.weight.grad
    assert grad is not None and grad.abs().sum() > 0


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------
def bfloat16_pair(*shape, scale=1.0):
    gen = torch.Generator().manual_seed(0)
    return tuple((torch.randn(*shape, generator=gen) *
                  scale).bfloat16().requires_grad_() for _ in range(2))


@pytest.mark.parametrize('is_disc', [False, True])
def test_multiscale_l1_reduces_in_float32(is_disc):
    real, fake = bfloat16_pair(16, 20000)
    loss = MultiScaleL1Loss(loss_weight=0.5)(real, fake, is_disc=is_disc)
    assert loss.dtype == torch.float32
    sign = -1. if is_disc else 1.
    diff = real.detach().double() - fake.detach().double()
    expected = sign * 0.5 * diff.abs().mean()
    # a bfloat16 mean is off by up to 2**-9 relative
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    grad = sign * 0.5 * diff.sign() / diff.numel()
    for tensor, expected_grad in ((real, grad), (fake, -grad)):
        assert tensor.grad.dtype == torch.bfloat16
        torch.testing.assert_close(tensor.grad, expected_grad.bfloat16())


@pytest.mark.parametrize('gan_type', GANLoss.gan_types)
@pytest.mark.parametrize('is_disc', [False, True])
def test_gan_loss_reduces_in_float32(gan_type, is_disc):
    real, fake = bfloat16_pair(4096, 1, scale=3.0)
    loss_fn = GANLoss(gan_type, loss_weight=0.5)
    loss = loss_fn(real, fake, is_disc=is_disc)
    assert loss.dtype == torch.float32
    expected = loss_fn(real.detach().double(), fake.detach().double(), is_disc)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-6)
    loss.backward()
    assert fake.grad.dtype == torch.bfloat16
    assert torch.isfinite(fake.grad).all()


# ---------------------------------------------------------------------------
# RoI extractors
# ---------------------------------------------------------------------------
def make_extractor(type_: str, output_size: int = 7):
    return MODELS.build(
        dict(
            type=type_,
            roi_layer=dict(type='PrRoIPool', output_size=output_size),
            out_channels=4,
            featmap_strides=STRIDES))


def make_feats(img_size: int, dtype: torch.dtype = torch.bfloat16):
    gen = torch.Generator().manual_seed(0)
    return tuple(
        torch.randn(2, 4, img_size // s, img_size //
                    s, generator=gen).to(dtype) for s in STRIDES)


def make_rois(num: int = 12, img_size: int = 512) -> torch.Tensor:
    """float32 boxes from 16 px to most of the image (every FPN level)."""
    gen = torch.Generator().manual_seed(1)
    wh = torch.exp(torch.empty(num, 2).uniform_(2.77, 6.2, generator=gen))
    wh[0] = img_size - 16
    xy = torch.rand(num, 2, generator=gen) * (img_size - wh)
    batch_idx = (torch.arange(num) % 2).float()[:, None]
    return torch.cat([batch_idx, xy, xy + wh], dim=1)


@pytest.mark.parametrize('autocast', [False, True])
@pytest.mark.parametrize('type_', EXTRACTORS)
def test_extractor_keeps_float32_rois_for_bfloat16_features(type_, autocast):
    extractor = make_extractor(type_)
    feats, rois = make_feats(512), make_rois()
    with spy_prroi_pool() as calls, torch.autocast(
            'cpu', dtype=torch.bfloat16, enabled=autocast):
        out = extractor(feats, rois)
    assert calls
    for call in calls:
        assert call == PoolCall(torch.bfloat16, torch.float32, autocast)
    assert out.dtype == torch.float32
    expected = extractor(tuple(f.float() for f in feats), rois)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('type_', EXTRACTORS)
def test_extractor_does_not_round_coordinates(type_):
    """x1 = 513.3 lies between its bfloat16 neighbours 512 and 516: a box
    rounded to the features' dtype would pool other features."""
    extractor = make_extractor(type_)
    feats = make_feats(1024)
    rois = torch.tensor([[0., 513.3, 101.7, 700.9, 300.1]])
    rounded = rois.bfloat16().float()
    assert not torch.equal(rois, rounded)
    out = extractor(feats, rois)
    out_rounded = extractor(feats, rounded)
    assert (out - out_rounded).abs().max() > 1e-2


@pytest.mark.parametrize('roi_scale_factor', [None, 1.5])
def test_single_extractor_matches_mmdet_in_float32(roi_scale_factor):
    """The float32-RoI path is ``SingleRoIExtractor.forward`` where that
    does not round the RoIs."""
    extractor = make_extractor('RegistrySingleRoIExtractor')
    feats, rois = make_feats(512, torch.float32), make_rois()
    assert extractor.map_roi_levels(rois, 4).unique().numel() == 4
    with spy_prroi_pool() as calls:
        out = extractor(feats, rois, roi_scale_factor)
    assert len(calls) == 4
    torch.testing.assert_close(
        out,
        SingleRoIExtractor.forward(extractor, feats, rois, roi_scale_factor))


@pytest.mark.parametrize('num_rois', [0, 2])
def test_single_extractor_keeps_every_level_in_graph(num_rois):
    extractor = make_extractor('RegistrySingleRoIExtractor')
    feats = tuple(f.requires_grad_() for f in make_feats(512))
    rois = make_rois()
    rois = rois[extractor.map_roi_levels(rois, 4) == 0][:num_rois]
    out = extractor(feats, rois)
    assert out.shape == (num_rois, 4, 7, 7) and out.dtype == torch.float32
    out.sum().backward()
    for lvl, feat in enumerate(feats):
        assert feat.grad is not None, lvl
        assert (feat.grad.abs().sum() > 0) == (lvl == 0 and num_rois > 0)


@pytest.mark.parametrize('type_', EXTRACTORS)
def test_extractor_keeps_float64(type_):
    extractor = make_extractor(type_)
    feats = make_feats(512, torch.float64)
    rois = make_rois().double()
    with spy_prroi_pool() as calls:
        out = extractor(feats, rois)
    assert {call.rois for call in calls} == {torch.float64}
    assert out.dtype == torch.float64


# ---------------------------------------------------------------------------
# discriminators
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('disc_cls', [BoxDiscriminator, MaskDiscriminator])
def test_discriminator_computes_in_its_dtype(disc_cls):
    torch.manual_seed(0)
    kwargs = dict(in_channels=4, roi_size=16, base_channels=4, num_convs=3)
    if disc_cls is MaskDiscriminator:
        kwargs.update(layer_weights=(1, 1, 2, 4))
    disc = disc_cls(**kwargs)
    # the mask discriminator's per-layer features as SegAN's (N, D) vector
    concat = (lambda out: torch.cat(out, dim=1)) \
        if disc_cls is MaskDiscriminator else (lambda out: out)
    seen = []
    disc.convs[0].conv.register_forward_hook(
        lambda module, args, output: seen.append(
            (args[0].dtype, output.dtype)))
    x = torch.randn(6, 4, 16, 16).bfloat16()
    # no autocast (a player without AMP fed by one with it): cast to the
    # parameters' dtype
    out = concat(disc(x))
    assert seen.pop() == (torch.float32, torch.float32)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, concat(disc(x.float())))
    seen.clear()
    # under autocast the input is left to autocast
    with torch.autocast('cpu', dtype=torch.bfloat16):
        layers = disc(x)
    out = concat(layers)
    assert seen == [(torch.bfloat16, torch.bfloat16)]
    if disc_cls is MaskDiscriminator:
        # the input and every layer's output, each in one dtype
        assert {t.dtype for t in layers} == {torch.float32}
        assert out.dtype == torch.float32
        assert out.shape == (6, disc.feature_dim)
