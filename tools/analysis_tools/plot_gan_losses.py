# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Plot GAN Mask R-CNN training curves from an MMEngine scalar log.

Reads a json log MMEngine writes under ``{work_dir}/{timestamp}/vis_data/``
(``scalars.json`` or ``{timestamp}.json``, which hold the same lines: one
json object per line, training lines with ``iter`` and the losses,
validation lines with metrics and no loss) and draws, over iterations, one
panel each for the generator losses, the discriminator losses and the
discriminator's mean scores on real and fake inputs (0.5 marked).

Example::

    python tools/analysis_tools/plot_gan_losses.py \\
        work_dirs/gan_mask_rcnn/20260101_120000/vis_data/scalars.json \\
        --out gan_losses.png

``--compare`` draws the discriminators' mean scores of several runs (one
panel per run, e.g. the variants of an ablation), each log given as
``LABEL=PATH``::

    python tools/analysis_tools/plot_gan_losses.py --compare \\
        separate=work_dirs/a/gan_seed0/2026*/vis_data/scalars.json \\
        joint=work_dirs/b/gan_seed0/2026*/vis_data/scalars.json \\
        --out scores.png
"""
import argparse
import json
import os.path as osp
import sys
import warnings
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

GENERATOR_KEYS = ('loss', 'loss_cls', 'loss_bbox', 'loss_mask',
                  'loss_adv_g_box', 'loss_adv_g_mask')
DISCRIMINATOR_KEYS = ('loss_adv_d_box', 'loss_adv_d_mask')
SCORE_KEYS = ('score_d_box_real', 'score_d_box_fake', 'score_d_mask_real',
              'score_d_mask_fake')
# Keys only a GAN run logs.
GAN_KEYS = ('loss_adv_g_box', 'loss_adv_g_mask') + DISCRIMINATOR_KEYS + \
    SCORE_KEYS
PANELS = (('Generator losses', GENERATOR_KEYS), ('Discriminator losses',
                                                 DISCRIMINATOR_KEYS),
          ('Discriminator scores', SCORE_KEYS))
OTHER_PANEL = 'Other'

Curves = Dict[str, Tuple[List[float], List[float]]]


def load_scalar_log(log_file: str) -> Curves:
    """Read the training scalars of an MMEngine json log.

    A line is a training line if it has a key starting with ``loss``; its x
    value is ``iter`` (the global iteration), else ``step``.

    Args:
        log_file (str): Path of the ``vis_data/*.json`` log.

    Returns:
        dict[str, tuple[list, list]]: Each numeric key of the training
        lines mapped to its (iterations, values), in file order.

    Raises:
        FileNotFoundError: If ``log_file`` does not exist.
        ValueError: If a line is not a json object, or no line is a
            training line.
    """
    if not osp.isfile(log_file):
        raise FileNotFoundError(f'log file not found: {log_file}')
    curves: Curves = OrderedDict()
    with open(log_file, encoding='utf-8', errors='replace') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                raise ValueError(
                    f'{log_file} is not an MMEngine json scalar log: line '
                    f'{lineno} is not a json object')
            if not any(key.startswith('loss') for key in record):
                continue  # validation or test metrics
            x = record.get('iter', record.get('step'))
            if not isinstance(x, (int, float)):
                raise ValueError(f'{log_file}: training line {lineno} has '
                                 'neither "iter" nor "step"')
            for key, value in record.items():
                if key in ('iter', 'step') or isinstance(value, bool) or \
                        not isinstance(value, (int, float)):
                    continue
                xs, ys = curves.setdefault(key, ([], []))
                xs.append(x)
                ys.append(value)
    if not curves:
        raise ValueError(f'{log_file} has no training lines (lines with a '
                         '"loss..." key); is it an MMEngine vis_data log?')
    return curves


def _panels(keys: Optional[Sequence[str]]) -> List[Tuple[str, List[str]]]:
    """Panel titles and their keys: the default groups, or ``keys``."""
    if keys is None:
        return [(title, list(group)) for title, group in PANELS]
    panels = [(title, [key for key in group if key in keys])
              for title, group in PANELS]
    known = {key for _, group in PANELS for key in group}
    panels.append((OTHER_PANEL, [key for key in keys if key not in known]))
    return panels


def gan_loss_figure(log_file: str,
                    keys: Optional[Sequence[str]] = None) -> Figure:
    """Draw the generator losses, discriminator losses and scores of a log.

    Keys missing from the log are skipped, and so are panels left empty.
    A log without any GAN key (a plain Mask R-CNN run) is drawn with a
    warning saying so.

    Args:
        log_file (str): Path of the MMEngine ``vis_data/*.json`` log.
        keys (Sequence[str], optional): Plot only these keys; the known ones
            go to their usual panel, the others to an extra panel. Defaults
            to None (all of ``GENERATOR_KEYS``, ``DISCRIMINATOR_KEYS`` and
            ``SCORE_KEYS``).

    Returns:
        Figure: One axes per non-empty panel, top to bottom, titled as in
        ``PANELS`` (``OTHER_PANEL`` for the extra one); each key is one
        line labelled with the key, whose data are the key's (iterations,
        values) in the log. A score panel also has the 0.5 line (label
        ``'0.5'``). The figure has an Agg canvas of its own (no display
        needed, pyplot's backend untouched).

    Raises:
        FileNotFoundError: If ``log_file`` does not exist.
        ValueError: If it is not a training log, or none of the keys to
            plot is in it.
    """
    curves = load_scalar_log(log_file)
    panels = [(title, [key for key in group if key in curves])
              for title, group in _panels(keys)]
    panels = [(title, group) for title, group in panels if group]
    if not panels:
        wanted = keys if keys is not None else [
            key for _, group in PANELS for key in group
        ]
        raise ValueError(f'none of {list(wanted)} is in {log_file}; it has '
                         f'{list(curves)}')
    title = osp.basename(log_file)
    if not any(key in curves for key in GAN_KEYS):
        message = (f'{log_file} has no GAN keys ({", ".join(GAN_KEYS)}): '
                   'plotting the detector losses only (baseline run?)')
        warnings.warn(message)
        title += ' (no GAN keys: baseline run?)'

    fig = Figure(figsize=(10, 3.2 * len(panels)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)
    for ax, (panel_title, group) in zip(axes[:, 0], panels):
        for key in group:
            ax.plot(*curves[key], label=key, linewidth=1)
        if group[0] in SCORE_KEYS:
            ax.axhline(
                0.5, color='gray', linestyle='--', linewidth=1, label='0.5')
            low, high = ax.get_ylim()
            ax.set_ylim(min(low, 0.), max(high, 1.))
        ax.set_title(panel_title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc='upper right', fontsize='small')
    axes[-1, 0].set_xlabel('iteration')
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_gan_losses(log_file: str,
                    out_file: Optional[str] = None,
                    keys: Optional[Sequence[str]] = None) -> str:
    """Plot generator losses, discriminator losses and scores of a log
    (the figure of :func:`gan_loss_figure`) into a PNG.

    Args:
        log_file (str): Path of the MMEngine ``vis_data/*.json`` log.
        out_file (str, optional): PNG to write. Defaults to
            ``{log_file without .json}_gan_losses.png``.
        keys (Sequence[str], optional): Plot only these keys; see
            :func:`gan_loss_figure`. Defaults to None.

    Returns:
        str: Path of the written PNG.

    Raises:
        FileNotFoundError: If ``log_file`` does not exist.
        ValueError: If it is not a training log, or none of the keys to
            plot is in it.
    """
    fig = gan_loss_figure(log_file, keys)
    if out_file is None:
        out_file = osp.splitext(log_file)[0] + '_gan_losses.png'
    fig.savefig(out_file, dpi=100)
    return out_file


def parse_labelled_logs(items: Sequence[str]) -> 'OrderedDict[str, str]':
    """``['LABEL=PATH', ...]`` as an ordered ``{label: path}``.

    Raises:
        ValueError: If an item has no ``=`` or a label repeats.
    """
    logs: 'OrderedDict[str, str]' = OrderedDict()
    for item in items:
        label, sep, path = item.partition('=')
        if not sep or not label or not path:
            raise ValueError(f'--compare takes LABEL=PATH items, got {item!r}')
        if label in logs:
            raise ValueError(f'label {label!r} is given twice')
        logs[label] = path
    return logs


def score_comparison_figure(logs: 'OrderedDict[str, str]') -> Figure:
    """The discriminators' mean scores on real and fake samples of several
    runs, one panel per run (top to bottom, in ``logs`` order, titled with
    its label), with the 0.5 line and the y axis from 0 to 1.

    Args:
        logs (OrderedDict[str, str]): ``{label: vis_data json log}``.

    Returns:
        Figure: with an Agg canvas of its own; each panel has one line per
        score key of its log (labelled with the key).

    Raises:
        FileNotFoundError: If a log does not exist.
        ValueError: If a log has no score key (``SCORE_KEYS``).
    """
    curves = OrderedDict()
    for label, log_file in logs.items():
        run = load_scalar_log(log_file)
        keys = [key for key in SCORE_KEYS if key in run]
        if not keys:
            raise ValueError(f'{label}: {log_file} has no discriminator '
                             f'scores ({", ".join(SCORE_KEYS)})')
        curves[label] = (run, keys)
    fig = Figure(figsize=(10, 2.6 * len(curves)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(curves), 1, sharex=True, squeeze=False)
    for ax, (label, (run, keys)) in zip(axes[:, 0], curves.items()):
        for key in keys:
            ax.plot(*run[key], label=key, linewidth=1)
        ax.axhline(0.5, color='gray', linestyle='--', linewidth=1, label='0.5')
        ax.set_ylim(0., 1.)
        ax.set_title(label)
        ax.grid(True, alpha=0.3)
        ax.legend(loc='upper right', fontsize='small')
    axes[-1, 0].set_xlabel('iteration')
    fig.suptitle('Discriminator scores on real and fake samples')
    fig.tight_layout()
    return fig


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot GAN Mask R-CNN losses and discriminator scores '
        'from an MMEngine vis_data json log')
    parser.add_argument(
        'log_json',
        nargs='+',
        help='vis_data/*.json scalar log (with --compare: LABEL=PATH items)')
    parser.add_argument(
        '--compare',
        action='store_true',
        help='draw the discriminator scores of several runs, one panel '
        'each (--out is then required)')
    parser.add_argument(
        '--out',
        help='output PNG (default: next to the log, '
        '{log}_gan_losses.png)')
    parser.add_argument(
        '--keys',
        nargs='+',
        help='plot only these keys (default: the '
        'generator losses, discriminator losses and scores)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        if args.compare:
            if not args.out:
                raise ValueError('--compare needs --out')
            fig = score_comparison_figure(parse_labelled_logs(args.log_json))
            fig.savefig(args.out, dpi=100)
            out_file = args.out
        else:
            if len(args.log_json) != 1:
                raise ValueError('give one log (or --compare LABEL=PATH ...)')
            out_file = plot_gan_losses(args.log_json[0], args.out, args.keys)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f'plot_gan_losses.py: error: {e}')
    print(f'saved {out_file}')


if __name__ == '__main__':
    main()
