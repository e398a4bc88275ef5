"""The shipped configs build, and another MMDetection project inherits them
with one ``_base_`` line and overrides every knob by plain config keys."""
import os.path as osp
import textwrap

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmdet_gan

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO_ROOT, 'configs')
R50_COCO = 'gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py'
INHERIT_LINE = f'_base_ = __import__(\'mmdet_gan\').config_path({R50_COCO!r})'


def without_scope(value):
    """``value`` without the ``_scope_`` keys MMEngine adds to what comes
    from a ``mmdet::`` base (the same setting written in our file has
    none)."""
    if isinstance(value, dict):
        return {
            k: without_scope(v)
            for k, v in value.items() if k != '_scope_'
        }
    if isinstance(value, (list, tuple)):
        return [without_scope(v) for v in value]
    return value


@pytest.mark.parametrize('name, base', [
    ('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py',
     'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
    ('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_cityscapes.py',
     'mmdet::cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py'),
])
def test_gan_configs_change_only_model_and_optim_wrapper(name, base, tmp_path):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    stock_file = tmp_path / 'stock.py'
    stock_file.write_text(f'_base_ = {base!r}\n')
    stock = Config.fromfile(str(stock_file))
    assert cfg.custom_imports.imports == ['mmdet_gan']
    assert cfg.model.type == 'GANMaskRCNN'
    assert set(
        cfg.optim_wrapper) >= {'constructor', 'generator', 'discriminator'}
    # what MMDetection's --amp reads and switches
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'type' not in cfg.optim_wrapper.generator
    assert 'type' not in cfg.optim_wrapper.discriminator
    assert cfg.optim_wrapper.generator.optimizer.lr == \
        stock.optim_wrapper.optimizer.lr
    for key in ('train_dataloader', 'val_evaluator', 'param_scheduler',
                'train_cfg', 'load_from'):
        assert without_scope(cfg.get(key)) == without_scope(
            stock.get(key)), key
    # the generator is the stock Mask R-CNN apart from the RoI head's type
    for key in ('backbone', 'neck', 'rpn_head', 'train_cfg', 'test_cfg'):
        assert cfg.model[key] == stock.model[key], key
    for key in ('bbox_head', 'mask_head', 'bbox_roi_extractor',
                'mask_roi_extractor'):
        assert cfg.model.roi_head[key] == stock.model.roi_head[key], key
    model = MODELS.build(cfg.model)
    assert set(model.discriminator) == {'box', 'mask'}
    assert model.discriminator.box.roi_size == 28
    assert model.discriminator.box.in_channels == 256


def test_no_helper_variables_in_the_shipped_configs():
    """Every top-level key of a shipped config is one MMEngine/MMDetection
    reads: a helper variable would be a knob whose override is lost."""
    runner_keys = {
        'model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg',
        'test_cfg', 'train_dataloader', 'val_dataloader', 'test_dataloader',
        'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks',
        'custom_imports', 'default_scope', 'env_cfg', 'vis_backends',
        'visualizer', 'log_processor', 'log_level', 'load_from', 'resume',
        'randomness', 'auto_scale_lr', 'model_wrapper_cfg', 'backend_args',
        'dataset_type', 'data_root', 'train_pipeline', 'test_pipeline'
    }
    for name in mmdet_gan.config_paths.available_configs():
        if name.startswith('_base_/'):
            continue
        cfg = Config.fromfile(mmdet_gan.config_path(name))
        # dataset_type ... test_pipeline come from MMDetection's own bases
        assert set(cfg.keys()) <= runner_keys, (name, set(cfg) - runner_keys)


def write_child_config(tmp_path, body: str) -> str:
    path = tmp_path / 'my_project' / 'configs' / 'my_gan_config.py'
    path.parent.mkdir(parents=True)
    path.write_text(INHERIT_LINE + '\n' + textwrap.dedent(body))
    return str(path)


def test_config_path_line_inherits_from_outside_the_repo(tmp_path):
    child = write_child_config(
        tmp_path, 'model = dict(backbone=dict('
        'init_cfg=None))\n')
    cfg = Config.fromfile(child)
    assert cfg.model.type == 'GANMaskRCNN'
    assert cfg.model.backbone.init_cfg is None
    # MMEngine evaluated the line: the base is our installed config
    assert cfg.filename == child
    assert osp.samefile(
        mmdet_gan.config_path(R50_COCO),
        osp.join(mmdet_gan.config_paths.config_dir(), R50_COCO))
    with pytest.raises(FileNotFoundError, match='gan_mask_rcnn_r50_fpn_1x'):
        mmdet_gan.config_path('gan_mask_rcnn/no_such_config.py')


CHILD_OVERRIDES = """
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(
        bbox_head=dict(num_classes=3),
        mask_head=dict(num_classes=3),
        adv_box_roi_extractor=dict(
            roi_layer=dict(output_size=14), levels=[0, 1]),
        adv_mask_roi_extractor=dict(
            type='RegistrySingleRoIExtractor',
            roi_layer=dict(output_size=14)),
        num_adv_samples=8),
    discriminator=dict(
        box=dict(base_channels=32), mask=dict(base_channels=16)),
    loss_adv=dict(
        box=dict(gan_type='lsgan', loss_weight=0.1),
        mask=dict(loss_weight=0.25)),
    gan_cfg=dict(disc_steps=2, adv_start_iter=100, adv_warmup_iters=50))
optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=0.01)),
    discriminator=dict(
        optimizer=dict(_delete_=True, type='Adam', betas=(0.5, 0.999)),
        lr_factor=0.5,
        paramwise_cfg=dict(_delete_=True)))
"""


def test_child_overrides_every_knob(tmp_path):
    cfg = Config.fromfile(write_child_config(tmp_path, CHILD_OVERRIDES))
    model = MODELS.build(cfg.model)
    head = model.roi_head
    # RoI size and extractors
    assert head.adv_box_roi_extractor.roi_layers[0].output_size == (14, 14)
    assert head.adv_box_roi_extractor.levels == [0, 1]
    assert type(head.adv_mask_roi_extractor).__name__ == \
        'RegistrySingleRoIExtractor'
    assert head.adv_mask_roi_extractor.roi_layers[0].output_size == (14, 14)
    assert head.num_adv_samples == 8
    # the discriminators follow the extractors' size, with the new widths
    box, mask = model.discriminator.box, model.discriminator.mask
    assert box.roi_size == mask.roi_size == 14
    assert box.convs[0].conv.out_channels == 32
    assert mask.convs[0].conv.out_channels == 16
    # loss types and weights
    assert model.loss_adv.box.gan_type == 'lsgan'
    assert model.loss_adv.box.loss_weight == 0.1
    assert model.loss_adv.mask.loss_weight == 0.25
    # the game's schedule
    assert (model.disc_steps, model.adv_start_iter,
            model.adv_warmup_iters) == (2, 100, 50)
    # the D optimizer
    wrappers = build_optim_wrapper(model, cfg.optim_wrapper)
    gen_opt = wrappers['generator'].optimizer
    disc_opt = wrappers['discriminator'].optimizer
    assert type(disc_opt).__name__ == 'Adam'
    assert gen_opt.param_groups[0]['lr'] == pytest.approx(0.01)
    assert all(group['lr'] == pytest.approx(0.005)
               for group in disc_opt.param_groups)
    assert disc_opt.param_groups[0]['betas'] == (0.5, 0.999)


def test_cfg_options_reach_the_model(tmp_path):
    """What ``--cfg-options`` does: merge_from_dict on the loaded config."""
    cfg = Config.fromfile(
        write_child_config(
            tmp_path, """
        model = dict(backbone=dict(depth=18, init_cfg=None),
                     neck=dict(in_channels=[64, 128, 256, 512]))
        """))
    cfg.merge_from_dict({
        'model.loss_adv.box.loss_weight':
        0.5,
        'model.roi_head.adv_box_roi_extractor.roi_layer.output_size':
        14,
        'model.discriminator.box.num_convs':
        4,
        'optim_wrapper.discriminator.lr_factor':
        0.1,
    })
    model = MODELS.build(cfg.model)
    assert model.loss_adv.box.loss_weight == 0.5
    assert model.discriminator.box.roi_size == 14
    wrappers = build_optim_wrapper(model, cfg.optim_wrapper)
    lrs = {
        round(group['lr'], 8)
        for group in wrappers['discriminator'].optimizer.param_groups
    }
    assert lrs == {0.002, 0.004}  # lr 0.02 x 0.1, biases x2


def test_child_config_trains_a_loss_step(tmp_path):
    """The overridden model runs: the mask branch at a RoI size (14) other
    than the mask head's (28) resizes the masks."""
    cfg = Config.fromfile(write_child_config(tmp_path, CHILD_OVERRIDES))
    model = MODELS.build(cfg.model)
    model.init_weights()
    data = model.data_preprocessor(
        demo_mm_inputs(
            1, [[3, 128, 128]], num_items=[2], num_classes=3, with_mask=True),
        True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['loss_adv_g_box'])
    assert torch.isfinite(losses['loss_adv_g_mask'])


@pytest.mark.parametrize('data', ['demo', 'nuclei'])
def test_gan_and_baseline_demo_configs_differ_only_in_the_game(data):
    """The comparison configs train the same generator on the same data
    with the same schedule: only the GAN parts differ."""
    base = Config.fromfile(
        osp.join(CONFIGS, 'mask_rcnn', f'mask_rcnn_r18_fpn_{data}.py'))
    gan = Config.fromfile(
        osp.join(CONFIGS, 'gan_mask_rcnn', f'gan_mask_rcnn_r18_fpn_{data}.py'))
    game_keys = {'model', 'optim_wrapper', 'custom_hooks', 'model_wrapper_cfg'}
    assert set(base.keys()) - game_keys == set(gan.keys()) - game_keys
    for key in set(base.keys()) - game_keys:
        assert base[key] == gan[key], key
    game_model_keys = {'type', 'discriminator', 'loss_adv', 'gan_cfg'}
    for key in set(base.model) | set(gan.model):
        if key not in game_model_keys | {'roi_head'}:
            assert base.model[key] == gan.model[key], key
    adv_keys = {
        'type', 'adv_box_roi_extractor', 'adv_mask_roi_extractor',
        'num_adv_samples'
    }
    assert {
        k: v
        for k, v in base.model.roi_head.items() if k not in adv_keys
    } == {
        k: v
        for k, v in gan.model.roi_head.items() if k not in adv_keys
    }
    generator = gan.optim_wrapper.generator
    assert generator.optimizer == base.optim_wrapper.optimizer
    assert generator.clip_grad == base.optim_wrapper.clip_grad
