# Copyright (c) mmdet-gan contributors. All rights reserved.
"""One table for several GAN variants compared with the same baseline runs.

Each variant is a ``compare_runs.py`` work dir (``base_seed{s}`` and
``gan_seed{s}`` for every seed); the variants must share the baseline runs
(the same seeds' final metrics; e.g. one work dir and the others' baseline
folders linked to it). Nothing is trained: the final metrics of the runs
are read, and for each variant the table gives the mean ± std over the
seeds of GAN - baseline and the per-seed differences, with the baseline's
own mean ± std on the first row.

Usage::

    python tools/analysis_tools/ablation_table.py --seeds 0 1 2 \\
        --variant "both=work_dirs/compare_nuclei_fold0" \\
        --variant "mask only=work_dirs/abl/nuclei_mask_only" \\
        --out ablation.md
"""
import argparse
import functools
import importlib.util
import os.path as osp
import statistics
import sys
from typing import Dict, List, Optional, Sequence, Tuple

HERE = osp.dirname(osp.abspath(__file__))

#: (column label, metric key) of the table.
COLUMNS = (('segm AP', 'coco/segm_mAP'), ('segm AP75', 'coco/segm_mAP_75'),
           ('bbox AP', 'coco/bbox_mAP'), ('bbox AP75', 'coco/bbox_mAP_75'),
           ('boundary AP', 'coco/boundary_AP'))


@functools.lru_cache(maxsize=None)
def _compare_runs():
    """``compare_runs.py`` (its ``final_metrics``), loaded once."""
    spec = importlib.util.spec_from_file_location(
        'compare_runs', osp.join(HERE, 'compare_runs.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_variant(item: str) -> Tuple[str, str]:
    label, sep, work_dir = item.partition('=')
    if not sep or not label or not work_dir:
        raise ValueError(f'--variant takes LABEL=WORK_DIR, got {item!r}')
    return label, work_dir


def read_runs(work_dir: str, seeds: Sequence[int]) -> Dict[str, List[dict]]:
    """``{'base': [...], 'gan': [...]}`` final metrics, one per seed.

    Raises:
        FileNotFoundError: a run of a seed has no final metrics.
    """
    final_metrics = _compare_runs().final_metrics
    runs = {'base': [], 'gan': []}
    for seed in seeds:
        for kind in runs:
            path = osp.join(work_dir, f'{kind}_seed{seed}')
            metrics = final_metrics(path)
            if metrics is None or not osp.isfile(osp.join(path, 'done')):
                raise FileNotFoundError(
                    f'{path}: no finished run (run compare_runs.py with '
                    f'--work-dir {work_dir} --seeds {seed} first)')
            runs[kind].append(metrics)
    return runs


def _mean_std(values: List[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.
    return f'{statistics.mean(values):+.3f} ± {spread:.3f}'


def ablation_table(variants: Sequence[Tuple[str, str]],
                   seeds: Sequence[int]) -> str:
    """The markdown table (see the module docstring).

    Raises:
        ValueError: the variants do not share their baseline runs.
    """
    runs = [(label, read_runs(work_dir, seeds))
            for label, work_dir in variants]
    base = runs[0][1]['base']
    for label, variant in runs[1:]:
        for seed, a, b in zip(seeds, base, variant['base']):
            if any(a.get(key) != b.get(key) for _, key in COLUMNS):
                raise ValueError(
                    f'{label}: baseline of seed {seed} differs from '
                    f'{runs[0][0]}\'s; the variants must share the baseline '
                    'runs')
    header = '| variant (GAN - baseline, seeds ' + ', '.join(
        str(s) for s in seeds) + ') | ' + ' | '.join(
            name for name, _ in COLUMNS) + ' | per seed, segm AP |'
    lines = [header, '| --- |' + ' ---: |' * (len(COLUMNS) + 1)]
    cells = []
    for _, key in COLUMNS:
        values = [run[key] for run in base]
        spread = statistics.stdev(values) if len(values) > 1 else 0.
        cells.append(f'{statistics.mean(values):.3f} ± {spread:.3f}')
    lines.append('| baseline (absolute) | ' + ' | '.join(cells) + ' | ' +
                 ', '.join(f'{run["coco/segm_mAP"]:.3f}'
                           for run in base) + ' |')
    for label, variant in runs:
        cells = [
            _mean_std([g[key] - b[key] for g, b in zip(variant['gan'], base)])
            for _, key in COLUMNS
        ]
        per_seed = ', '.join(f'{g["coco/segm_mAP"] - b["coco/segm_mAP"]:+.3f}'
                             for g, b in zip(variant['gan'], base))
        lines.append(f'| {label} | ' + ' | '.join(cells) + f' | {per_seed} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='GAN variants against shared baseline runs, one table')
    parser.add_argument('--seeds', type=int, nargs='+', required=True)
    parser.add_argument(
        '--variant',
        action='append',
        required=True,
        help='LABEL=WORK_DIR of a compare_runs.py comparison (repeat)')
    parser.add_argument('--out', help='also write the table here')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    try:
        table = ablation_table([parse_variant(v) for v in args.variant],
                               args.seeds)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'ablation_table.py: error: {err}')
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    return table


if __name__ == '__main__':
    main()
