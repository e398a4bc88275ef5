# Copyright (c) mmdet-gan contributors. All rights reserved.
import importlib.util
import os.path as osp

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdet_gan.datasets import (DEMO_CLASSES, DEMO_PALETTE, DemoDatasetConfig,
                                create_demo_dataset)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'mask_rcnn', 'mask_rcnn_r18_fpn_demo.py')


def _load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'compare_masks.py')
    spec = importlib.util.spec_from_file_location('compare_masks', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A randomly initialised demo model, saved as a plain checkpoint."""
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    model = MODELS.build(Config.fromfile(CONFIG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'random.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                dataset_meta=dict(classes=DEMO_CLASSES,
                                  palette=DEMO_PALETTE))), path)
    return path


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('demo'))
    create_demo_dataset(out,
                        DemoDatasetConfig(num_train=1, num_val=2, img_size=96))
    return out


def test_compare_masks(tmp_path, checkpoint, dataset):
    tool = _load_tool()
    out = str(tmp_path / 'sub' / 'compare.png')
    panel = 80
    argv = [
        '--model', CONFIG, checkpoint, 'random A', '--model', CONFIG,
        checkpoint, '--out', out, '--num-images', '2', '--score-thr', '0',
        '--panel-size',
        str(panel), '--ann-file',
        osp.join(dataset, 'annotations', 'instances_val.json'), '--img-dir',
        osp.join(dataset, 'val'), '--device', 'cpu'
    ]
    assert tool.main(argv) == 0
    img = cv2.imread(out)
    assert img is not None
    # Two rows; ground truth + two models.
    assert img.shape == (tool.HEADER_PX + 2 * panel, 3 * panel, 3)
    # The panels are drawn, not blank.
    assert img[tool.HEADER_PX:].std() > 10


def test_parse_args_errors(tmp_path, checkpoint, capsys):
    tool = _load_tool()
    with pytest.raises(SystemExit):
        tool.parse_args(['--model', CONFIG])
    assert 'CONFIG CHECKPOINT [LABEL]' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(['--model', CONFIG, str(tmp_path / 'none.pth')])
    assert 'no such file' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(['--model', CONFIG, checkpoint, '--score-thr', '1.5'])
    assert '--score-thr must be in [0, 1]' in capsys.readouterr().err
    args = tool.parse_args(['--model', CONFIG, checkpoint])
    assert args.model[0].label == 'mask_rcnn_r18_fpn_demo'
