"""Config errors of a GAN model fail at build time (issue 6), each with one
sentence that says what to set, instead of deep inside the first
iteration."""
import copy
import os.path as osp
import traceback
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.runner import Runner
from torch import nn

from mmdet_gan.engine.hooks import GANTrainCheckHook
from mmdet_gan.engine.model_wrappers import GANDistributedDataParallel
from mmdet_gan.models.detectors import GANMaskRCNN
from .utils import GAN_CFG, REPO_ROOT, write_small_gan_config

GAN_CONFIGS = [
    'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py',
    'gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py',
    'gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_cityscapes.py'
]


@pytest.fixture(scope='module')
def gan_cfg():
    return Config.fromfile(GAN_CFG)


@pytest.fixture(scope='module')
def gan_model(gan_cfg):
    return MODELS.build(copy.deepcopy(gan_cfg.model))


def model_cfg(gan_cfg):
    return copy.deepcopy(gan_cfg.model)


@pytest.mark.parametrize('name', GAN_CONFIGS)
def test_gan_configs_carry_the_reliability_hooks(name):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', name))
    assert [hook['type'] for hook in cfg.custom_hooks] == [
        'RNGStateHook', 'GANTrainCheckHook', 'DatasetCheckHook',
        'CheckpointTmpCleanupHook', 'SafeCheckpointLoadHook'
    ]


@pytest.mark.parametrize('discriminator', [{}, dict(box=None, mask=None)])
def test_gan_detector_without_discriminators(gan_cfg, discriminator):
    cfg = model_cfg(gan_cfg)
    cfg.discriminator = discriminator
    with pytest.raises(
            ValueError,
            match=r'GANMaskRCNN needs at least one discriminator: set '
            r"model.discriminator=dict\(box=dict\(type='BoxDiscriminator'\)"
            r", mask=dict\(type='MaskDiscriminator'\)\), or use MaskRCNN"):
        MODELS.build(cfg)


def test_optim_wrapper_without_discriminator(gan_cfg, gan_model):
    cfg = copy.deepcopy(gan_cfg.optim_wrapper)
    del cfg['discriminator']
    with pytest.raises(
            ValueError,
            match=r'optim_wrapper has no discriminator wrapper: a GAN model '
            r"needs optim_wrapper=dict\(_delete_=True, constructor="
            r"'GANOptimWrapperConstructor', generator=dict\(optimizer=...\),"
            r' discriminator=dict\(optimizer=...\)\)'):
        build_optim_wrapper(gan_model, cfg)


def test_optim_wrapper_merged_without_delete(gan_cfg, gan_model):
    """An override of the stock optim_wrapper without _delete_=True keeps
    its optimizer next to the players (its type is a valid default)."""
    cfg = copy.deepcopy(gan_cfg.optim_wrapper)
    cfg.update(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02))
    with pytest.raises(
            ValueError,
            match=r"optim_wrapper has unexpected keys \['optimizer'\] next "
            r'to the players .*add _delete_=True to the GAN '
            'optim_wrapper'):
        build_optim_wrapper(gan_model, cfg)


def test_discriminator_size_that_does_not_match_its_extractor(gan_cfg):
    cfg = model_cfg(gan_cfg)
    cfg.discriminator.box.roi_size = 14
    with pytest.raises(
            ValueError,
            match=r'model.discriminator.box.roi_size=14 but '
            r'model.roi_head.adv_box_roi_extractor pools \(28, 28\): set '
            r'both to the same size'):
        MODELS.build(cfg)


def test_unknown_gan_loss_type(gan_cfg):
    cfg = model_cfg(gan_cfg)
    cfg.loss_adv.box.gan_type = 'wgan'
    with pytest.raises(
            ValueError,
            match=r"GANLoss: gan_type must be one of \('vanilla', 'lsgan', "
            r"'hinge'\), got 'wgan'."):
        MODELS.build(cfg)


def test_unknown_loss_class(gan_cfg):
    cfg = model_cfg(gan_cfg)
    cfg.loss_adv.mask.type = 'MultiScaleL2Loss'
    with pytest.raises(
            KeyError,
            match='MultiScaleL2Loss is not in the mmdet::model '
            'registry'):
        MODELS.build(cfg)


def test_single_optimizer_fails_when_the_runner_builds(tiny_demo_data,
                                                       tmp_path, monkeypatch):
    """A GAN config with a stock single-optimizer optim_wrapper: the runner
    stops in GANTrainCheckHook.before_run, right after it built the optim
    wrapper, before weights are initialised or any iteration runs."""
    cfg = Config.fromfile(
        write_small_gan_config(str(tmp_path / 'small_gan.py'), tiny_demo_data))
    cfg.optim_wrapper = dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = tmp_path.name

    def no_train_step(*args, **kwargs):
        raise AssertionError('train_step must not run')

    monkeypatch.setattr(GANMaskRCNN, 'train_step', no_train_step)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(
            ValueError,
            match=r'GANMaskRCNN.train_step needs an OptimWrapperDict with '
            r'"generator" and "discriminator" wrappers, got OptimWrapper: '
            r"set optim_wrapper=dict\(_delete_=True, constructor="
            r"'GANOptimWrapperConstructor', generator=dict\(...\), "
            r'discriminator=dict\(...\)\) in the config') as err:
        runner.train()
    frames = [f.name for f in traceback.extract_tb(err.value.__traceback__)]
    assert 'before_run' in frames and '_init_model_weights' not in frames
    assert runner.iter == 0


def fake_wrapper(cls, module):
    """An instance of a DDP wrapper class around ``module`` without a
    process group (only what the hook looks at)."""
    wrapper = cls.__new__(cls)
    nn.Module.__init__(wrapper)
    wrapper.module = module
    return wrapper


def test_default_ddp_wrapper_fails_before_the_first_iteration(
        gan_cfg, gan_model):
    optim_wrapper = build_optim_wrapper(gan_model,
                                        copy.deepcopy(gan_cfg.optim_wrapper))
    hook = GANTrainCheckHook()
    runner = SimpleNamespace(
        model=fake_wrapper(MMDistributedDataParallel, gan_model),
        optim_wrapper=optim_wrapper)
    with pytest.raises(
            ValueError,
            match=r'MMDistributedDataParallel never calls '
            r'GANMaskRCNN.train_step: set model_wrapper_cfg=dict\('
            r"type='GANDistributedDataParallel'\) in the config"):
        hook.before_run(runner)
    # the right wrapper, or none, passes
    runner.model = fake_wrapper(GANDistributedDataParallel, gan_model)
    hook.before_run(runner)
    runner.model = gan_model
    hook.before_run(runner)


def test_check_hook_leaves_other_runs_alone(gan_cfg, gan_model):
    hook = GANTrainCheckHook()
    # val / test runners: the optim wrapper is still a config
    hook.before_run(
        SimpleNamespace(model=gan_model, optim_wrapper=gan_cfg.optim_wrapper))
    # models that are not GANMaskRCNN
    linear = nn.Linear(2, 2)
    hook.before_run(
        SimpleNamespace(
            model=linear,
            optim_wrapper=OptimWrapper(
                torch.optim.SGD(linear.parameters(), lr=0.1))))
