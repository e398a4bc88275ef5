# Copyright (c) mmdet-gan contributors. All rights reserved.
"""GAN vs baseline training cost under distributed data parallel (gloo, CPU).

Each role runs in its own group of ``--nproc`` processes, launched with
``torch.distributed.run``, in the order GAN, baseline, GAN, baseline, ...
(``--repeats`` pairs, so slow drifts of a shared machine hit both): the GAN
config's model in MMEngine's wrapper of that config
(``GANDistributedDataParallel``), the baseline's in MMEngine's default
``MMDistributedDataParallel`` (torch DDP with its gradient buckets). Every
process trains on its own ``demo_mm_inputs`` batches; an iteration is timed
between two barriers, so its time is the slowest process's. The memory is
each process's peak resident set (``ru_maxrss``), the largest over the
processes: it includes the model, the gradients, the optimizer states, the
DDP machinery and the training step's peak. The report prints the medians,
the GAN / baseline ratios and whether they are within ``--target``.

Example (2 CPU processes, one thread each, the demo configs)::

    python tools/analysis_tools/benchmark_ddp.py --iters 5 --warmup 2
    # the same work in both roles (the ratios of docs/benchmarks.md)
    python tools/analysis_tools/benchmark_ddp.py --iters 10 --warmup 2 \
        --repeats 3 --same-work

It is a measurement tool, not a test: run it alone on a quiet machine, and
compare ratios, not absolute times, across machines.

A launch that has not finished after ``--timeout`` seconds is stopped (its
whole process group) and reported with the role and what its processes
printed; each process dumps the Python stacks of its threads to that output
shortly before (``faulthandler``), so a hung collective shows where it hangs.
The processes' collectives also give up after ``--timeout`` seconds (the
process group's timeout) instead of gloo's 30 minutes.
"""
import argparse
import copy
import datetime
import faulthandler
import json
import math
import os
import os.path as osp
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_GAN_CONFIG = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                              'gan_mask_rcnn_r18_fpn_demo.py')
DEFAULT_BASE_CONFIG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                               'mask_rcnn_r18_fpn_demo.py')
ROLES = ('gan', 'base')
#: MMEngine's default wrapper (Runner.wrap_model without model_wrapper_cfg).
DEFAULT_WRAPPER = dict(
    type='MMDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='GAN vs baseline time and memory per training '
        'iteration under DDP (gloo)')
    parser.add_argument('--gan-config', default=DEFAULT_GAN_CONFIG)
    parser.add_argument('--base-config', default=DEFAULT_BASE_CONFIG)
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--repeats',
        type=int,
        default=1,
        help='GAN/baseline launches per role, alternating')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--img-size', type=int, default=192)
    parser.add_argument('--num-gts', type=int, default=4)
    parser.add_argument(
        '--threads', type=int, default=1, help='threads per process')
    parser.add_argument('--target', type=float, default=1.05)
    parser.add_argument(
        '--timeout',
        type=float,
        default=3600.,
        help='seconds a launch (one role: start-up, warm-up and timed '
        'iterations) may take before it is stopped and reported as hung')
    parser.add_argument(
        '--same-work',
        action='store_true',
        help='start every iteration (warm-up included) from the state the '
        'models were built in, with the RNGs seeded per batch and rank: '
        'the GAN\'s generator and the baseline (built with the same seed) '
        'then sample the same proposals and RoIs in every iteration, so '
        'the ratios measure the adversarial part and its gradient '
        'averaging alone; without it each model trains on, and their work '
        'drifts apart')
    parser.add_argument('--json', help='also write the results here')
    # internal: run one role's worker (under torch.distributed.run)
    parser.add_argument('--worker', choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument('--worker-out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ('nproc', 'iters', 'repeats', 'batch_size', 'img_size',
                 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0 or args.num_gts < 0:
        parser.error('--warmup and --num-gts must be >= 0')
    if args.timeout <= 0:
        parser.error('--timeout must be > 0 (seconds)')
    for name in ('gan_config', 'base_config'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'--{name.replace("_", "-")}: no such file '
                         f'{getattr(args, name)}')
    return args


def worker(args: argparse.Namespace) -> None:
    """One process of a role: build, wrap, train, report (rank 0 writes)."""
    import torch
    import torch.distributed as dist
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import MODEL_WRAPPERS
    from mmengine.runner import set_random_seed

    import mmdet_gan  # noqa: F401
    from mmdet_gan.benchmark import builders

    torch.set_num_threads(args.threads)
    # the Python stacks of every thread, into the output the launcher
    # reports, shortly before it stops a launch that overran --timeout
    faulthandler.dump_traceback_later(
        max(args.timeout - min(30., args.timeout / 10), 1.), exit=False)
    dist.init_process_group(
        'gloo', timeout=datetime.timedelta(seconds=args.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    register_all_modules()
    config = args.gan_config if args.worker == 'gan' else args.base_config
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    model, optim_wrapper = builders.build_model_and_optim(
        cfg, 0, torch.device('cpu'))
    start_checksum = generator_checksum(model)
    wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or DEFAULT_WRAPPER)
    wrapped = MODEL_WRAPPERS.build(
        wrapper_cfg, default_args=dict(module=model))
    torch.manual_seed(rank)
    batches = builders.demo_batches(2, args.batch_size, args.img_size,
                                    args.num_gts, builders.num_classes_of(cfg))
    if args.same_work:
        model_state = copy.deepcopy(model.state_dict())
        wrapper_state = copy.deepcopy(optim_wrapper.state_dict())
    times: List[float] = []
    for i in range(args.warmup + args.iters):
        data = batches[i % len(batches)]
        if args.same_work:
            model.load_state_dict(model_state)
            optim_wrapper.load_state_dict(copy.deepcopy(wrapper_state))
            set_random_seed(1000 * rank + i % len(batches))
        dist.barrier()
        start = time.perf_counter()
        wrapped.train_step(data, optim_wrapper)
        dist.barrier()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    peak = torch.tensor(
        [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.])
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        with open(args.worker_out, 'w') as f:
            json.dump(
                dict(
                    times=times,
                    peak_rss=float(peak.item()),
                    generator_checksum=start_checksum,
                    world_size=world,
                    wrapper=wrapper_cfg['type']), f)
    dist.destroy_process_group()
    faulthandler.cancel_dump_traceback_later()


def generator_checksum(model) -> float:
    """The sum of the generator's weights (the GAN model's parameters
    but its discriminators'; the whole baseline): equal for the two roles
    when their generators are built with the same weights, which
    ``--same-work`` needs."""
    return float(
        sum(param.detach().double().sum()
            for name, param in model.named_parameters()
            if not name.startswith('discriminator.')))


class LaunchTimeout(RuntimeError):
    """A role's launch did not finish within ``--timeout``."""


def run_process_group(cmd: List[str], env: dict, timeout: float,
                      role: str) -> Tuple[str, str]:
    """Run ``cmd`` in a session of its own and return its output.

    Args:
        cmd (list[str]): the command (``torch.distributed.run ...``).
        env (dict): its environment.
        timeout (float): seconds it may take; then it is stopped with every
            process of its group (the workers too, not only the launcher).
        role (str): named in the errors.

    Returns:
        tuple[str, str]: its stdout and stderr.

    Raises:
        LaunchTimeout: it overran ``timeout`` (the message has the end of
            what it printed: the workers' stacks, see ``worker``).
        RuntimeError: it exited with a non-zero status.
    """
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise LaunchTimeout(
            f'{role} workers did not finish within --timeout {timeout:g} s '
            'and were stopped; their output (Python stacks included):\n'
            f'{stdout[-4000:]}\n{stderr[-12000:]}') from None
    if proc.returncode != 0:
        raise RuntimeError(f'{role} workers failed (rc {proc.returncode}):\n' +
                           stderr[-4000:])
    return stdout, stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def launch(role: str, args: argparse.Namespace, out: str) -> dict:
    """Run ``role``'s workers under ``torch.distributed.run``."""
    cmd = [
        sys.executable, '-m', 'torch.distributed.run',
        f'--nproc_per_node={args.nproc}', '--master_addr=127.0.0.1',
        f'--master_port={free_port()}',
        osp.abspath(__file__), '--worker', role, '--worker-out', out,
        '--gan-config', args.gan_config, '--base-config', args.base_config,
        *(['--same-work'] if args.same_work else []), '--iters',
        str(args.iters), '--warmup',
        str(args.warmup), '--batch-size',
        str(args.batch_size), '--img-size',
        str(args.img_size), '--num-gts',
        str(args.num_gts), '--threads',
        str(args.threads), '--timeout',
        str(args.timeout)
    ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(args.threads),
        PYTHONPATH=os.pathsep.join(
            filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
    run_process_group(cmd, env, args.timeout, role)
    with open(out) as f:
        return json.load(f)


def summarise(runs: List[dict]) -> dict:
    times = [t for run in runs for t in run['times']]
    return dict(
        median_s=statistics.median(times),
        times=times,
        peak_rss_mib=max(run['peak_rss'] for run in runs) / 2**20,
        generator_checksum=runs[0]['generator_checksum'],
        wrapper=runs[0]['wrapper'])


def format_report(res: dict) -> str:
    gan, base = res['gan'], res['base']
    lines = [
        f'DDP benchmark: {res["nproc"]} processes (gloo), '
        f'{res["threads"]} thread(s) each, {res["iters"]} timed iterations '
        f'x {res["repeats"]} launch(es) per role, batch {res["batch_size"]}'
        f' x {res["img_size"]} px per process',
        f'GAN:      {res["gan_config"]} ({gan["wrapper"]})',
        f'baseline: {res["base_config"]} ({base["wrapper"]})',
        ('same work: every iteration from the built state, RNGs seeded '
         'per batch and rank; generators built with the same weights: '
         f'{res["same_start_weights"]}' if res['same_work'] else
         'the models train on (their work drifts apart)'),
        '| | GAN | baseline | GAN / baseline |',
        '| --- | ---: | ---: | ---: |',
        f'| time per iteration, median (s) | {gan["median_s"]:.3f} | '
        f'{base["median_s"]:.3f} | {res["time_ratio"]:.3f} |',
        f'| peak RSS per process (MiB) | {gan["peak_rss_mib"]:.0f} | '
        f'{base["peak_rss_mib"]:.0f} | {res["memory_ratio"]:.3f} |',
    ]
    for name in ('time', 'memory'):
        ratio = res[f'{name}_ratio']
        verdict = 'within' if ratio <= res['target'] else 'ABOVE'
        lines.append(f'{name}: {ratio:.3f} {verdict} the target '
                     f'{res["target"]:.2f}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Optional[dict]:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return None
    runs = {role: [] for role in ROLES}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for role in ROLES:
                out = osp.join(tmp, f'{role}{i}.json')
                runs[role].append(launch(role, args, out))
    res = dict({
        role: summarise(role_runs)
        for role, role_runs in runs.items()
    },
               gan_config=osp.relpath(args.gan_config, REPO_ROOT),
               base_config=osp.relpath(args.base_config, REPO_ROOT),
               nproc=args.nproc,
               threads=args.threads,
               iters=args.iters,
               repeats=args.repeats,
               batch_size=args.batch_size,
               img_size=args.img_size,
               target=args.target,
               same_work=args.same_work)
    res['same_start_weights'] = math.isclose(
        res['gan']['generator_checksum'],
        res['base']['generator_checksum'],
        rel_tol=1e-12)
    res['time_ratio'] = res['gan']['median_s'] / res['base']['median_s']
    res['memory_ratio'] = res['gan']['peak_rss_mib'] / \
        res['base']['peak_rss_mib']
    print(format_report(res), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
