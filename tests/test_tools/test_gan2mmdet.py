import logging
import os
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.runner import load_checkpoint

from mmdet_gan.utils import atomic_io
from ..test_reliability.utils import FailingFile
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


def small_gan_checkpoint(value):
    return {
        'state_dict': {
            'backbone.w': torch.full((64, 64), float(value)),
            'discriminator.box.w': torch.ones(3)
        },
        'meta': {
            'epoch': value
        }
    }


class Unpicklable:
    """Fails torch.save while it pickles the checkpoint."""

    def __reduce__(self):
        raise RuntimeError('cannot pickle this')


@pytest.mark.parametrize('fault', ['serialisation', 'disk_full'])
def test_failure_mid_write_keeps_the_previous_output(tmp_path, monkeypatch,
                                                     fault):
    src, dst = tmp_path / 'gan.pth', tmp_path / 'out' / 'stock.pth'
    torch.save(small_gan_checkpoint(1), src)
    gan2mmdet.main([str(src), str(dst)])  # creates out/
    previous = dst.read_bytes()
    listing = sorted(os.listdir(dst.parent))
    assert listing == ['stock.pth']

    torch.save(small_gan_checkpoint(2), src)
    if fault == 'serialisation':
        strip = gan2mmdet.strip_discriminators

        def strip_then_add_unpicklable(checkpoint):
            converted, num_removed = strip(checkpoint)
            converted['bad'] = Unpicklable()  # after the weights
            return converted, num_removed

        monkeypatch.setattr(gan2mmdet, 'strip_discriminators',
                            strip_then_add_unpicklable)
        error, match = RuntimeError, 'cannot pickle this'
    else:
        real_fdopen = os.fdopen
        monkeypatch.setattr(atomic_io.os, 'fdopen',
                            lambda *a, **k: FailingFile(real_fdopen(*a, **k)))
        error, match = OSError, 'No space left on device'
    with pytest.raises(error, match=match):
        gan2mmdet.main([str(src), str(dst)])
    monkeypatch.undo()

    # the previous output is intact and no temporary file is left
    assert dst.read_bytes() == previous
    assert sorted(os.listdir(dst.parent)) == listing
    kept = torch.load(dst, weights_only=True)
    assert kept['meta'] == {'epoch': 1}
    assert set(kept['state_dict']) == {'backbone.w'}
    assert (kept['state_dict']['backbone.w'] == 1).all()
    # and the next conversion replaces it
    gan2mmdet.main([str(src), str(dst)])
    assert torch.load(dst, weights_only=True)['meta'] == {'epoch': 2}
    assert sorted(os.listdir(dst.parent)) == listing
