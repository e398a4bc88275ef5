# Copyright (c) mmdet-gan contributors. All rights reserved.
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'plot_gan_losses.py')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _load_tool():
    spec = importlib.util.spec_from_file_location('plot_gan_losses', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_log(path, gan=True, num_iters=200, interval=10):
    """An MMEngine vis_data log: training lines plus one validation line."""
    lines = []
    for it in range(interval, num_iters + 1, interval):
        record = dict(
            lr=0.02,
            data_time=0.01,
            loss=3.0 - it / num_iters,
            loss_rpn_cls=0.1,
            loss_cls=0.5,
            loss_bbox=0.4,
            loss_mask=0.6,
            time=0.3,
            epoch=1,
            iter=it,
            memory=1024,
            step=it)
        if gan:
            record.update(
                loss_adv_g_box=0.7,
                loss_adv_g_mask=0.8,
                loss_adv_d_box=0.69,
                loss_adv_d_mask=0.68,
                score_d_box_real=0.6,
                score_d_box_fake=0.4,
                score_d_mask_real=0.55,
                score_d_mask_fake=0.45)
        lines.append(json.dumps(record))
        if it == num_iters // 2:
            lines.append(
                json.dumps({
                    'coco/segm_mAP': 0.1,
                    'data_time': 0.01,
                    'time': 0.1,
                    'step': 1
                }))
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(path)


def _assert_png(path):
    assert osp.isfile(path)
    assert osp.getsize(path) > 10_000
    with open(path, 'rb') as f:
        assert f.read(8) == PNG_SIGNATURE


def test_load_scalar_log(tmp_path):
    tool = _load_tool()
    curves = tool.load_scalar_log(_write_log(tmp_path / 'log.json'))
    xs, ys = curves['loss']
    assert xs == list(range(10, 201, 10))
    assert ys[0] == pytest.approx(2.95) and ys[-1] == pytest.approx(2.0)
    assert curves['score_d_box_fake'][1] == [0.4] * 20
    # validation metrics and the x keys are not curves
    assert 'coco/segm_mAP' not in curves
    assert 'iter' not in curves and 'step' not in curves


def test_plot_gan_losses_function(tmp_path):
    tool = _load_tool()
    log = _write_log(tmp_path / 'log.json')
    out = tool.plot_gan_losses(log, str(tmp_path / 'gan.png'))
    assert out == str(tmp_path / 'gan.png')
    _assert_png(out)
    # default output sits next to the log
    _assert_png(tool.plot_gan_losses(log))
    assert osp.isfile(tmp_path / 'log_gan_losses.png')
    # only some keys, one of them unknown to the default panels
    _assert_png(
        tool.plot_gan_losses(
            log,
            str(tmp_path / 'keys.png'),
            keys=['loss_adv_d_box', 'score_d_box_real', 'lr']))


# A vis_data/scalars.json as MMEngine writes it, by hand: the
# discriminator starts at iteration 20, a validation line sits in between.
SCALARS_JSON = """\
{"lr": 0.02, "loss": 3.5, "loss_cls": 0.9, "loss_adv_g_box": 0.71, \
"time": 0.3, "epoch": 1, "iter": 10, "memory": 512, "step": 10}
{"lr": 0.02, "loss": 3.25, "loss_cls": 0.8, "loss_adv_g_box": 0.75, \
"loss_adv_d_box": 1.39, "score_d_box_real": 0.52, "score_d_box_fake": 0.47, \
"time": 0.3, "epoch": 1, "iter": 20, "memory": 512, "step": 20}
{"coco/segm_mAP": 0.012, "data_time": 0.01, "time": 0.1, "step": 1}
{"lr": 0.01, "loss": 2.5, "loss_cls": 0.6, "loss_adv_g_box": 0.8, \
"loss_adv_d_box": 1.2, "score_d_box_real": 0.61, "score_d_box_fake": 0.4, \
"time": 0.3, "epoch": 2, "iter": 30, "memory": 512, "step": 30}
"""


def _lines(ax):
    return {
        line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
        for line in ax.get_lines()
    }


def test_figure_plots_the_logged_values(tmp_path):
    tool = _load_tool()
    log = tmp_path / 'scalars.json'
    log.write_text(SCALARS_JSON)
    fig = tool.gan_loss_figure(str(log))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        'Generator losses', 'Discriminator losses', 'Discriminator scores'
    ]
    generator, discriminator, scores = map(_lines, fig.axes)
    assert generator == {
        'loss': ([10, 20, 30], [3.5, 3.25, 2.5]),
        'loss_cls': ([10, 20, 30], [0.9, 0.8, 0.6]),
        'loss_adv_g_box': ([10, 20, 30], [0.71, 0.75, 0.8]),
    }
    assert discriminator == {'loss_adv_d_box': ([20, 30], [1.39, 1.2])}
    assert scores == {
        'score_d_box_real': ([20, 30], [0.52, 0.61]),
        'score_d_box_fake': ([20, 30], [0.47, 0.4]),
        '0.5': ([0, 1], [0.5, 0.5]),  # axhline, in axes coordinates
    }
    # only some keys: lr (no default panel) goes to an extra one
    fig = tool.gan_loss_figure(str(log), keys=['loss_adv_d_box', 'lr'])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ['Discriminator losses', tool.OTHER_PANEL]
    assert _lines(fig.axes[1]) == {'lr': ([10, 20, 30], [0.02, 0.02, 0.01])}


def test_plot_gan_losses_baseline_log(tmp_path):
    tool = _load_tool()
    log = _write_log(tmp_path / 'baseline.json', gan=False)
    with pytest.warns(UserWarning, match='no GAN keys'):
        out = tool.plot_gan_losses(log, str(tmp_path / 'baseline.png'))
    _assert_png(out)


def test_plot_gan_losses_errors(tmp_path):
    tool = _load_tool()
    with pytest.raises(FileNotFoundError, match='log file not found'):
        tool.plot_gan_losses(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('epoch 1 loss 2.0\n')
    with pytest.raises(ValueError, match='line 1 is not a json object'):
        tool.plot_gan_losses(str(bad))
    val_only = tmp_path / 'val_only.json'
    val_only.write_text(json.dumps({'coco/segm_mAP': 0.1, 'step': 1}))
    with pytest.raises(ValueError, match='no training lines'):
        tool.plot_gan_losses(str(val_only))
    log = _write_log(tmp_path / 'log.json')
    with pytest.raises(ValueError, match=r"none of \['loss_foo'\]"):
        tool.plot_gan_losses(log, keys=['loss_foo'])


def test_plot_gan_losses_cli(tmp_path):
    log = _write_log(tmp_path / 'log.json')
    out = tmp_path / 'cli.png'
    proc = subprocess.run([
        sys.executable, TOOL, log, '--out',
        str(out), '--keys', 'loss', 'loss_adv_g_box', 'score_d_mask_fake'
    ],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f'saved {out}' in proc.stdout
    _assert_png(str(out))

    proc = subprocess.run(
        [sys.executable, TOOL,
         str(tmp_path / 'missing.json')],
        capture_output=True,
        text=True,
        timeout=120)
    assert proc.returncode == 1
    assert 'error: log file not found' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_score_comparison_of_variants(tmp_path):
    tool = _load_tool()
    log = tmp_path / 'scalars.json'
    log.write_text(SCALARS_JSON)
    mask_only = _write_log(tmp_path / 'mask_only.json')
    fig = tool.score_comparison_figure(
        tool.parse_labelled_logs([f'separate={log}', f'joint={mask_only}']))
    assert [ax.get_title() for ax in fig.axes] == ['separate', 'joint']
    first, second = map(_lines, fig.axes)
    assert first == {
        'score_d_box_real': ([20, 30], [0.52, 0.61]),
        'score_d_box_fake': ([20, 30], [0.47, 0.4]),
        '0.5': ([0, 1], [0.5, 0.5]),
    }
    assert second['score_d_mask_real'][1][0] == 0.55
    assert fig.axes[0].get_ylim() == (0., 1.)
    with pytest.raises(ValueError, match='LABEL=PATH'):
        tool.parse_labelled_logs([str(log)])
    with pytest.raises(ValueError, match='given twice'):
        tool.parse_labelled_logs([f'a={log}', f'a={log}'])
    baseline = _write_log(tmp_path / 'baseline.json', gan=False)
    with pytest.raises(ValueError, match='base: .* has no discriminator'):
        tool.score_comparison_figure(
            tool.parse_labelled_logs([f'base={baseline}']))
    out = tmp_path / 'compare.png'
    proc = subprocess.run([
        sys.executable, TOOL, '--compare', f'a={log}', f'b={mask_only}',
        '--out',
        str(out)
    ],
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    _assert_png(str(out))
