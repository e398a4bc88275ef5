"""The shipped configs build, and another MMDetection project inherits them
with one ``_base_`` line and overrides every knob by plain config keys."""
import copy
import os.path as osp
import textwrap

import pytest
import torch
import yaml
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


def load(name: str) -> Config:
    """A shipped config, by its path under ``configs/``."""
    return Config.fromfile(osp.join(CONFIGS, name))


def load_stock(base: str, tmp_path) -> Config:
    """MMDetection's config ``base`` (``mmdet::...``) as a project loads
    it: through a file whose one line inherits it."""
    stock_file = tmp_path / (
        base.replace('::', '__').replace('/', '__').replace('-', '_'))
    stock_file.write_text(f'_base_ = {base!r}\n')
    return Config.fromfile(str(stock_file))


def assert_same_dict(actual: dict, expected: dict, where: str) -> None:
    """``actual == expected``, compared key by key so that a failure names
    the first key that differs."""
    assert set(actual) == set(expected), (where, set(actual) ^ set(expected))
    for key in expected:
        assert actual[key] == expected[key], f'{where}.{key}'


def config_diff(child: dict, parent: dict) -> dict:
    """What ``child`` changes in ``parent``, as a child config file would
    write it: nested dicts as the keys they change, other values whole (a
    config merged into ``parent`` adds and changes keys, it removes none)."""
    assert set(child) >= set(parent), set(parent) - set(child)
    diff = {}
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(parent.get(key), dict):
            changes = config_diff(value, parent[key])
            if changes:
                diff[key] = changes
        elif key not in parent or parent[key] != value:
            diff[key] = value
    return diff


def merged(parent: dict, diff: dict) -> dict:
    """``diff`` merged into a copy of ``parent`` as MMEngine merges a child
    config into its base (nested dicts merged, other values replaced)."""
    result = copy.deepcopy(parent)
    for key, value in diff.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def all_finite(losses: dict) -> bool:
    """Every tensor of a detector's loss dict (values may be lists of
    per-level tensors) is finite."""
    values = []
    for value in losses.values():
        values += value if isinstance(value, (list, tuple)) else [value]
    return all(bool(torch.isfinite(v).all()) for v in values)


#: Top-level keys a GAN config adds to its stock config (the GAN runtime, as
#: configs/_base_/gan_default_runtime.py).
GAN_RUNTIME_KEYS = {'custom_imports', 'model_wrapper_cfg', 'custom_hooks'}
#: Keys of ``model`` that only the GAN model has.
GAME_MODEL_KEYS = {'discriminator', 'loss_adv', 'gan_cfg'}
#: Keys of ``model.roi_head`` that only an adversarial RoI head has.
ADV_ROI_HEAD_KEYS = {
    'adv_box_roi_extractor', 'adv_mask_roi_extractor', 'num_adv_samples',
    'adv_stages'
}


@pytest.mark.parametrize('name, base, detector, roi_head', [
    ('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py',
     'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'GANMaskRCNN',
     'AdversarialRoIHead'),
    ('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_cityscapes.py',
     'mmdet::cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py', 'GANMaskRCNN',
     'AdversarialRoIHead'),
    ('gan_cascade_rcnn/gan_cascade_mask_rcnn_r50_fpn_1x_coco.py',
     'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
     'GANCascadeRCNN', 'AdversarialCascadeRoIHead'),
    ('gan_htc/gan_htc_without_semantic_r50_fpn_1x_coco.py',
     'mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py',
     'GANHybridTaskCascade', 'AdversarialHybridTaskCascadeRoIHead'),
    ('gan_ms_rcnn/gan_ms_rcnn_r50_fpn_1x_coco.py',
     'mmdet::ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py', 'GANMaskScoringRCNN',
     'AdversarialMaskScoringRoIHead'),
    ('gan_point_rend/gan_point_rend_r50_caffe_fpn_ms_1x_coco.py',
     'mmdet::point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py',
     'GANPointRend', 'AdversarialPointRendRoIHead'),
])
def test_gan_configs_change_only_model_and_optim_wrapper(
        name, base, detector, roi_head, tmp_path):
    """A GAN config is its MMDetection config with the GAN model (the stock
    generator, an adversarial RoI head, the discriminators), one optimizer
    per player and the GAN runtime: nothing else changes."""
    cfg = load(name)
    stock = load_stock(base, tmp_path)
    # the GAN runtime, and nothing else added or changed
    assert set(cfg) == set(stock) | GAN_RUNTIME_KEYS
    assert cfg.custom_imports.imports == ['mmdet_gan']
    assert cfg.model_wrapper_cfg.type == 'GANDistributedDataParallel'
    assert 'GANTrainCheckHook' in [hook.type for hook in cfg.custom_hooks]
    for key in set(stock) - {'model', 'optim_wrapper', 'default_hooks'}:
        assert without_scope(cfg[key]) == without_scope(stock[key]), key
    hooks, stock_hooks = without_scope(cfg.default_hooks), without_scope(
        stock.default_hooks)
    assert hooks['checkpoint'].pop('backend_args') == dict(
        backend='atomic_local')
    assert hooks == stock_hooks
    # one optimizer per player; G keeps the stock one
    assert set(
        cfg.optim_wrapper) >= {'constructor', 'generator', 'discriminator'}
    # what MMDetection's --amp reads and switches
    assert cfg.optim_wrapper.type == stock.optim_wrapper.type == \
        'OptimWrapper'
    assert 'type' not in cfg.optim_wrapper.generator
    assert 'type' not in cfg.optim_wrapper.discriminator
    assert cfg.optim_wrapper.generator == without_scope({
        k: v
        for k, v in stock.optim_wrapper.items() if k != 'type'
    })
    # the generator is the stock detector apart from its type and the RoI
    # head's: backbone, neck, RPN, heads, extractors, train/test cfg
    assert cfg.model.type == detector
    assert cfg.model.roi_head.type == roi_head
    assert issubclass(MODELS.get(detector), MODELS.get(stock.model.type))
    assert issubclass(
        MODELS.get(roi_head), MODELS.get(stock.model.roi_head.type))
    model, stock_model = without_scope(cfg.model), without_scope(stock.model)
    assert set(model) == set(stock_model) | GAME_MODEL_KEYS
    for key in set(stock_model) - {'type', 'roi_head'}:
        assert model[key] == stock_model[key], key
    assert_same_dict(
        {
            k: v
            for k, v in model['roi_head'].items()
            if k not in ADV_ROI_HEAD_KEYS | {'type'}
        }, {
            k: v
            for k, v in stock_model['roi_head'].items() if k != 'type'
        }, 'model.roi_head')
    # it builds, with the reference adversarial branch
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == detector
    assert type(model.roi_head).__name__ == roi_head
    assert set(model.discriminator) == {'box', 'mask'}
    assert model.discriminator.box.roi_size == 28
    assert model.discriminator.box.in_channels == 256
    assert model.discriminator.mask.in_channels == 256


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


def test_every_config_folder_has_a_readme_and_a_metafile_of_its_configs():
    """As MMDetection's config folders: a README and a metafile.yml whose
    models are exactly the folder's configs."""
    folders = {
        osp.dirname(name)
        for name in mmdet_gan.config_paths.available_configs()
        if not name.startswith('_base_/')
    }
    for folder in sorted(folders):
        assert osp.isfile(osp.join(CONFIGS, folder, 'README.md')), folder
        with open(osp.join(CONFIGS, folder, 'metafile.yml')) as f:
            metafile = yaml.safe_load(f)
        [collection] = metafile['Collections']
        assert collection['README'] == f'configs/{folder}/README.md'
        listed = {model['Config'] for model in metafile['Models']}
        assert all(model['In Collection'] == collection['Name']
                   for model in metafile['Models']), folder
        assert listed == {
            f'configs/{name}'
            for name in mmdet_gan.config_paths.available_configs()
            if osp.dirname(name) == folder
        }, folder


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
    assert (model.game.disc_steps, model.game.adv_start_iter,
            model.game.adv_warmup_iters) == (2, 100, 50)
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


#: (baseline, GAN) pairs of comparison configs: each trains the same
#: generator on the same data with the same schedule.
COMPARISON_PAIRS = [
    ('mask_rcnn/mask_rcnn_r18_fpn_demo.py',
     'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py'),
    ('mask_rcnn/mask_rcnn_r18_fpn_demo.py',
     'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py'),
    ('mask_rcnn/mask_rcnn_r18_fpn_nuclei.py',
     'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_nuclei.py'),
    ('cascade_rcnn/cascade_mask_rcnn_r18_fpn_demo.py',
     'gan_cascade_rcnn/gan_cascade_mask_rcnn_r18_fpn_demo.py'),
    ('ms_rcnn/ms_rcnn_r18_fpn_demo.py',
     'gan_ms_rcnn/gan_ms_rcnn_r18_fpn_demo.py'),
]
MASK_RCNN_DEMO = 'mask_rcnn/mask_rcnn_r18_fpn_demo.py'
GAN_MASK_RCNN_DEMO = 'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py'
#: the demo game with both players (the nuclei config, the Cascade and MS
#: R-CNN demos and most model tests play it)
GAN_MASK_RCNN_BOX_D_DEMO = 'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py'


@pytest.mark.parametrize('baseline, gan', COMPARISON_PAIRS)
def test_gan_and_baseline_demo_configs_differ_only_in_the_game(baseline, gan):
    """The comparison configs train the same generator on the same data
    with the same schedule: only the GAN parts differ."""
    base = load(baseline)
    gan = load(gan)
    game_keys = {'model', 'optim_wrapper', 'custom_hooks', 'model_wrapper_cfg'}
    assert set(base.keys()) - game_keys == set(gan.keys()) - game_keys
    for key in set(base.keys()) - game_keys:
        assert base[key] == gan[key], key
    # the GAN runtime: the baseline's hooks plus GANTrainCheckHook
    assert gan.model_wrapper_cfg == dict(type='GANDistributedDataParallel')
    assert [hook.type for hook in gan.custom_hooks] == \
        [hook.type for hook in base.custom_hooks[:1]] + \
        ['GANTrainCheckHook'] + \
        [hook.type for hook in base.custom_hooks[1:]]
    # the GAN detector and RoI head are the baseline's, with the game
    assert issubclass(MODELS.get(gan.model.type), MODELS.get(base.model.type))
    assert issubclass(
        MODELS.get(gan.model.roi_head.type),
        MODELS.get(base.model.roi_head.type))
    assert set(gan.model) == set(base.model) | GAME_MODEL_KEYS
    for key in set(base.model) - {'type', 'roi_head'}:
        assert base.model[key] == gan.model[key], key
    assert_same_dict(
        {
            k: v
            for k, v in gan.model.roi_head.items()
            if k not in ADV_ROI_HEAD_KEYS | {'type'}
        }, {
            k: v
            for k, v in base.model.roi_head.items() if k != 'type'
        }, 'model.roi_head')
    # G: the baseline's optimizer, clipping and wrapper type
    assert gan.optim_wrapper.type == base.optim_wrapper.type
    assert gan.optim_wrapper.generator == {
        k: v
        for k, v in base.optim_wrapper.items() if k != 'type'
    }


@pytest.mark.parametrize('gan', [
    'gan_cascade_rcnn/gan_cascade_mask_rcnn_r18_fpn_demo.py',
    'gan_ms_rcnn/gan_ms_rcnn_r18_fpn_demo.py'
])
def test_gan_demo_configs_play_the_gan_mask_rcnn_demo_game(gan):
    """Every other GAN demo config plays the GAN Mask R-CNN demo's game
    with both players (its adversarial branch is sized in
    docs/benchmarks.md): the same extractors, samples per batch,
    discriminators, losses, schedule and optimizers."""
    ref = load(GAN_MASK_RCNN_BOX_D_DEMO)
    cfg = load(gan)
    for key in GAME_MODEL_KEYS:
        assert cfg.model[key] == ref.model[key], key
    for key in ('adv_box_roi_extractor', 'adv_mask_roi_extractor',
                'num_adv_samples'):
        assert cfg.model.roi_head[key] == ref.model.roi_head[key], key
    assert cfg.model.roi_head.get('adv_stages', 'last') == 'last'
    for key in ('optim_wrapper', 'model_wrapper_cfg', 'custom_hooks'):
        assert cfg[key] == ref[key], key


def test_cascade_demo_baseline_is_stock_cascade_at_the_demo_size(tmp_path):
    """The Cascade Mask R-CNN demo baseline is MMDetection's Cascade Mask
    R-CNN changed exactly as the Mask R-CNN demo baseline changes
    MMDetection's Mask R-CNN, on the same data with the same schedule and
    runtime."""
    mask_demo = load(MASK_RCNN_DEMO)
    demo = load('cascade_rcnn/cascade_mask_rcnn_r18_fpn_demo.py')
    assert set(demo) == set(mask_demo)
    for key in set(mask_demo) - {'model'}:
        assert demo[key] == mask_demo[key], key
    demo_changes = config_diff(
        without_scope(mask_demo.model),
        without_scope(
            load_stock('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
                       tmp_path).model))
    stock_model = without_scope(
        load_stock('mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
                   tmp_path).model)
    # Mask R-CNN's one box head and RoI sampler are one per stage here:
    # the demo's changes to them apply to each stage's
    head_changes = demo_changes['roi_head'].pop('bbox_head')
    stage_changes = demo_changes['train_cfg'].pop('rcnn')
    expected = merged(stock_model, demo_changes)
    expected['roi_head']['bbox_head'] = [
        merged(head, head_changes)
        for head in stock_model['roi_head']['bbox_head']
    ]
    expected['train_cfg']['rcnn'] = [
        merged(stage, stage_changes)
        for stage in stock_model['train_cfg']['rcnn']
    ]
    demo_model = without_scope(demo.model)
    assert_same_dict(demo_model, expected, 'model')
    assert_same_dict(demo_model['roi_head'], expected['roi_head'],
                     'model.roi_head')


def test_ms_rcnn_demo_baseline_is_stock_ms_rcnn_at_the_demo_size(tmp_path):
    """The Mask Scoring R-CNN demo baseline is the Mask R-CNN demo baseline
    with the changes MMDetection's Mask Scoring R-CNN makes to its Mask
    R-CNN (the MaskIoU head, as wide as the demo's heads), on the same data
    with the same schedule and runtime."""
    mask_demo = load(MASK_RCNN_DEMO)
    demo = load('ms_rcnn/ms_rcnn_r18_fpn_demo.py')
    assert set(demo) == set(mask_demo)
    for key in set(mask_demo) - {'model'}:
        assert demo[key] == mask_demo[key], key
    ms_changes = config_diff(
        without_scope(
            load_stock('mmdet::ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py',
                       tmp_path).model),
        without_scope(
            load_stock('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
                       tmp_path).model))
    # the MaskIoU head at the demo's width: its convs as the mask head's,
    # its fcs as the box head's, the demo's classes
    roi_head = mask_demo.model.roi_head
    ms_changes['roi_head']['mask_iou_head'].update(
        in_channels=roi_head.mask_head.in_channels,
        conv_out_channels=roi_head.mask_head.conv_out_channels,
        fc_out_channels=roi_head.bbox_head.fc_out_channels,
        num_classes=roi_head.mask_head.num_classes)
    expected = merged(without_scope(mask_demo.model), ms_changes)
    demo_model = without_scope(demo.model)
    assert_same_dict(demo_model, expected, 'model')
    assert_same_dict(demo_model['roi_head'], expected['roi_head'],
                     'model.roi_head')


def test_demo_default_plays_the_mask_player_and_box_d_adds_the_box_player():
    """The demo default plays the mask discriminator only; the box-d demo
    is the demo default plus the box player's three parts (its extractor,
    discriminator and loss) and nothing else; the nuclei config builds on
    the box-d demo."""
    demo = load(GAN_MASK_RCNN_DEMO)
    box_d = load(GAN_MASK_RCNN_BOX_D_DEMO)
    assert set(demo.model.discriminator) == {'mask'}
    assert set(demo.model.loss_adv) == {'mask'}
    assert 'adv_box_roi_extractor' not in demo.model.roi_head
    assert config_diff(box_d.to_dict(), demo.to_dict()) == {
        'model': {
            'roi_head': {
                'adv_box_roi_extractor':
                box_d.model.roi_head.adv_box_roi_extractor
            },
            'discriminator': {
                'box': box_d.model.discriminator.box
            },
            'loss_adv': {
                'box': box_d.model.loss_adv.box
            },
        }
    }
    # the box player at the demo's size, as the mask player
    assert box_d.model.roi_head.adv_box_roi_extractor == \
        demo.model.roi_head.adv_mask_roi_extractor
    assert box_d.model.discriminator.box.base_channels == \
        demo.model.discriminator.mask.base_channels
    nuclei = load('gan_mask_rcnn/gan_mask_rcnn_r18_fpn_nuclei.py')
    assert set(nuclei.model.discriminator) == {'box', 'mask'}


def test_discriminators_build_in_branch_order_whatever_the_key_order():
    """A child config that adds the box player to a mask-only parent lists
    it after the mask player; the model is still built box first, so it
    draws the same initial weights as a config that lists box first."""
    cfg = load(GAN_MASK_RCNN_BOX_D_DEMO)
    assert list(cfg.model.discriminator) == ['mask', 'box']
    box_first = copy.deepcopy(cfg.model)
    box_first.discriminator = dict(
        box=cfg.model.discriminator.box, mask=cfg.model.discriminator.mask)
    states = []
    for model_cfg in (cfg.model, box_first):
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()
        states.append(model.state_dict())
    assert list(states[0]) == list(states[1])
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key


@pytest.mark.parametrize('name', [
    'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py',
    'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py',
    'cascade_rcnn/cascade_mask_rcnn_r18_fpn_demo.py',
    'gan_cascade_rcnn/gan_cascade_mask_rcnn_r18_fpn_demo.py',
    'ms_rcnn/ms_rcnn_r18_fpn_demo.py',
    'gan_ms_rcnn/gan_ms_rcnn_r18_fpn_demo.py',
])
def test_demo_configs_build_and_compute_losses(name):
    """A demo config's model builds at the demo's width (no download: the
    demo trains from scratch) and computes finite losses."""
    cfg = load(name)
    assert cfg.model.backbone.init_cfg is None
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == cfg.model.type
    torch.manual_seed(0)
    data = model.data_preprocessor(
        demo_mm_inputs(
            1, [[3, 128, 128]], num_items=[2], num_classes=4, with_mask=True),
        True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert all_finite(losses)
    if hasattr(model, 'discriminator'):
        assert {f'loss_adv_g_{branch}'
                for branch in model.discriminator} <= set(losses)
        for discriminator in model.discriminator.values():
            assert discriminator.in_channels == 128
            assert discriminator.roi_size == 28


def test_adv16_coco_config_is_the_reference_with_16_positives():
    """The capped COCO config changes the number of judged positives and
    nothing else; the model it builds draws at most 16 per discriminator."""
    adv16 = load('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_adv16_1x_coco.py')
    reference = load(R50_COCO)
    assert reference.model.roi_head.get('num_adv_samples') is None
    assert config_diff(adv16.to_dict(), reference.to_dict()) == {
        'model': {
            'roi_head': {
                'num_adv_samples': 16
            }
        }
    }
    adv16.model.backbone.init_cfg = None
    model = MODELS.build(adv16.model)
    assert model.roi_head.num_adv_samples == 16
