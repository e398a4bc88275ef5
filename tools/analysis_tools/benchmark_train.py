# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Training cost of GAN Mask R-CNN against its Mask R-CNN baseline.

Builds both models from their configs with the same seed (so the generator
and the baseline start from identical weights), builds their optim wrappers
from the configs (the GAN one is an ``OptimWrapperDict`` made by
``GANOptimWrapperConstructor``), and runs ``model.train_step`` on the same
batches, interleaving the models (GAN, baseline, GAN, baseline, ...) so that
machine noise hits both. It reports, per model:

- time per training iteration: median and IQR over ``--iters`` iterations
  after ``--warmup`` ones of the wall time and of the process CPU time
  (all threads), and the GAN / baseline ratios (of the medians; for the
  wall time also the median of the per-pair ratios). On a CPU shared with
  other processes the wall time is noisy; the CPU time, best with
  ``--threads 1``, is the robust measure of the work done;
- time per inference iteration (``test_step``, eval mode, no grad), measured
  first, while both generators still hold identical weights: inference is
  the same graph, so the ratio should be ~1.00;
- peak training memory of one iteration after the timed ones: the tensor
  bytes alive before the step (parameters, buffers, optimizer state) plus
  the peak of the bytes the step allocates on top. On CPU the latter comes
  from the allocation and free events of ``torch.profiler`` with
  ``profile_memory=True`` (tensors of PyTorch's CPU allocator only: numpy
  buffers and the allocator's caching/fragmentation are not included), on
  CUDA from ``torch.cuda.max_memory_allocated`` after a reset;
- where the GAN model's extra time goes: the time of its pieces
  (Mask R-CNN forward with the discriminators' inputs, the prRoIPool calls
  of the box and mask branches, the discriminators' forward in the
  generator step, the generator backward + step, the discriminator step),
  taken by wrapping the methods of the model *instances* (no model code is
  changed; process CPU time on CPU, wall time on CUDA), next to the
  baseline's forward and backward + step; and the
  GAN step's top operators from the profiled iteration.

Example::

    python tools/analysis_tools/benchmark_train.py
    python tools/analysis_tools/benchmark_train.py --iters 5 --warmup 1 \\
        --cfg-options model.roi_head.num_adv_samples=16
    python tools/analysis_tools/benchmark_train.py --data-root data/demo/
    python tools/analysis_tools/benchmark_train.py --threads 1 --iters 4 \\
        --warmup 1 --infer-iters 0 --cfg-options \\
        model.roi_head.adv_box_roi_extractor.levels=[3] \\
        model.roi_head.adv_mask_roi_extractor.levels=[3]

Without ``--data-root`` (or if it does not exist) the batches come from
``mmdet.testing.demo_mm_inputs`` (``--batch-size`` images of
``--img-size`` px, ``--num-gts`` objects with masks each, the configs'
number of classes).
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import sys
import time
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_GAN_CONFIG = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                              'gan_mask_rcnn_r18_fpn_demo.py')
DEFAULT_BASE_CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                               'mask_rcnn_r18_fpn_demo.py')

GAN, BASE = 'gan', 'baseline'
MB = 2.0**20

#: Pieces of an iteration: (label, description). Indented ones are part of
#: the piece above them.
PIECES = (
    ('forward', 'forward (GAN: forward_generator; baseline: loss)'),
    ('adv_box_inputs', '  box D inputs (box_adversarial_inputs)'),
    ('pool_box', '    prRoIPool of real+fake boxes'),
    ('adv_mask_inputs', '  mask D inputs (mask_adversarial_inputs)'),
    ('pool_mask', '    prRoIPool of the positives for masks'),
    ('mask_targets', '  mask targets (mask_head.get_targets, all calls)'),
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


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the command line (``None``: ``sys.argv``)."""
    parser = argparse.ArgumentParser(
        description='Time and memory of GAN Mask R-CNN training against '
        'its Mask R-CNN baseline, on the same batches')
    parser.add_argument(
        '--gan-config', default=DEFAULT_GAN_CONFIG, help='GAN config file')
    parser.add_argument(
        '--base-config',
        default=DEFAULT_BASE_CONFIG,
        help='baseline (Mask R-CNN) config file')
    parser.add_argument(
        '--iters',
        type=int,
        default=10,
        help='timed training iterations per model')
    parser.add_argument(
        '--warmup',
        type=int,
        default=3,
        help='untimed training iterations per model before the timed ones')
    parser.add_argument(
        '--infer-iters',
        type=int,
        default=3,
        help='timed inference iterations per model (after --warmup '
        'untimed ones, at most 1); 0 skips the inference timing (it does '
        'not depend on --cfg-options)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument(
        '--data-root',
        default=None,
        help='if given and existing, take the batches from the GAN '
        'config\'s train_dataloader with this data_root (num_workers=0)')
    parser.add_argument(
        '--batch-size', type=int, default=4, help='images per batch')
    parser.add_argument(
        '--img-size',
        type=int,
        default=192,
        help='side of the demo_mm_inputs images (the demo data is 192 px)')
    parser.add_argument(
        '--num-gts',
        type=int,
        default=4,
        help='objects (with masks) per demo_mm_inputs image')
    parser.add_argument(
        '--num-batches',
        type=int,
        default=4,
        help='distinct batches, cycled over the iterations')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch.set_num_threads for the run (default: torch\'s); '
        'with 1 the CPU-time ratio is the least sensitive to other '
        'processes on a shared machine')
    parser.add_argument(
        '--json', default=None, help='also write the results to this file')
    parser.add_argument(
        '--top-ops',
        type=int,
        default=8,
        help='operators of the profiled GAN step to list (0: none)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the GAN config (not the baseline), '
        'e.g. model.roi_head.num_adv_samples=32 '
        'model.roi_head.adv_box_roi_extractor.levels=[0]')
    parser.add_argument(
        '--target',
        type=float,
        default=1.10,
        help='the GAN/baseline ratio of training time and of memory to check '
        '(the report says whether each is within it)')
    parser.add_argument(
        '--shared-cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of both configs (applied before '
        '--cfg-options), e.g. model.train_cfg.rcnn.sampler.num=128')
    args = parser.parse_args(argv)
    for name in ('iters', 'batch_size', 'img_size', 'num_batches'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    if not args.target > 0:
        parser.error(f'--target must be > 0, got {args.target}')
    for name in ('warmup', 'infer_iters', 'num_gts', 'top_ops'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    for name in ('gan_config', 'base_config'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'--{name.replace("_", "-")}: no such file '
                         f'{getattr(args, name)}')
    return args


# ----------------------------------------------------------------------
# models and data
# ----------------------------------------------------------------------
def build_model_and_optim(cfg: Config, seed: int,
                          device: torch.device) -> Tuple[nn.Module, object]:
    """Build a model (``init_weights`` as the runner does) and its optim
    wrapper from ``cfg``, seeding every RNG with ``seed`` before building
    and before initialising, so that a GAN model's generator and its
    baseline start from the same weights."""
    from mmdet.registry import MODELS
    from mmengine.runner import set_random_seed
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    # Reseed: the GAN model's discriminators consumed random numbers after
    # the generator was built; its generator is initialised first.
    set_random_seed(seed)
    model.init_weights()
    model.to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


def same_generator_weights(gan: nn.Module, base: nn.Module) -> bool:
    """Whether every baseline tensor equals the GAN model's tensor of the
    same name (i.e. the generator starts where the baseline does)."""
    gan_state = gan.state_dict()
    for name, value in base.state_dict().items():
        other = gan_state.get(name)
        if other is None or other.shape != value.shape or not torch.equal(
                other, value):
            return False
    return True


def num_classes_of(cfg: Config) -> int:
    """Number of classes of the config's box head."""
    return int(cfg.model.roi_head.bbox_head.num_classes)


def demo_batches(num: int, batch_size: int, img_size: int, num_gts: int,
                 num_classes: int) -> List[dict]:
    """``num`` distinct batches of ``mmdet.testing.demo_mm_inputs``."""
    from mmdet.testing import demo_mm_inputs
    data = demo_mm_inputs(
        batch_size=num * batch_size,
        image_shapes=(3, img_size, img_size),
        num_items=[num_gts] * (num * batch_size),
        num_classes=num_classes,
        with_mask=True)
    return [{
        key: value[i * batch_size:(i + 1) * batch_size]
        for key, value in data.items()
    } for i in range(num)]


def loader_batches(cfg: Config, data_root: str, num: int, batch_size: int,
                   seed: int) -> List[dict]:
    """The first ``num`` batches of ``cfg.train_dataloader`` with its
    dataset's ``data_root`` set to ``data_root`` and no workers."""
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.dataset.data_root = data_root
    loader_cfg.batch_size = batch_size
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    batches = []
    while len(batches) < num:
        size = len(batches)
        for batch in loader:
            batches.append(batch)
            if len(batches) == num:
                break
        if len(batches) == size:
            raise ValueError(f'the train_dataloader of {data_root} yields no '
                             'batch (empty dataset?)')
    return batches


# ----------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------
class PieceTimer:
    """Accumulates the time (by ``clock``) of wrapped instance methods per
    label, and emits a ``record_function`` range of the same name for
    ``torch.profiler``. Only the instances are touched: ``restore`` removes
    the wrappers."""

    def __init__(self, sync: Callable[[], None],
                 clock: Callable[[], float]) -> None:
        self.sync = sync
        self.clock = clock
        self.current: Dict[str, float] = defaultdict(float)
        self._patched: List[Tuple[object, str]] = []

    def wrap(self, obj: object, name: str,
             label: Union[str, Callable[..., str]]) -> None:
        """Time ``obj.name`` under ``label`` (a string, or a function of
        the call's arguments returning one)."""
        func = getattr(obj, name)

        def timed(*args, **kwargs):
            key = label(*args, **kwargs) if callable(label) else label
            self.sync()
            start = self.clock()
            with record_function(f'bench::{key}'):
                out = func(*args, **kwargs)
            self.sync()
            self.current[key] += self.clock() - start
            return out

        setattr(obj, name, timed)
        self._patched.append((obj, name))

    def pop(self) -> Dict[str, float]:
        """The times accumulated since the last ``pop``."""
        out = dict(self.current)
        self.current.clear()
        return out

    def restore(self) -> None:
        """Remove every wrapper (the class methods show through again)."""
        for obj, name in self._patched:
            delattr(obj, name)
        self._patched.clear()


def instrument(timer: PieceTimer, role: str, model: nn.Module,
               optim_wrapper) -> None:
    """Wrap the pieces of ``model``'s training step (see ``PIECES``)."""
    timer.wrap(model.roi_head.mask_head, 'get_targets', 'mask_targets')
    if role == BASE:
        timer.wrap(model, 'loss', 'forward')
        timer.wrap(optim_wrapper, 'update_params', 'g_update')
        return
    gen_wrapper = optim_wrapper['generator']
    head = model.roi_head
    timer.wrap(model, 'forward_generator', 'forward')
    timer.wrap(model, 'discriminate', 'd_forward')

    def per_player(piece: str) -> Callable[..., str]:
        """Label of a call whose first argument is a player's wrapper."""
        return lambda wrapper, *args, **kwargs: ('g' if wrapper is gen_wrapper
                                                 else 'd') + piece

    timer.wrap(model, '_backward', per_player('_backward'))
    timer.wrap(model, '_step', per_player('_step'))
    if getattr(head, 'with_adv_box', False):
        timer.wrap(head, 'box_adversarial_inputs', 'adv_box_inputs')
        timer.wrap(head.adv_box_roi_extractor, 'forward', 'pool_box')
    if getattr(head, 'with_adv_mask', False):
        timer.wrap(head, 'mask_adversarial_inputs', 'adv_mask_inputs')
        timer.wrap(head.adv_mask_roi_extractor, 'forward', 'pool_mask')


def with_update_totals(pieces: Dict[str, float]) -> Dict[str, float]:
    """Add ``<player>_update`` = ``<player>_backward`` + ``<player>_step``
    (the GAN step times the two separately)."""
    for player in ('g', 'd'):
        parts = [f'{player}_backward', f'{player}_step']
        if any(part in pieces for part in parts):
            pieces[f'{player}_update'] = sum(pieces.get(p, 0.) for p in parts)
    return pieces


def device_sync(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (no-op on CPU)."""
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def stats(values: Sequence[float]) -> dict:
    """Median, quartiles and IQR of ``values``."""
    arr = np.asarray(values, dtype=np.float64)
    q1, median, q3 = np.percentile(arr, [25, 50, 75])
    return dict(
        median=float(median),
        q1=float(q1),
        q3=float(q3),
        iqr=float(q3 - q1),
        min=float(arr.min()),
        n=int(arr.size))


def run_interleaved(step: Dict[str, Callable[[dict], None]],
                    batches: List[dict],
                    warmup: int,
                    iters: int,
                    sync: Callable[[], None],
                    timer: Optional[PieceTimer] = None) -> dict:
    """Run ``step[role](batch)`` for the roles in turn on the same batch
    (a fresh deep copy for each), ``warmup`` untimed then ``iters`` timed
    rounds.

    Returns:
        dict: ``times`` {role: [wall seconds]}, ``cpu_times`` {role:
        [process CPU seconds, all threads]}, and ``pieces`` {role: [{label:
        seconds}]} if ``timer`` is given.
    """
    times = {role: [] for role in step}
    cpu_times = {role: [] for role in step}
    pieces = {role: [] for role in step}
    for i in range(warmup + iters):
        batch = batches[i % len(batches)]
        for role, func in step.items():
            data = copy.deepcopy(batch)
            if timer is not None:
                timer.pop()
            sync()
            start, cpu_start = time.perf_counter(), time.process_time()
            func(data)
            sync()
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            if i >= warmup:
                times[role].append(elapsed)
                cpu_times[role].append(cpu)
                if timer is not None:
                    pieces[role].append(with_update_totals(timer.pop()))
    return dict(times=times, cpu_times=cpu_times, pieces=pieces)


# ----------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------
def _tensor_bytes(tensors) -> int:
    seen, total = set(), 0
    for tensor in tensors:
        if not isinstance(tensor,
                          torch.Tensor) or tensor.device.type == 'meta':
            continue
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), tensor.device)
        if key in seen or storage.data_ptr() == 0:
            continue
        seen.add(key)
        total += storage.nbytes()
    return total


def resident_bytes(model: nn.Module, optim_wrapper) -> int:
    """Bytes of the tensors a training run keeps between iterations:
    parameters, their gradients if any, buffers and optimizer state."""
    wrappers = optim_wrapper.values() if isinstance(
        optim_wrapper, OptimWrapperDict) else [optim_wrapper]
    tensors = list(model.parameters()) + list(model.buffers())
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    for wrapper in wrappers:
        for state in wrapper.optimizer.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v)]
    return _tensor_bytes(tensors)


def _profiler_peak_bytes(prof) -> int:
    """Peak of the running sum of the allocations and frees recorded by a
    ``profile_memory=True`` CPU profile, relative to its start."""
    try:
        events = prof.profiler.kineto_results.events()
    except AttributeError as err:  # pragma: no cover - torch internals
        raise RuntimeError(
            'this torch version does not expose the profiler\'s memory '
            'events (prof.profiler.kineto_results.events()); run with '
            '--device cuda or update benchmark_train.py') from err
    mem = sorted((e.start_ns(), e.nbytes()) for e in events
                 if e.name() == '[memory]'
                 and e.device_type() == torch.autograd.DeviceType.CPU)
    running = peak = 0
    for _, nbytes in mem:
        running += nbytes
        peak = max(peak, running)
    return peak


def measure_step(role: str, func: Callable[[dict], None], batch: dict,
                 model: nn.Module, optim_wrapper, device: torch.device,
                 top_ops: int) -> dict:
    """Peak training memory of one step (and, for the GAN model, its top
    operators by self CPU time)."""
    resident = resident_bytes(model, optim_wrapper)
    data = copy.deepcopy(batch)
    result = dict(resident_mb=resident / MB)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        func(data)
        torch.cuda.synchronize(device)
        step_peak = torch.cuda.max_memory_allocated(device) - before
        method = ('torch.cuda.max_memory_allocated - memory_allocated '
                  'before the step')
    else:
        with profile(
                activities=[ProfilerActivity.CPU],
                profile_memory=True) as prof:
            func(data)
        step_peak = _profiler_peak_bytes(prof)
        method = ('torch.profiler(profile_memory=True): peak running sum of '
                  'CPU allocator alloc/free events during the step')
        if role == GAN and top_ops:
            result['top_ops'] = top_operators(prof, top_ops)
    result.update(
        step_peak_mb=step_peak / MB,
        peak_mb=(resident + step_peak) / MB,
        method=method)
    return result


def top_operators(prof, num: int) -> List[dict]:
    """The ``num`` operators with the largest self CPU time."""
    rows = [
        evt for evt in prof.key_averages()
        if not evt.key.startswith(('bench::', 'ProfilerStep'))
    ]
    total = sum(evt.self_cpu_time_total for evt in rows) or 1.
    rows.sort(key=lambda evt: evt.self_cpu_time_total, reverse=True)
    return [
        dict(
            name=evt.key,
            calls=int(evt.count),
            self_ms=evt.self_cpu_time_total / 1e3,
            share=evt.self_cpu_time_total / total) for evt in rows[:num]
    ]


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
def summarize_pieces(pieces: List[Dict[str, float]]) -> Dict[str, dict]:
    labels = sorted({label for it in pieces for label in it})
    return {
        label: stats([it.get(label, 0.) for it in pieces])
        for label in labels
    }


def _load_average() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def machine_description(device: torch.device) -> str:
    if device.type == 'cuda':
        where = torch.cuda.get_device_name(device)
    else:
        where = (f'{platform.processor() or platform.machine()}, '
                 f'{os.cpu_count()} CPUs visible, '
                 f'{torch.get_num_threads()} torch threads')
    return (f'{where}; torch {torch.__version__}, python '
            f'{platform.python_version()}')


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


def format_report(res: dict) -> str:
    """The human-readable report of :func:`benchmark`'s results."""
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
    target = res['target']
    time_label = 'CPU time' if target['time_ratio_key'] == \
        'train_cpu_ratio' else 'wall time'
    lines.append(
        f'target GAN/baseline <= {target["ratio"]:.2f}: training '
        f'{time_label} {res[target["time_ratio_key"]]:.2f} '
        f'{"yes" if target["time_ok"] else "NO"}, memory '
        f'{res["memory_ratio"]:.2f} {"yes" if target["memory_ok"] else "NO"}')
    clock = res['pieces_clock']
    whole = res['train_cpu'] if clock == 'process CPU time' else tr
    lines.append(f'GAN step breakdown, median s/iter of {clock} (baseline; '
                 'GAN - baseline):')
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
    extra = whole[GAN]['median'] - whole[BASE]['median']
    lines.append(f'  {"whole iteration":<68} {whole[GAN]["median"]:7.3f}  '
                 f'({whole[BASE]["median"]:.3f}; {extra:+.3f})')
    if res.get('top_ops'):
        lines.append('GAN step, top operators by self CPU time '
                     '(one profiled iteration):')
        for op in res['top_ops']:
            lines.append(f'  {op["name"][:60]:<60} {op["calls"]:5d} calls '
                         f'{op["self_ms"]:9.1f} ms {100 * op["share"]:5.1f}%')
    return '\n'.join(lines)


# ----------------------------------------------------------------------
# main
# ----------------------------------------------------------------------
def benchmark(args: argparse.Namespace) -> dict:
    """Run the benchmark described by ``args``; returns the results."""
    import mmdet_gan  # noqa: F401  (registers the GAN modules)

    # Quiet init_weights / paramwise logs: a fresh current logger.
    MMLogger.get_instance('benchmark_train', log_level='WARNING')
    init_default_scope('mmdet')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = device_sync(device)
    load_start = _load_average()

    gan_cfg = Config.fromfile(args.gan_config)
    base_cfg = Config.fromfile(args.base_config)
    if args.shared_cfg_options:
        gan_cfg.merge_from_dict(args.shared_cfg_options)
        base_cfg.merge_from_dict(args.shared_cfg_options)
    if args.cfg_options:
        gan_cfg.merge_from_dict(args.cfg_options)

    models, wrappers = {}, {}
    for role, cfg in ((GAN, gan_cfg), (BASE, base_cfg)):
        models[role], wrappers[role] = build_model_and_optim(
            cfg, args.seed, device)
    same_start = same_generator_weights(models[GAN], models[BASE])

    num_batches = min(args.num_batches, args.warmup + args.iters)
    if args.data_root and osp.isdir(args.data_root):
        batches = loader_batches(gan_cfg, args.data_root, num_batches,
                                 args.batch_size, args.seed)
        data = (f'{num_batches} batches of {args.batch_size} from '
                f'train_dataloader, data_root={args.data_root}')
    else:
        num_classes = num_classes_of(gan_cfg)
        batches = demo_batches(num_batches, args.batch_size, args.img_size,
                               args.num_gts, num_classes)
        data = (f'{num_batches} batches of demo_mm_inputs: '
                f'{args.batch_size} x {args.img_size}x{args.img_size} px, '
                f'{args.num_gts} objects with masks each, {num_classes} '
                'classes')
        if args.data_root:
            data += f' (--data-root {args.data_root} not found)'

    # Inference first, while the generators hold identical weights.
    def infer(role):

        def run(batch):
            with torch.no_grad():
                models[role].test_step(batch)

        return run

    infer_stats = infer_cpu = None
    if args.infer_iters:
        for model in models.values():
            model.eval()
        infer_run = run_interleaved({role: infer(role)
                                     for role in models}, batches,
                                    min(args.warmup, 1), args.infer_iters,
                                    sync)
        infer_stats = {r: stats(t) for r, t in infer_run['times'].items()}
        infer_cpu = {r: stats(t) for r, t in infer_run['cpu_times'].items()}

    def train(role):
        return lambda batch: models[role].train_step(batch, wrappers[role])

    for model in models.values():
        model.train()
    # The pieces by process CPU time on CPU (robust to other processes),
    # by wall time (after a sync) on CUDA.
    clock = time.process_time if device.type == 'cpu' else time.perf_counter
    timer = PieceTimer(sync, clock)
    for role in models:
        instrument(timer, role, models[role], wrappers[role])
    try:
        train_run = run_interleaved({role: train(role)
                                     for role in models}, batches, args.warmup,
                                    args.iters, sync, timer)
        memory = {
            role:
            measure_step(role, train(role), batches[0], models[role],
                         wrappers[role], device, args.top_ops)
            for role in models
        }
    finally:
        timer.restore()

    train_stats = {r: stats(t) for r, t in train_run['times'].items()}
    train_cpu = {r: stats(t) for r, t in train_run['cpu_times'].items()}
    paired = [
        g / b
        for g, b in zip(train_run['times'][GAN], train_run['times'][BASE])
    ]
    res = dict(
        machine=machine_description(device),
        load_average=dict(start=load_start, end=_load_average()),
        gan_config=osp.relpath(args.gan_config, REPO_ROOT)
        if args.gan_config.startswith(REPO_ROOT) else args.gan_config,
        base_config=osp.relpath(args.base_config, REPO_ROOT)
        if args.base_config.startswith(REPO_ROOT) else args.base_config,
        cfg_options=' '.join(f'{k}={v}'
                             for k, v in (args.cfg_options or {}).items()),
        shared_cfg_options=' '.join(
            f'{k}={v}' for k, v in (args.shared_cfg_options or {}).items()),
        data=data,
        same_start_weights=same_start,
        warmup=args.warmup,
        train=train_stats,
        train_cpu=train_cpu,
        inference=infer_stats,
        inference_cpu=infer_cpu,
        memory=memory,
        pieces_clock='process CPU time'
        if device.type == 'cpu' else 'wall time',
        pieces={
            role: summarize_pieces(p)
            for role, p in train_run['pieces'].items()
        },
        top_ops=memory[GAN].pop('top_ops', None),
        train_time_ratio=train_stats[GAN]['median'] /
        train_stats[BASE]['median'],
        train_time_ratio_paired=float(np.median(paired)),
        train_cpu_ratio=train_cpu[GAN]['median'] / train_cpu[BASE]['median'],
        infer_time_ratio=infer_stats[GAN]['median'] /
        infer_stats[BASE]['median'] if infer_stats else None,
        infer_cpu_ratio=infer_cpu[GAN]['median'] /
        infer_cpu[BASE]['median'] if infer_cpu else None,
        memory_ratio=memory[GAN]['peak_mb'] / memory[BASE]['peak_mb'],
        step_memory_ratio=memory[GAN]['step_peak_mb'] /
        max(memory[BASE]['step_peak_mb'], 1e-9),
    )
    res['target'] = target_check(res, args.target)
    return res


def target_check(res: dict, target: float) -> dict:
    """Whether the training time ratio (process CPU time on CPU, wall time
    on CUDA, where the CPU only queues kernels) and the memory ratio are
    within ``target``."""
    time_key = 'train_cpu_ratio' if res['pieces_clock'] == \
        'process CPU time' else 'train_time_ratio'
    return dict(
        ratio=target,
        time_ratio_key=time_key,
        time_ok=bool(res[time_key] <= target),
        memory_ok=bool(res['memory_ratio'] <= target))


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Entry point: runs the benchmark, prints the report and returns the
    results (``train_time_ratio``, ``infer_time_ratio`` (None with
    ``--infer-iters 0``), ``memory_ratio``, and the per-model
    statistics)."""
    args = parse_args(argv)
    res = benchmark(args)
    print(format_report(res), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    for key in ('train_time_ratio', 'train_cpu_ratio', 'infer_time_ratio',
                'memory_ratio'):
        if res[key] is None and key == 'infer_time_ratio':
            continue
        if not (res[key] > 0 and math.isfinite(res[key])):
            raise RuntimeError(f'{key} is {res[key]}')
    return res


if __name__ == '__main__':
    main()
    sys.exit(0)
