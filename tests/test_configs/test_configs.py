"""The shipped configs build, and another MMDetection project can use them by
``_base_`` + ``custom_imports`` alone."""
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO_ROOT, 'configs')


@pytest.mark.parametrize('name, base', [
    ('gan_mask_rcnn_r50_fpn_1x_coco.py',
     'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
    ('gan_mask_rcnn_r50_fpn_1x_cityscapes.py',
     'mmdet::cityscapes/mask-rcnn_r50_fpn_1x_cityscapes.py'),
])
def test_gan_configs_change_only_model_and_optim_wrapper(
        name, base, tmp_path):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    stock_file = tmp_path / 'stock.py'
    stock_file.write_text(f'_base_ = {base!r}\n')
    stock = Config.fromfile(str(stock_file))
    assert cfg.custom_imports.imports == ['mmdet_gan']
    assert cfg.model.type == 'GANMaskRCNN'
    assert set(cfg.optim_wrapper) >= {'constructor', 'generator',
                                      'discriminator'}
    assert cfg.optim_wrapper.generator.optimizer.lr == \
        stock.optim_wrapper.optimizer.lr
    for key in ('train_dataloader', 'val_evaluator', 'param_scheduler',
                'train_cfg'):
        assert cfg[key] == stock[key], key
    # the generator is the stock Mask R-CNN apart from the RoI head's type
    for key in ('backbone', 'neck', 'rpn_head', 'train_cfg', 'test_cfg'):
        assert cfg.model[key] == stock.model[key], key
    model = MODELS.build(cfg.model)
    assert set(model.discriminator) == {'box', 'mask'}


def test_another_project_inherits_and_overrides(tmp_path):
    """A config written outside the repo: `_base_` + `custom_imports`,
    overriding num_classes, the backbone and the discriminators' RoI size."""
    base = osp.join(CONFIGS, 'gan_mask_rcnn_r50_fpn_1x_coco.py')
    project_cfg = tmp_path / 'my_project' / 'my_gan_config.py'
    project_cfg.parent.mkdir()
    project_cfg.write_text(
        textwrap.dedent(f"""
        _base_ = {base!r}
        custom_imports = dict(imports=['mmdet_gan'],
                              allow_failed_imports=False)
        extractor = dict(
            type='MultiLevelMaxRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=14),
            out_channels=256, featmap_strides=[4, 8, 16, 32], levels=[0, 1])
        model = dict(
            backbone=dict(depth=18, init_cfg=None),
            neck=dict(in_channels=[64, 128, 256, 512]),
            roi_head=dict(
                bbox_head=dict(num_classes=3),
                mask_head=dict(num_classes=3),
                adv_box_roi_extractor=extractor),
            discriminator=dict(box=dict(roi_size=14, num_convs=4)))
        """))
    cfg = Config.fromfile(str(project_cfg))
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.roi_head.bbox_head.num_classes == 3
    assert model.discriminator.box.roi_size == 14
    data = model.data_preprocessor(
        demo_mm_inputs(1, [[3, 128, 128]], num_items=[2], num_classes=3,
                       with_mask=True), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['loss_adv_g_box'])
    assert torch.isfinite(losses['loss_adv_g_mask'])
