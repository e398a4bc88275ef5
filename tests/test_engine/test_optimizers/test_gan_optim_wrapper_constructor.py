import os.path as osp
from unittest import mock

import pytest
import torch
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from mmengine.optim.optimizer import amp_optimizer_wrapper
from torch import nn

from mmdet_gan.engine import GANOptimWrapperConstructor
from mmdet_gan.models.discriminators import BoxDiscriminator

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
    'configs')


class ToyGAN(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.roi_head = nn.Linear(4, 2)
        self.discriminator = nn.ModuleDict(
            dict(box=nn.Conv2d(4, 1, 3), mask=nn.Linear(4, 1)))


def player_cfg():
    return dict(
        generator=dict(
            optimizer=dict(
                type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
            paramwise_cfg=dict(norm_decay_mult=0.)),
        discriminator=dict(
            optimizer=dict(type='SGD', momentum=0.9, weight_decay=1e-4),
            lr_factor=0.2,
            paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.)))


def param_ids(optimizer):
    return {id(p) for group in optimizer.param_groups for p in group['params']}


def test_partition_and_lr():
    model = ToyGAN()
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='GANOptimWrapperConstructor', optim_wrapper_cfg=player_cfg()))
    wrappers = constructor(model)
    assert isinstance(wrappers, OptimWrapperDict)
    gen, disc = wrappers['generator'], wrappers['discriminator']
    disc_ids = {id(p) for p in model.discriminator.parameters()}
    gen_ids = {id(p) for p in model.parameters()} - disc_ids
    assert param_ids(gen.optimizer) == gen_ids
    assert param_ids(disc.optimizer) == disc_ids
    # D: lr = G lr / 5, bias lr x2 and no weight decay on biases
    for group in disc.optimizer.param_groups:
        (param, ) = group['params']
        is_bias = param.dim() == 1
        assert group['lr'] == pytest.approx(0.02 * 0.2 * (2 if is_bias else 1))
        assert group['weight_decay'] == pytest.approx(0 if is_bias else 1e-4)
    # G: paramwise_cfg applies to the generator's names (BN without decay)
    bn_weight = model.backbone[1].weight
    for group in gen.optimizer.param_groups:
        if group['params'][0] is bn_weight:
            assert group['weight_decay'] == 0
    assert wrappers.get_lr()['generator.lr'][0] == pytest.approx(0.02)


def test_amp_without_an_accelerator_is_mmengines_refusal():
    cfg = player_cfg()
    cfg['generator']['type'] = 'AmpOptimWrapper'
    if torch.cuda.is_available():
        pytest.skip('MMEngine builds AmpOptimWrapper on a GPU')
    # AmpOptimWrapper needs CUDA (or NPU/MLU/MUSA) in mmengine 0.10.7
    with pytest.raises(AssertionError, match='only available'):
        GANOptimWrapperConstructor(cfg)(ToyGAN())


@pytest.mark.cuda
def test_unwraps_module_and_per_player_amp():
    model = ToyGAN()
    cfg = player_cfg()
    cfg['generator']['type'] = 'AmpOptimWrapper'
    cfg['discriminator']['type'] = 'AmpOptimWrapper'
    wrapper = nn.Module()
    wrapper.module = model
    wrappers = GANOptimWrapperConstructor(cfg)(wrapper)
    assert isinstance(wrappers['generator'], AmpOptimWrapper)
    assert wrappers['generator'].loss_scaler is not \
        wrappers['discriminator'].loss_scaler


def merged_player_cfgs(cfg):
    constructor = GANOptimWrapperConstructor(cfg)
    return {
        player: dict(c.optim_wrapper_cfg)
        for player, c in constructor.constructors.items()
    }


def test_top_level_wrapper_keys_are_both_players_default():
    """What MMDetection's --amp writes (type + loss_scale at the top)
    reaches both players; a player's own key wins."""
    cfg = dict(
        player_cfg(),
        type='AmpOptimWrapper',
        loss_scale='dynamic',
        dtype='float16',
        clip_grad=dict(max_norm=10))
    merged = merged_player_cfgs(cfg)
    for player in ('generator', 'discriminator'):
        assert merged[player]['type'] == 'AmpOptimWrapper'
        assert merged[player]['loss_scale'] == 'dynamic'
        assert merged[player]['dtype'] == 'float16'
        assert merged[player]['clip_grad'] == dict(max_norm=10)
    cfg['generator']['clip_grad'] = dict(max_norm=35)
    cfg['discriminator']['loss_scale'] = 512.
    merged = merged_player_cfgs(cfg)
    assert merged['generator']['clip_grad'] == dict(max_norm=35)
    assert merged['discriminator']['loss_scale'] == 512.
    assert merged['generator']['loss_scale'] == 'dynamic'


def test_player_that_keeps_its_own_plain_wrapper_drops_amp_keys():
    cfg = dict(player_cfg(), type='AmpOptimWrapper', loss_scale='dynamic')
    cfg['discriminator']['type'] = 'OptimWrapper'
    merged = merged_player_cfgs(cfg)
    assert merged['generator']['loss_scale'] == 'dynamic'
    assert merged['discriminator']['type'] == 'OptimWrapper'
    assert 'loss_scale' not in merged['discriminator']
    # and it builds (OptimWrapper would reject loss_scale)
    wrappers = GANOptimWrapperConstructor(
        dict(player_cfg(), loss_scale='dynamic'))(
            ToyGAN())
    assert type(wrappers['discriminator']) is OptimWrapper
    # no top-level type: plain wrappers, as before
    assert merged_player_cfgs(player_cfg())['generator']['type'] == \
        'OptimWrapper'


def test_amp_from_the_top_builds_one_scaler_per_player():
    """Builds the real AmpOptimWrappers; MMEngine refuses them without an
    accelerator, so on CPU its device check is patched (the GradScalers are
    then disabled, but still one object per player)."""
    cfg = dict(player_cfg(), type='AmpOptimWrapper', loss_scale='dynamic')
    with mock.patch.object(
            amp_optimizer_wrapper, 'is_cuda_available', return_value=True):
        wrappers = GANOptimWrapperConstructor(cfg)(ToyGAN())
    gen, disc = wrappers['generator'], wrappers['discriminator']
    assert isinstance(gen, AmpOptimWrapper)
    assert isinstance(disc, AmpOptimWrapper)
    assert gen.loss_scaler is not disc.loss_scaler


@pytest.mark.parametrize('cfg, match', [
    (dict(generator=dict(optimizer=dict(type='SGD', lr=0.1))),
     'no discriminator'),
    (dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1)), 'no generator and no discriminator'),
    (dict(**player_cfg(), optimizer=dict(type='SGD', lr=0.1)), '_delete_'),
    (dict(**player_cfg(), paramwise_cfg_x=dict()), 'shared defaults'),
    (dict(
        generator=dict(optimizer=dict(type='SGD', lr=0.1)),
        discriminator=dict(type='OptimWrapper')), 'needs an optimizer'),
    (dict(
        generator=dict(optimizer=dict(type='SGD', lr=0.1)),
        discriminator=dict(optimizer=dict(type='SGD', lr=0.1),
                           lr_factor=0.2)), 'not both'),
])
def test_bad_configs_name_the_fix(cfg, match):
    with pytest.raises(ValueError, match=match):
        GANOptimWrapperConstructor(cfg)


def test_top_level_paramwise_rejected_and_non_gan_model():
    with pytest.raises(ValueError, match='per player'):
        GANOptimWrapperConstructor(player_cfg(), paramwise_cfg=dict())
    with pytest.raises(ValueError, match='no `discriminator` submodule'):
        GANOptimWrapperConstructor(player_cfg())(nn.Linear(2, 2))


@pytest.mark.parametrize('config', [
    'gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py',
    'gan_cascade_rcnn/gan_cascade_mask_rcnn_r50_fpn_1x_coco.py',
    'gan_htc/gan_htc_without_semantic_r50_fpn_1x_coco.py',
    'gan_ms_rcnn/gan_ms_rcnn_r50_fpn_1x_coco.py',
    'gan_point_rend/gan_point_rend_r50_caffe_fpn_ms_1x_coco.py',
])
def test_r50_discriminator_biases_all_get_lr_x2_without_decay(config):
    """The reference doubles the lr of *every* bias of D, BatchNorm's
    included (MMEngine's ``bias_lr_mult`` alone skips norm layers)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    model = ToyGAN()
    model.discriminator = nn.ModuleDict(
        dict(box=BoxDiscriminator(in_channels=4, base_channels=4)))
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type=wrapper_cfg.pop('constructor'),
            optim_wrapper_cfg=wrapper_cfg))(
                model)
    disc = wrappers['discriminator']
    gen_lr = wrappers['generator'].optimizer.param_groups[0]['lr']
    names = {id(p): n for n, p in model.discriminator.named_parameters()}
    checked = set()
    for group in disc.optimizer.param_groups:
        for param in group['params']:
            name = names[id(param)]
            if name.endswith('bias'):
                assert group['lr'] == pytest.approx(gen_lr * 0.2 * 2), name
                assert group['weight_decay'] == 0, name
                checked.add(name.rsplit('.', 2)[-2])
    assert {'conv', 'bn'} <= checked


def test_each_player_logs_its_own_grad_norm():
    """With ``clip_grad`` on both players the generator's norm stays
    ``grad_norm`` (as in a stock detector's log) and the discriminator's,
    which steps after it, does not overwrite it."""
    cfg = player_cfg()
    cfg['clip_grad'] = dict(max_norm=1e6)
    model = ToyGAN()
    wrappers = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='GANOptimWrapperConstructor', optim_wrapper_cfg=cfg))(
            model)
    for name, scale in (('generator', 1.), ('discriminator', 100.)):
        params = (
            model.discriminator.parameters()
            if name == 'discriminator' else model.roi_head.parameters())
        for param in params:
            param.grad = torch.full_like(param, scale)
        wrappers[name].step()
    hub = MessageHub.get_current_instance()
    gen_norm = hub.get_scalar('train/grad_norm').current()
    disc_norm = hub.get_scalar('train/discriminator.grad_norm').current()
    assert disc_norm > 10 * gen_norm > 0
