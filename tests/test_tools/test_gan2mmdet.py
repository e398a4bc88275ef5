import logging
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint

from .tool_loader import REPO_ROOT, load_tool

gan2mmdet = load_tool('model_converters/gan2mmdet.py')


@pytest.fixture(scope='module')
def r50_models():
    gan = MODELS.build(
        Config.fromfile(
            osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                     'gan_mask_rcnn_r50_fpn_1x_coco.py')).model)
    stock = MODELS.build(
        get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model)
    return gan, stock


def test_converted_checkpoint_loads_into_stock_mask_rcnn(r50_models, tmp_path):
    gan, stock = r50_models
    src, dst = tmp_path / 'gan.pth', tmp_path / 'stock.pth'
    torch.save(
        {
            'state_dict': gan.state_dict(),
            'meta': {
                'epoch': 12
            },
            'optimizer': {}
        }, src)
    gan2mmdet.main([str(src), str(dst)])
    converted = torch.load(dst, weights_only=True)
    assert converted['meta'] == {'epoch': 12}
    assert 'optimizer' not in converted
    result = stock.load_state_dict(converted['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in stock.state_dict().items():
        assert torch.equal(value, gan.state_dict()[key]), key


def test_stock_checkpoint_starts_gan_training(r50_models, tmp_path):
    """The reverse: load_from a stock Mask R-CNN checkpoint; only the
    discriminators are missing (freshly initialised)."""
    gan, stock = r50_models
    path = tmp_path / 'stock.pth'
    torch.save({'state_dict': stock.state_dict()}, path)
    disc_before = {
        k: v.clone()
        for k, v in gan.discriminator.state_dict().items()
    }
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        load_checkpoint(
            gan, str(path), map_location='cpu', strict=False, logger=logger)
    finally:
        logger.removeHandler(handler)
    text = '\n'.join(messages)
    assert 'missing keys in source state_dict: discriminator.' in text
    assert 'unexpected key' not in text
    for key, value in stock.state_dict().items():
        assert torch.equal(gan.state_dict()[key], value), key
    for key, value in gan.discriminator.state_dict().items():
        assert torch.equal(value, disc_before[key]), key
