# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Training cost of GAN Mask R-CNN against its Mask R-CNN baseline.

:func:`run_train_benchmark` builds both models from their configs with the
same seed (so the generator and the baseline start from identical weights)
and their optim wrappers (the GAN one an ``OptimWrapperDict``), then, on the
same batches:

1. inference (``test_step``, eval mode, no grad), first, while both
   generators hold identical weights; interleaved (``timing``);
2. ``warmup`` + ``iters`` training iterations, interleaved GAN, baseline,
   GAN, ... (``timing``): the wall and process CPU time per iteration.
   These iterations are not profiled, so their times carry no profiler
   overhead;
3. ``iters`` more training iterations, interleaved the same way, each under
   its own ``torch.profiler.profile``: the step breakdown (``pieces``) from
   the ``mmdet_gan::`` ranges the GAN step emits, and that the benchmark
   emits around the baseline's forward and ``update_params`` (``steps``);
4. one training iteration per model for the peak memory (``memory``), and
   the GAN step's top operators from its profile;
5. one training iteration per model under torch's ``FlopCounterMode``
   (``flops``): the counted FLOPs, a cost independent of the machine.
"""
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from . import builders, flops, memory, pieces, replay, report, steps, timing
from .report import BASE, GAN

MB = 2.0**20


@dataclass
class TrainBenchmarkOptions:
    """What :func:`run_train_benchmark` runs (the options of
    ``tools/analysis_tools/benchmark_train.py``).

    Attributes:
        gan_config (str): GAN config file.
        base_config (str): baseline (Mask R-CNN) config file.
        iters (int): timed training iterations per model (>= 1); as many
            profiled ones follow for the step breakdown.
        warmup (int): untimed training iterations per model first.
        infer_iters (int): timed inference iterations per model (after
            ``min(warmup, 1)`` untimed ones); 0 skips inference.
        device (str): ``'cpu'`` or ``'cuda[:N]'``.
        data_root (str, optional): if given and existing, the batches come
            from the GAN config's ``train_dataloader`` with this
            ``data_root``; else from ``mmdet.testing.demo_mm_inputs``.
        batch_size (int): images per batch.
        img_size (int | tuple[int, int] | list[int]): side of the square
            ``demo_mm_inputs`` images, or ``(height, width)``.
        num_gts (int | list[int]): objects (with masks) per
            ``demo_mm_inputs`` image; a list is cycled over the images.
        num_batches (int): distinct batches, cycled.
        seed (int): random seed of both models and the data.
        threads (int, optional): ``torch.set_num_threads`` for the run.
        top_ops (int): operators of the profiled GAN step to list.
        cfg_options (dict, optional): overrides of the GAN config.
        shared_cfg_options (dict, optional): overrides of both configs
            (applied before ``cfg_options``).
        target (float): the GAN/baseline ratio of training time and of
            memory to check.
        same_work (bool): after the warm-up, start every timed, profiled
            and memory-measured round from the saved post-warm-up state,
            the GAN's generator holding the baseline's weights, and the RNGs
            seeded per batch (``replay.SameWorkReplay``): both generators
            then do the same work, and the ratios measure the adversarial
            part alone. Without it, each model trains on from step to step
            (the realistic drift, and a noisier ratio).
        display_root (str, optional): config paths under it are reported
            relative to it.
    """
    gan_config: str
    base_config: str
    iters: int = 10
    warmup: int = 3
    infer_iters: int = 3
    device: str = 'cpu'
    data_root: Optional[str] = None
    batch_size: int = 4
    img_size: Union[int, Sequence[int]] = 192
    num_gts: Union[int, Sequence[int]] = 4
    num_batches: int = 4
    seed: int = 0
    threads: Optional[int] = None
    top_ops: int = 8
    cfg_options: Optional[dict] = None
    shared_cfg_options: Optional[dict] = None
    target: float = 1.10
    same_work: bool = False
    display_root: Optional[str] = None


def _display_path(path: str, root: Optional[str]) -> str:
    if root and osp.abspath(path).startswith(osp.abspath(root) + osp.sep):
        return osp.relpath(osp.abspath(path), osp.abspath(root))
    return path


def _options_text(options: Optional[dict]) -> str:
    return ' '.join(f'{k}={v}' for k, v in (options or {}).items())


def _batches(opts: TrainBenchmarkOptions, gan_cfg) -> tuple:
    """The batches and a line that says what they are."""
    num = min(opts.num_batches, opts.warmup + opts.iters)
    if opts.data_root and osp.isdir(opts.data_root):
        batches = builders.loader_batches(gan_cfg, opts.data_root, num,
                                          opts.batch_size, opts.seed)
        return batches, (f'{num} batches of {opts.batch_size} from '
                         f'train_dataloader, data_root={opts.data_root}')
    num_classes = builders.num_classes_of(gan_cfg)
    height, width = builders.image_size(opts.img_size)
    num_gts = builders.objects_per_image(opts.num_gts)
    batches = builders.demo_batches(num, opts.batch_size, (height, width),
                                    num_gts, num_classes)
    objects = '/'.join(str(n) for n in num_gts)
    data = (f'{num} batches of demo_mm_inputs: {opts.batch_size} x '
            f'{height}x{width} px, {objects} objects with masks per image, '
            f'{num_classes} classes')
    if opts.data_root:
        data += f' (--data-root {opts.data_root} not found)'
    return batches, data


def _ratio(by_role: Optional[dict]) -> Optional[float]:
    """GAN / baseline of the medians of ``{role: stats}`` (None: none)."""
    if not by_role:
        return None
    return by_role[GAN]['median'] / by_role[BASE]['median']


def run_train_benchmark(opts: TrainBenchmarkOptions) -> dict:
    """Run the benchmark (see the module docstring).

    Args:
        opts (TrainBenchmarkOptions): what to run.

    Returns:
        dict: JSON-serialisable results; per model (``gan``, ``baseline``)
        ``train`` / ``train_cpu`` / ``inference`` / ``inference_cpu``
        (``timing.stats`` of wall and process CPU seconds per iteration;
        the inference ones None with ``infer_iters=0``), ``memory``
        (``resident_mb``, ``step_peak_mb``, ``peak_mb``, ``method``),
        ``pieces`` (``{label: stats}`` of the profiled iterations) and
        ``pieces_whole`` (stats of the whole profiled step); ``flops``
        (``{role: counted FLOPs of one step}``, ``flops.step_flops``) and
        ``flop_ratio``; the ratios
        ``train_time_ratio``, ``train_time_ratio_paired``,
        ``train_cpu_ratio``, ``infer_time_ratio``, ``infer_cpu_ratio``,
        ``memory_ratio``, ``step_memory_ratio``; ``target``
        (``report.target_check``); ``top_ops``; and what was run
        (``machine``, configs, options, ``data``, ...).
    """
    import mmdet_gan  # noqa: F401  (registers the GAN modules)

    # Quiet init_weights / paramwise logs: a fresh current logger.
    MMLogger.get_instance('benchmark_train', log_level='WARNING')
    init_default_scope('mmdet')
    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = torch.device(opts.device)
    sync = timing.device_sync(device)
    load_start = report.load_average()

    gan_cfg, base_cfg = builders.load_configs(opts.gan_config,
                                              opts.base_config,
                                              opts.cfg_options,
                                              opts.shared_cfg_options)
    models, wrappers = {}, {}
    for role, cfg in ((GAN, gan_cfg), (BASE, base_cfg)):
        models[role], wrappers[role] = builders.build_model_and_optim(
            cfg, opts.seed, device)
    same_start = builders.same_generator_weights(models[GAN], models[BASE])
    batches, data = _batches(opts, gan_cfg)

    # Inference first, while the generators hold identical weights.
    infer_stats = infer_cpu = None
    if opts.infer_iters:
        for model in models.values():
            model.eval()
        run = timing.run_interleaved(
            {
                role: steps.infer_step_fn(model)
                for role, model in models.items()
            }, batches, min(opts.warmup, 1), opts.infer_iters, sync)
        infer_stats = {r: timing.stats(t) for r, t in run['times'].items()}
        infer_cpu = {r: timing.stats(t) for r, t in run['cpu_times'].items()}

    for model in models.values():
        model.train()
    train = {
        role: steps.train_step_fn(models[role], wrappers[role])
        for role in models
    }
    prepare = None
    if opts.same_work:
        timing.run_interleaved(train, batches, opts.warmup, 0, sync)
        prepare = replay.SameWorkReplay(models, wrappers, BASE, opts.seed)
        run = timing.run_interleaved(train, batches, 0, opts.iters, sync,
                                     prepare)
    else:
        run = timing.run_interleaved(train, batches, opts.warmup, opts.iters,
                                     sync)
    train_stats = {r: timing.stats(t) for r, t in run['times'].items()}
    train_cpu = {r: timing.stats(t) for r, t in run['cpu_times'].items()}
    paired = [g / b for g, b in zip(run['times'][GAN], run['times'][BASE])]

    # The breakdown: as many profiled iterations, on the same batches.
    ranged = {
        role: steps.train_step_fn(models[role], wrappers[role], ranged=True)
        for role in models
    }
    first = 0 if opts.same_work else opts.warmup
    profiled = pieces.profile_interleaved(ranged, batches, first, opts.iters,
                                          device, prepare)
    whole = {
        role: timing.stats([p.pop(pieces.WHOLE_STEP, 0.) for p in runs])
        for role, runs in profiled.items()
    }

    mem, top_ops = {}, None
    for role in models:
        resident = memory.resident_bytes(models[role], wrappers[role])
        data_copy = copy.deepcopy(batches[0])
        if prepare is not None:
            prepare(role, 0)
        with steps.counting_adversarial_samples(models[role]) as counts:
            measured = memory.step_peak_bytes(lambda: train[role](data_copy),
                                              device)
        mem[role] = dict(
            resident_mb=resident / MB,
            step_peak_mb=measured.peak_bytes / MB,
            peak_mb=(resident + measured.peak_bytes) / MB,
            method=measured.method,
            adversarial_samples=dict(counts))
        if role == GAN and opts.top_ops and measured.prof is not None:
            top_ops = pieces.top_operators(measured.prof, opts.top_ops)

    step_flops = {}
    for role in models:
        if prepare is not None:
            prepare(role, 0)
        data_copy = copy.deepcopy(batches[0])
        step_flops[role] = flops.step_flops(lambda: train[role](data_copy))

    cpu = device.type == 'cpu'
    res = dict(
        machine=report.machine_description(device),
        load_average=dict(start=load_start, end=report.load_average()),
        gan_config=_display_path(opts.gan_config, opts.display_root),
        base_config=_display_path(opts.base_config, opts.display_root),
        cfg_options=_options_text(opts.cfg_options),
        shared_cfg_options=_options_text(opts.shared_cfg_options),
        data=data,
        same_start_weights=same_start,
        same_work=opts.same_work,
        warmup=opts.warmup,
        train=train_stats,
        train_cpu=train_cpu,
        inference=infer_stats,
        inference_cpu=infer_cpu,
        memory=mem,
        flops=step_flops,
        flop_ratio=step_flops[GAN] / max(step_flops[BASE], 1),
        train_clock=report.CPU_CLOCK if cpu else report.WALL_CLOCK,
        pieces_clock=(f'profiler {"CPU" if cpu else "CUDA kernel"} time of '
                      f'the ranges, {opts.iters} separate profiled '
                      'iterations'),
        pieces={
            role: pieces.summarize_pieces(runs)
            for role, runs in profiled.items()
        },
        pieces_whole=whole,
        top_ops=top_ops,
        train_time_ratio=_ratio(train_stats),
        train_time_ratio_paired=float(np.median(paired)),
        train_cpu_ratio=_ratio(train_cpu),
        infer_time_ratio=_ratio(infer_stats),
        infer_cpu_ratio=_ratio(infer_cpu),
        memory_ratio=mem[GAN]['peak_mb'] / mem[BASE]['peak_mb'],
        step_memory_ratio=mem[GAN]['step_peak_mb'] /
        max(mem[BASE]['step_peak_mb'], 1e-9),
    )
    res['target'] = report.target_check(res, opts.target)
    return res


def check_ratios(res: dict) -> None:
    """Raise ``RuntimeError`` if a ratio of ``res`` is not positive and
    finite (``infer_time_ratio`` may be None: no inference timed)."""
    for key in ('train_time_ratio', 'train_cpu_ratio', 'infer_time_ratio',
                'memory_ratio'):
        if res[key] is None and key == 'infer_time_ratio':
            continue
        if not (res[key] > 0 and np.isfinite(res[key])):
            raise RuntimeError(f'{key} is {res[key]}')
