# Copyright (c) mmdet-gan contributors.
"""Train a baseline and a GAN config on the same data with the same schedule
for several seeds, evaluate both (COCO bbox + segm, Boundary AP), and print
a table of mean and spread of each metric and the GAN - baseline difference.

Usage:
    python tools/analysis_tools/compare_runs.py \
        --base configs/mask_rcnn/mask_rcnn_r18_fpn_demo.py \
        --gan configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py \
        --seeds 0 1 2 --work-dir work_dirs/compare

Any baseline / GAN pair of configs works the same way, e.g. the other
detectors' demo configs::

    python tools/analysis_tools/compare_runs.py \
        --base configs/cascade_rcnn/cascade_mask_rcnn_r18_fpn_demo.py \
        --gan configs/gan_cascade_rcnn/gan_cascade_mask_rcnn_r18_fpn_demo.py \
        --seeds 0 1 2 --work-dir work_dirs/compare_cascade_demo

Each run is ``tools/train.py`` in a subprocess on a small wrapper config that
inherits the given one, sets ``randomness.seed`` and adds
``BoundaryIoUMetric`` to the evaluators. Runs whose final metrics already
exist in the work dir are not repeated, so an interrupted comparison resumes.

``--folds A B ...`` repeats every seed on each fold: ``{fold}`` in the
``--cfg-options`` values is replaced by the fold's name (e.g. the annotation
files of ``data/nuclei/fold{fold}/``), and the runs are labelled
``fold/seed``. ``--gan-cfg-options`` are passed to the GAN runs only, for
ablations (``model.discriminator.box=None
model.roi_head.adv_box_roi_extractor=None``: the mask branch alone).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

METRICS = [
    ('bbox AP', 'coco/bbox_mAP'),
    ('bbox AP50', 'coco/bbox_mAP_50'),
    ('bbox AP75', 'coco/bbox_mAP_75'),
    ('bbox APs', 'coco/bbox_mAP_s'),
    ('bbox APm', 'coco/bbox_mAP_m'),
    ('bbox APl', 'coco/bbox_mAP_l'),
    ('segm AP', 'coco/segm_mAP'),
    ('segm AP50', 'coco/segm_mAP_50'),
    ('segm AP75', 'coco/segm_mAP_75'),
    ('segm APs', 'coco/segm_mAP_s'),
    ('segm APm', 'coco/segm_mAP_m'),
    ('segm APl', 'coco/segm_mAP_l'),
    ('boundary AP', 'coco/boundary_AP'),
    ('boundary AP50', 'coco/boundary_AP50'),
    ('boundary AP75', 'coco/boundary_AP75'),
]

#: Metrics of the per-seed table.
PER_SEED_METRICS = ('bbox AP', 'segm AP', 'segm AP75', 'boundary AP')

WRAPPER_TEMPLATE = """_base_ = {config!r}
randomness = dict(seed={seed}, deterministic=False)
val_evaluator = [
    {{{{_base_.val_evaluator}}}},
    dict(type='BoundaryIoUMetric', ann_file={ann_file!r}, dilation_ratio=0.02),
]
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best=None, max_keep_ckpts=1))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare a baseline and a GAN config over several seeds')
    parser.add_argument(
        '--base', default='configs/mask_rcnn/mask_rcnn_r18_fpn_demo.py')
    parser.add_argument(
        '--gan', default='configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/compare_runs')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra --cfg-options passed to both runs (e.g. a shorter '
        'schedule: train_cfg.max_epochs=4)')
    parser.add_argument(
        '--gan-cfg-options',
        nargs='+',
        default=[],
        help='extra --cfg-options for the GAN runs only (an ablation)')
    parser.add_argument(
        '--folds',
        nargs='+',
        default=None,
        help='run every seed on each of these folds; "{fold}" in the '
        '--cfg-options values is replaced by the fold')
    parser.add_argument(
        '--out', help='also write the table (markdown) to this file')
    return parser.parse_args(argv)


def final_metrics(work_dir: str) -> Optional[Dict[str, float]]:
    """The metrics of the last validation in a run's scalar logs."""
    last = None
    if not osp.isdir(work_dir):
        return None
    for run in sorted(os.listdir(work_dir)):
        log = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if not osp.isfile(log):
            continue
        with open(log) as f:
            for line in f:
                record = json.loads(line)
                if any(key.startswith('coco/') for key in record):
                    last = record
    return last


def train_one(config: str, seed: int, work_dir: str,
              cfg_options: List[str]) -> Dict[str, float]:
    metrics = final_metrics(work_dir)
    if metrics is not None and osp.isfile(osp.join(work_dir, 'done')):
        print(f'[compare_runs] {work_dir}: done before, reusing its metrics')
        return metrics
    from mmengine.config import Config
    base_cfg = Config.fromfile(config)
    ann_file = base_cfg.val_evaluator['ann_file']
    os.makedirs(work_dir, exist_ok=True)
    wrapper = osp.join(work_dir, f'seed{seed}_{osp.basename(config)}')
    with open(wrapper, 'w') as f:
        f.write(
            WRAPPER_TEMPLATE.format(
                config=osp.abspath(config), seed=seed, ann_file=ann_file))
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), wrapper, '--work-dir',
        work_dir
    ]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    print('[compare_runs] ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    metrics = final_metrics(work_dir)
    if metrics is None:
        raise RuntimeError(f'{work_dir}: training finished without a '
                           'validation: set train_cfg.val_interval so the '
                           'last epoch is evaluated')
    open(osp.join(work_dir, 'done'), 'w').close()
    return metrics


def summarise(values: List[float]) -> str:
    mean = statistics.mean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.
    return f'{mean:.3f} ± {spread:.3f}'


def metric_values(runs: List[Dict[str, float]], key: str) -> List[float]:
    """``key``'s value in each run; COCO's -1 (no object of that size in the
    val set) counts as absent."""
    return [run[key] for run in runs if run.get(key, -1.) >= 0]


def format_table(results: Dict[str, List[Dict[str, float]]],
                 seeds: List,
                 runs_name: str = 'seeds') -> str:
    """Markdown table: mean ± std over the runs and the mean difference,
    then one row per run (labelled by ``seeds``) for ``PER_SEED_METRICS``.
    Metrics that a run does not report (or reports as -1) are left out."""
    lines = [
        f'| metric (mean ± std over {runs_name} {list(seeds)}) | baseline | '
        'GAN | GAN - baseline |', '| --- | --- | --- | --- |'
    ]
    for name, key in METRICS:
        base = metric_values(results['base'], key)
        gan = metric_values(results['gan'], key)
        if len(base) != len(results['base']) or \
                len(gan) != len(results['gan']) or not base:
            continue
        diffs = [g - b for g, b in zip(gan, base)]
        lines.append(f'| {name} | {summarise(base)} | {summarise(gan)} | '
                     f'{summarise(diffs)} |')
    keys = dict(METRICS)
    per_seed = [
        name for name in PER_SEED_METRICS if all(keys[name] in run
                                                 for kind in ('base', 'gan')
                                                 for run in results[kind])
    ]
    if per_seed:
        lines += [
            '',
            f'| {runs_name[:-1]} | ' + ' | '.join(f'{name} baseline / GAN'
                                                  for name in per_seed) + ' |',
            '| --- |' + ' --- |' * len(per_seed)
        ]
        for seed, base, gan in zip(seeds, results['base'], results['gan']):
            cells = [
                f'{base[keys[name]]:.3f} / {gan[keys[name]]:.3f}'
                for name in per_seed
            ]
            lines.append(f'| {seed} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> str:
    args = parse_args(argv)
    results = {'base': [], 'gan': []}
    labels = []
    for fold in args.folds or [None]:
        options = [
            opt.replace('{fold}', fold) if fold is not None else opt
            for opt in args.cfg_options
        ]
        for seed in args.seeds:
            run = f'seed{seed}' if fold is None else f'fold{fold}_seed{seed}'
            labels.append(seed if fold is None else f'{fold}/{seed}')
            for kind, config, extra in (('base', args.base, []),
                                        ('gan', args.gan,
                                         args.gan_cfg_options)):
                work_dir = osp.join(args.work_dir, f'{kind}_{run}')
                results[kind].append(
                    train_one(config, seed, work_dir, options + extra))
    table = format_table(results, labels,
                         'seeds' if args.folds is None else 'fold/seed runs')
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    return table


if __name__ == '__main__':
    # imported here: importing this tool stays free of mmdet_gan
    from mmdet_gan.utils.warning_filters import \
        ignore_pkg_resources_deprecation
    ignore_pkg_resources_deprecation()
    main()
