# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The text report of a GAN vs baseline training benchmark."""
import os
import platform
from typing import Dict, List, Optional

import torch

GAN, BASE = 'gan', 'baseline'
#: ``train_clock`` of a result: the clock of the training-time target.
CPU_CLOCK, WALL_CLOCK = 'process CPU time', 'wall time'

#: Pieces of an iteration: (label, description), in report order. Indented
#: ones are part of the piece above them. The labels are those of
#: ``pieces.step_pieces`` (range names of ``mmdet_gan.utils.profiling``
#: without their prefix).
PIECES = (
    ('forward', 'forward (GAN: forward_generator; baseline: loss)'),
    ('adv_box_inputs', '  box D inputs (add_box_samples)'),
    ('pool_box', '    prRoIPool of real+fake boxes'),
    ('adv_mask_inputs', '  mask D inputs (add_mask_samples)'),
    ('pool_mask', '    prRoIPool of the positives for masks'),
    ('mask_targets', '  mask targets (mask loss and mask D, computed once)'),
    ('d_forward', 'D forward (discriminate; generator_first: one pass for '
     'both players)'),
    ('g_update', 'G backward + clip + step (baseline: update_params)'),
    ('g_backward', '  G backward (incl. through D and the prRoIPool '
     'coordinates)'),
    ('g_step', '  G clip + step'),
    ('d_update', 'D backward + step'),
    ('d_backward', '  D backward'),
    ('d_step', '  D step'),
)


def load_average() -> Optional[List[float]]:
    """The 1, 5 and 15 min load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def machine_description(device: torch.device) -> str:
    """One line on the device, the threads and the software versions."""
    if device.type == 'cuda':
        where = torch.cuda.get_device_name(device)
    else:
        where = (f'{platform.processor() or platform.machine()}, '
                 f'{os.cpu_count()} CPUs visible, '
                 f'{torch.get_num_threads()} torch threads')
    return (f'{where}; torch {torch.__version__}, python '
            f'{platform.python_version()}')


def target_check(res: dict, target: float) -> Dict[str, object]:
    """Whether the training-time and the memory ratios are within
    ``target``.

    Args:
        res (dict): a result with ``train_clock`` (:data:`CPU_CLOCK` on CPU,
            :data:`WALL_CLOCK` on CUDA, where the CPU only queues kernels),
            ``train_cpu_ratio``, ``train_time_ratio`` and ``memory_ratio``.
        target (float): the largest acceptable GAN/baseline ratio.

    Returns:
        dict: ``ratio`` (``target``), ``time_ratio_key`` (the ratio of the
        training clock: ``train_cpu_ratio`` or ``train_time_ratio``),
        ``time_ok`` and ``memory_ok`` (bools).
    """
    time_key = 'train_cpu_ratio' if res['train_clock'] == CPU_CLOCK \
        else 'train_time_ratio'
    return dict(
        ratio=target,
        time_ratio_key=time_key,
        time_ok=bool(res[time_key] <= target),
        memory_ok=bool(res['memory_ratio'] <= target))


def target_line(res: dict) -> str:
    """The report's verdict line, e.g. ``target GAN/baseline <= 1.10:
    training CPU time 1.08 yes, memory 1.08 yes``.

    Args:
        res (dict): a result with ``target`` (:func:`target_check`), the
            ratio it names and ``memory_ratio``.

    Returns:
        str: the line.
    """
    target = res['target']
    time_label = 'CPU time' if target['time_ratio_key'] == \
        'train_cpu_ratio' else 'wall time'
    return (f'target GAN/baseline <= {target["ratio"]:.2f}: training '
            f'{time_label} {res[target["time_ratio_key"]]:.2f} '
            f'{"yes" if target["time_ok"] else "NO"}, memory '
            f'{res["memory_ratio"]:.2f} '
            f'{"yes" if target["memory_ok"] else "NO"}')


def _time_lines(wall: dict,
                cpu: dict,
                ratio: float,
                cpu_ratio: float,
                paired: Optional[float] = None) -> List[str]:
    lines = []
    for role in (GAN, BASE):
        w, c = wall[role], cpu[role]
        lines.append(f'  {role:<9} wall median {w["median"]:7.3f}  IQR '
                     f'{w["iqr"]:6.3f}  min {w["min"]:7.3f} | CPU median '
                     f'{c["median"]:7.3f}  IQR {c["iqr"]:6.3f}')
    line = f'  ratio GAN/baseline: wall {ratio:.2f}'
    if paired is not None:
        line += f' (median of per-pair ratios {paired:.2f})'
    lines.append(line + f', CPU time {cpu_ratio:.2f}')
    return lines


def breakdown_lines(res: dict) -> List[str]:
    """The step breakdown: one line per piece of :data:`PIECES` that either
    model has (GAN median; baseline median; difference), then the whole
    step.

    Args:
        res (dict): a result with ``pieces`` ``{role: {label: stats}}``,
            ``pieces_whole`` ``{role: stats}`` and ``pieces_clock``.

    Returns:
        list[str]: the lines.
    """
    lines = [
        f'GAN step breakdown, median s/iter of {res["pieces_clock"]} '
        '(baseline; GAN - baseline):'
    ]
    pg, pb = res['pieces'][GAN], res['pieces'][BASE]
    for label, desc in PIECES:
        if label not in pg and label not in pb:
            continue
        gan = pg.get(label, {}).get('median', 0.)
        line = f'  {desc:<68} {gan:7.3f}'
        if label in pb:
            base = pb[label]['median']
            line += f'  ({base:.3f}; {gan - base:+.3f})'
        lines.append(line)
    whole = res['pieces_whole']
    extra = whole[GAN]['median'] - whole[BASE]['median']
    lines.append(f'  {"whole iteration":<68} {whole[GAN]["median"]:7.3f}  '
                 f'({whole[BASE]["median"]:.3f}; {extra:+.3f})')
    return lines


def flop_lines(res: dict) -> List[str]:
    """The counted FLOPs of one training step per model and their ratio
    (``mmdet_gan.benchmark.flops``)."""
    counts = res.get('flops')
    if not counts:
        return []
    gan, base = counts[GAN], counts[BASE]
    return [
        'FLOPs of one training step (torch FlopCounterMode: matrix products '
        'and convolutions, forward and backward; pooling and element-wise '
        'ops count 0):',
        f'  GAN {gan / 1e9:.2f} G, baseline {base / 1e9:.2f} G '
        f'(GAN - baseline {(gan - base) / 1e9:+.2f} G); ratio GAN/baseline '
        f'{res["flop_ratio"]:.3f}'
    ]


def format_report(res: dict) -> str:
    """The human-readable report of a benchmark result.

    Args:
        res (dict): what ``mmdet_gan.benchmark.train.run_train_benchmark``
            returns.

    Returns:
        str: the report, one line per ``\\n``.
    """
    tr, inf, mem = res['train'], res['inference'], res['memory']
    load = res['load_average']
    lines = [
        f'machine: {res["machine"]}',
        f'load average (1, 5, 15 min) at start {load["start"]}, end '
        f'{load["end"]}',
        f'GAN config:      {res["gan_config"]}',
        f'baseline config: {res["base_config"]}',
        f'GAN cfg-options: {res["cfg_options"] or "none"}; shared '
        f'cfg-options: {res["shared_cfg_options"] or "none"}',
        f'data: {res["data"]}',
        f'identical generator/baseline weights at start: '
        f'{res["same_start_weights"]}',
        'measured rounds: ' +
        ('the same work (--same-work: each from the post-warm-up state, '
         'generator = baseline weights, RNGs seeded per batch)'
         if res.get('same_work') else
         'each model trains on (their work drifts apart)'),
        '',
        f'training, s/iter ({tr[GAN]["n"]} timed iterations after '
        f'{res["warmup"]} warm-up, interleaved GAN/baseline; CPU = process '
        'CPU time, all threads):',
    ]
    lines += _time_lines(tr, res['train_cpu'], res['train_time_ratio'],
                         res['train_cpu_ratio'],
                         res['train_time_ratio_paired'])
    if inf:
        lines.append(f'inference (test_step, eval, no grad, before '
                     f'training), s/iter ({inf[GAN]["n"]} timed '
                     'iterations):')
        lines += _time_lines(inf, res['inference_cpu'],
                             res['infer_time_ratio'], res['infer_cpu_ratio'])
    else:
        lines.append('inference: not timed (--infer-iters 0)')
    lines.append(f'peak training memory, MiB (method: '
                 f'{mem[GAN]["method"]}; plus resident parameters, buffers '
                 'and optimizer state):')
    for role in (GAN, BASE):
        m = mem[role]
        lines.append(f'  {role:<9} {m["peak_mb"]:8.1f} = resident '
                     f'{m["resident_mb"]:.1f} + step peak '
                     f'{m["step_peak_mb"]:.1f}')
    lines.append(f'  ratio GAN/baseline: {res["memory_ratio"]:.2f} (step '
                 f'peak only: {res["step_memory_ratio"]:.2f})')
    counts = mem[GAN].get('adversarial_samples')
    if counts:
        lines.append('  discriminator samples in the measured GAN step '
                     '(the adversarial cost grows with them): ' +
                     ', '.join(f'{branch} {num}'
                               for branch, num in counts.items()))
    lines.append(target_line(res))
    lines += flop_lines(res)
    lines += breakdown_lines(res)
    if res.get('top_ops'):
        lines.append('GAN step, top operators by self CPU time '
                     '(one profiled iteration):')
        for op in res['top_ops']:
            lines.append(f'  {op["name"][:60]:<60} {op["calls"]:5d} calls '
                         f'{op["self_ms"]:9.1f} ms {100 * op["share"]:5.1f}%')
    return '\n'.join(lines)
