import os.path as osp

import pytest

from ..conftest import tiny_run_options
from .tool_loader import REPO_ROOT, load_tool

compare_runs = load_tool('analysis_tools/compare_runs.py')


def test_format_table_mean_spread_and_difference():
    results = {
        'base': [{
            'coco/segm_mAP': 0.30,
            'coco/segm_mAP_l': -1.
        }, {
            'coco/segm_mAP': 0.32,
            'coco/segm_mAP_l': -1.
        }],
        'gan': [{
            'coco/segm_mAP': 0.33,
            'coco/segm_mAP_l': -1.
        }, {
            'coco/segm_mAP': 0.36,
            'coco/segm_mAP_l': -1.
        }],
    }
    table = compare_runs.format_table(results, [4, 7])
    assert '| segm AP | 0.310 ± 0.014 | 0.345 ± 0.021 | 0.035 ± 0.007 |' \
        in table
    assert 'bbox AP' not in table  # metrics absent from the runs are skipped
    assert 'APl' not in table  # COCO's -1: no large objects in the val set
    assert '| 4 | 0.300 / 0.330 |' in table  # one row per seed
    assert '| 7 | 0.320 / 0.360 |' in table


@pytest.mark.slow
def test_one_seed_end_to_end(tiny_demo_data, tmp_path):
    options = [
        opt for opt in tiny_run_options(tiny_demo_data, max_epochs=1)
        if not opt.startswith(
            ('val_evaluator', 'test_evaluator', 'default_hooks.checkpoint'))
    ] + ['train_cfg.val_interval=1']
    ann = osp.join(tiny_demo_data, 'annotations', 'instances_val.json')
    options.append(f'val_evaluator.0.ann_file={ann}')
    options.append(f'val_evaluator.1.ann_file={ann}')
    work_dir = str(tmp_path / 'cmp')
    table = compare_runs.main([
        '--base',
        osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                 'mask_rcnn_r18_fpn_demo.py'), '--gan',
        osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                 'gan_mask_rcnn_r18_fpn_demo.py'), '--seeds', '0',
        '--work-dir', work_dir, '--cfg-options', *options
    ])
    for name in ('segm AP', 'boundary AP', 'bbox AP'):
        assert f'| {name} |' in table
    for kind in ('base', 'gan'):
        assert osp.isfile(osp.join(work_dir, f'{kind}_seed0', 'done'))
    # a second call reuses the finished runs
    assert compare_runs.main([
        '--base',
        osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                 'mask_rcnn_r18_fpn_demo.py'), '--gan',
        osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                 'gan_mask_rcnn_r18_fpn_demo.py'), '--seeds', '0',
        '--work-dir', work_dir
    ]) == table


def test_folds_and_gan_only_options(monkeypatch, tmp_path):
    """Every seed runs on every fold, ``{fold}`` is substituted in the
    options, and --gan-cfg-options reach the GAN runs only."""
    calls = []

    def fake_train_one(config, seed, work_dir, cfg_options):
        calls.append((osp.basename(config), seed, osp.basename(work_dir),
                      list(cfg_options)))
        return {'coco/segm_mAP': 0.1 * seed + (0.05 if 'gan' in config else 0)}

    monkeypatch.setattr(compare_runs, 'train_one', fake_train_one)
    table = compare_runs.main([
        '--base', 'base.py', '--gan', 'gan.py', '--seeds', '0', '1', '--folds',
        '0', '2', '--work-dir',
        str(tmp_path), '--cfg-options', 'a=fold{fold}/x.json',
        '--gan-cfg-options', 'model.discriminator.box=None'
    ])
    assert calls[0] == ('base.py', 0, 'base_fold0_seed0', ['a=fold0/x.json'])
    assert calls[1] == ('gan.py', 0, 'gan_fold0_seed0',
                        ['a=fold0/x.json', 'model.discriminator.box=None'])
    assert calls[-1] == ('gan.py', 1, 'gan_fold2_seed1',
                         ['a=fold2/x.json', 'model.discriminator.box=None'])
    assert len(calls) == 8
    assert 'over fold/seed runs' in table
    assert '| 2/1 | 0.100 / 0.150 |' in table
