# Copyright (c) mmdet-gan contributors. All rights reserved.
import json

import pytest

from .tool_loader import load_tool

METRICS = ('coco/segm_mAP', 'coco/segm_mAP_75', 'coco/bbox_mAP',
           'coco/bbox_mAP_75', 'coco/boundary_AP')


def write_run(path, value):
    """A finished compare_runs run whose final metrics all equal
    ``value``."""
    log = path / '20260101_000000' / 'vis_data' / 'scalars.json'
    log.parent.mkdir(parents=True)
    lines = [{'loss': 1.0, 'iter': 1}, {key: value - 0.5 for key in METRICS}]
    lines.append({key: value for key in METRICS})
    log.write_text('\n'.join(json.dumps(x) for x in lines) + '\n')
    (path / 'done').touch()


def make_variant(root, name, base, gan):
    for seed, (b, g) in enumerate(zip(base, gan)):
        write_run(root / name / f'base_seed{seed}', b)
        write_run(root / name / f'gan_seed{seed}', g)
    return f'{name}={root / name}'


def test_ablation_table_differences_per_variant(tmp_path):
    tool = load_tool('analysis_tools/ablation_table.py')
    base = [0.30, 0.40]
    first = make_variant(tmp_path, 'a', base, [0.32, 0.44])
    second = make_variant(tmp_path, 'b', base, [0.29, 0.40])
    table = tool.main(
        ['--seeds', '0', '1', '--variant', first, '--variant', second])
    rows = table.splitlines()
    assert rows[2].startswith('| baseline (absolute) | 0.350 ± 0.071')
    # mean of +0.02 and +0.04, their std 0.014; per-seed differences
    assert rows[3] == '| a | ' + ' | '.join(['+0.030 ± 0.014'] * 5) + \
        ' | +0.020, +0.040 |'
    assert rows[4].startswith('| b | -0.005 ± 0.007')
    assert rows[4].endswith('| -0.010, +0.000 |')
    # variants must share the baseline runs
    other = make_variant(tmp_path, 'c', [0.31, 0.40], [0.3, 0.4])
    with pytest.raises(SystemExit, match='baseline of seed 0 differs'):
        tool.main(
            ['--seeds', '0', '1', '--variant', first, '--variant', other])
    with pytest.raises(SystemExit, match='no finished run'):
        tool.main(['--seeds', '0', '1', '2', '--variant', first])
    with pytest.raises(SystemExit, match='LABEL=WORK_DIR'):
        tool.main(['--seeds', '0', '--variant', 'nolabel'])
