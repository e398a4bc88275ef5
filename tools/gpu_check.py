# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The Python steps of ``tools/gpu_check.sh`` (see DEVELOPERS.md, "Running
the GPU check").

Subcommands (``python tools/gpu_check.py SUBCOMMAND --help``):

* ``versions``: Python, torch, CUDA, cuDNN, torchvision, the OpenMMLab
  packages and which of their parts import, the GPU's properties;
* ``wheels DIR``: the wheels of DIR whose top-level modules do not import
  here (one path a line), i.e. the ones to install;
* ``ext``: where ``mmdet_gan._ext`` was loaded from and whether it has the
  CUDA kernels (``--require-cuda`` fails without them);
* ``verdicts BENCH_JSON``: the targets of the GPU issue read off the JSON of
  ``benchmark_prroi.py --json``: forward+backward with the coordinate
  gradient no slower than RoIAlign's forward+backward at 7x7, within 2x at
  28x28;
* ``amp``: one adversarial game under ``torch.autocast`` with one
  ``GradScaler`` per player: BoxDiscriminator on the fused multi-level
  pooling (:func:`mmdet_gan.ops.multi_level_max_prroi_pool`),
  MaskDiscriminator on :func:`mmdet_gan.ops.prroi_pool`, GANLoss and
  MultiScaleL1Loss; the generator's step goes through the op's coordinate
  gradient with the discriminators frozen, the discriminators' step runs on
  detached samples. Checks finiteness, dtypes, that each scaler steps and
  that the RoIs get a gradient.

Each check prints ``CHECK <name>: PASS|FAIL ...`` (``VERDICT`` for the
targets); the exit status is 1 when one fails.
"""
import argparse
import copy
import importlib
import importlib.util
import json
import logging
import os
import platform
import sys
import time
import traceback
import zipfile
from typing import Callable, Dict, List, Optional

#: output size -> the most ``ours fwd+bwd / RoIAlign fwd+bwd`` may be
TARGETS = {7: 1.0, 28: 2.0}
#: ours vs the plain-PyTorch closed form in float64: the same integral
MAX_FLOAT64_DIFF = 1e-9


# --------------------------------------------------------------------------
# versions, wheels, ext
# --------------------------------------------------------------------------
def _version(module: str) -> str:
    try:
        mod = importlib.import_module(module)
    except Exception as error:  # noqa: BLE001 (report whatever it is)
        return f'not importable ({type(error).__name__}: {error})'
    return str(getattr(mod, '__version__', 'imported (no __version__)'))


def cmd_versions(args) -> int:
    import torch
    print(f'python {platform.python_version()} ({sys.executable})')
    print(f'platform {platform.platform()}; {os.cpu_count()} logical CPUs')
    print(f'torch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN '
          f'{torch.backends.cudnn.version()}), '
          f'{torch.get_num_threads()} intra-op threads')
    for module in ('torchvision', 'numpy', 'mmengine', 'mmcv', 'mmdet',
                   'mmcv._ext', 'mmcv.ops', 'mmdet.models', 'mmdet_gan'):
        print(f'{module}: {_version(module)}')
    try:
        ext = importlib.import_module('mmdet_gan._ext')
        print(f'mmdet_gan._ext: {ext.__file__} (with CUDA: '
              f'{ext.with_cuda()})')
    except ImportError as error:
        print(f'mmdet_gan._ext: not importable ({error})')
    print(f'torch.cuda.is_available(): {torch.cuda.is_available()}')
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        print(f'GPU 0: {props.name}, compute capability '
              f'{props.major}.{props.minor}, {props.multi_processor_count} '
              f'SMs, {props.total_memory / 2**30:.1f} GiB, L2 '
              f'{getattr(props, "L2_cache_size", 0) / 2**20:.0f} MiB; '
              f'{torch.cuda.device_count()} device(s)')
    return 0


def wheel_modules(path: str) -> List[str]:
    """Top-level modules of a wheel (its ``top_level.txt``, else the
    distribution name with ``-`` as ``_``)."""
    with zipfile.ZipFile(path) as whl:
        names = [
            n for n in whl.namelist() if n.endswith('.dist-info/top_level.txt')
        ]
        if names:
            modules = whl.read(names[0]).decode().split()
            if modules:
                return modules
    return [os.path.basename(path).split('-')[0].lower()]


def cmd_wheels(args) -> int:
    wheels = sorted(
        os.path.join(args.dir, n) for n in os.listdir(args.dir)
        if n.endswith('.whl')) if os.path.isdir(args.dir) else []
    for path in wheels:
        modules = wheel_modules(path)
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing or args.all:
            print(path)
        else:
            print(
                f'already importable: {", ".join(modules)} '
                f'({os.path.basename(path)})',
                file=sys.stderr)
    return 0


def cmd_ext(args) -> int:
    from mmdet_gan.ops.prroi_pool import _load_ext
    ext = _load_ext()
    print(f'mmdet_gan._ext: {ext.__file__}')
    print(f'with CUDA: {ext.with_cuda()}')
    if args.require_cuda and not ext.with_cuda():
        print('CHECK ext: FAIL built without MMDET_GAN_WITH_CUDA')
        return 1
    return 0


# --------------------------------------------------------------------------
# verdicts
# --------------------------------------------------------------------------
def verdicts(report: dict) -> List[str]:
    """``VERDICT`` lines for every case of a ``benchmark_prroi.py --json``
    report: the speed targets (:data:`TARGETS`) and the float64 agreement
    with the plain-PyTorch closed form."""
    lines = []
    ref = report.get('reference')
    for case in report['cases']:
        size, times = case['output_size'], case['times']
        where = f'{case["boxes"]} boxes, {size}x{size}'
        ours = times['ours']
        diff = case['max_abs_diff_float64']
        ok = diff <= MAX_FLOAT64_DIFF
        lines.append(f'VERDICT {where}: {"PASS" if ok else "FAIL"} max |ours '
                     f'- plain PyTorch| in float64 = {diff:.1e} (<= '
                     f'{MAX_FLOAT64_DIFF:g})')
        if 'pytorch' in times:
            lines.append(
                f'INFO {where}: plain PyTorch / ours: fwd '
                f'{times["pytorch"]["fwd"] / ours["fwd"]:.0f}x, fwd+bwd '
                f'{times["pytorch"]["fwd_bwd"] / ours["fwd_bwd"]:.0f}x')
        if 'roi_align' not in times:
            lines.append(f'VERDICT {where}: n/a no RoIAlign reference '
                         f'(--reference {ref})')
            continue
        ra = times['roi_align']
        r = ours['fwd_bwd'] / ra['fwd_bwd']
        target = TARGETS.get(size)
        status = 'n/a' if target is None else (
            'PASS' if r <= target else 'FAIL')
        bound = '' if target is None else f' (target <= {target:g}x)'
        lines.append(
            f'VERDICT {where}: {status} ours fwd+bwd with coord grad '
            f'{ours["fwd_bwd"] * 1e3:.3f} ms / {ref} RoIAlign fwd+bwd '
            f'{ra["fwd_bwd"] * 1e3:.3f} ms = {r:.2f}x{bound}')
        feat = times.get('ours (feat grad only)')
        if feat:
            lines.append(
                f'INFO {where}: fwd {ours["fwd"] * 1e3:.3f} ms vs '
                f'{ra["fwd"] * 1e3:.3f} ms ({ours["fwd"] / ra["fwd"]:.2f}x); '
                f'fwd+bwd feat grad only {feat["fwd_bwd"] * 1e3:.3f} ms '
                f'({feat["fwd_bwd"] / ra["fwd_bwd"]:.2f}x)')
        if 'mmcv_prroi' in times:
            mm = times['mmcv_prroi']
            lines.append(f'INFO {where}: ours / mmcv PrRoIPool fwd+bwd '
                         f'{ours["fwd_bwd"] / mm["fwd_bwd"]:.2f}x')
    return lines


def cmd_verdicts(args) -> int:
    with open(args.json) as f:
        report = json.load(f)
    print(f'benchmark: {report["device"]} ({report["machine"]}), torch '
          f'{report["torch"]}, K={report["num_rois"]}, '
          f'C={report["channels"]}, map {report["map_size"]}, best of '
          f'{report["repeat"]}, RoIAlign from {report["reference"]}')
    lines = verdicts(report)
    print('\n'.join(lines))
    failed = any(
        line.split(': ', 1)[1].startswith('FAIL') for line in lines
        if line.startswith('VERDICT'))
    if args.informational:
        print('(rehearsal: the targets are the GPU\'s; not enforced here)')
        return 0
    return 1 if failed else 0


# --------------------------------------------------------------------------
# amp
# --------------------------------------------------------------------------
class CheckFailed(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def make_scaler(device: str):
    import torch
    try:
        return torch.amp.GradScaler(device)
    except (AttributeError, TypeError):  # torch < 2.3
        return torch.cuda.amp.GradScaler(enabled=device == 'cuda')


def build_game(device: str, channels: int, img: int):
    """A toy generator (features of 4 levels, box deltas, a mask head), the
    two discriminators and their optimizers."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from mmengine.logging import MMLogger

    from mmdet_gan.models.discriminators import (BoxDiscriminator,
                                                 MaskDiscriminator)
    strides = (4, 8, 16, 32)

    class ToyGenerator(nn.Module):

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, channels, 3, padding=1)
            self.levels = nn.ModuleList(
                nn.Conv2d(channels, channels, 3, padding=1) for _ in strides)
            self.box_head = nn.Linear(4, 4)
            self.mask_head = nn.Conv2d(channels, 1, 3, padding=1)

        def features(self, images):
            x = F.relu(self.stem(images))
            return [
                conv(F.avg_pool2d(x, s))
                for conv, s in zip(self.levels, strides)
            ]

        def boxes(self, proposals):
            """Refined RoIs, float32 (the op's coordinates) whatever the
            head computed in."""
            xyxy = proposals[:, 1:]
            wh = (xyxy[:, 2:] - xyxy[:, :2]).repeat(1, 2)
            deltas = self.box_head(xyxy / img).float()
            return torch.cat([proposals[:, :1], xyxy + 0.1 * deltas * wh],
                             dim=1)

    # mmengine logs every initialised parameter at INFO
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    torch.manual_seed(0)
    gen = ToyGenerator().to(device)
    box_d = BoxDiscriminator(
        in_channels=channels, roi_size=7, base_channels=16,
        num_convs=3).to(device)
    mask_d = MaskDiscriminator(
        in_channels=channels, roi_size=28, base_channels=16,
        num_convs=5).to(device)
    box_d.init_weights()
    mask_d.init_weights()
    opt_g = torch.optim.SGD(gen.parameters(), lr=1e-3, momentum=0.9)
    opt_d = torch.optim.SGD(
        list(box_d.parameters()) + list(mask_d.parameters()),
        lr=1e-3,
        momentum=0.9)
    return gen, box_d, mask_d, opt_g, opt_d, strides


def random_boxes(num: int, img: int, batch: int, device: str, seed: int):
    import torch
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=g) * img * 0.7
    wh = torch.rand(num, 2, generator=g) * img * 0.3 + 8
    idx = torch.randint(0, batch, (num, 1), generator=g).float()
    xyxy = torch.cat([xy, (xy + wh).clamp(max=img - 1)], dim=1)
    return torch.cat([idx, xyxy], dim=1).to(device)


def cmd_amp(args) -> int:
    import torch

    from mmdet_gan.models.losses import GANLoss, MultiScaleL1Loss
    from mmdet_gan.ops import multi_level_max_prroi_pool, prroi_pool
    device = args.device
    amp_dtype = getattr(torch, args.dtype)
    img, batch, num = args.img_size, 2, args.num_rois
    gen, box_d, mask_d, opt_g, opt_d, strides = build_game(
        device, args.channels, img)
    scales = [1 / s for s in strides]
    gan_loss, l1_loss = GANLoss(), MultiScaleL1Loss()
    scaler_g, scaler_d = make_scaler(device), make_scaler(device)
    players_d = (box_d, mask_d)
    g = torch.Generator().manual_seed(1)
    images = torch.randn(batch, 3, img, img, generator=g).to(device)
    proposals = random_boxes(num, img, batch, device, 2)
    rois_real = random_boxes(num, img, batch, device, 3)
    gt_masks = (torch.rand(num, 1, 28, 28, generator=g)
                > 0.5).float().to(device)
    print(f'amp: device {device}, autocast {args.dtype}, {args.iters} '
          f'iterations, K={num} RoIs, C={args.channels}, images '
          f'{batch}x3x{img}x{img}, levels {strides}, one GradScaler per '
          f'player ({type(scaler_g).__module__}.'
          f'{type(scaler_g).__name__})')
    results: Dict[str, Optional[str]] = {}
    history: List[dict] = []

    def autocast():
        return torch.autocast(device, dtype=amp_dtype)

    def set_requires_grad(modules, flag):
        for module in modules:
            for p in module.parameters():
                p.requires_grad_(flag)

    def params(modules):
        return [p for m in modules for p in m.parameters()]

    def finite_grads(modules):
        return all(
            torch.isfinite(p.grad).all() for p in params(modules)
            if p.grad is not None)

    def scaler_step(scaler, opt, modules):
        before = [p.detach().clone() for p in params(modules)]
        scale = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        changed = any(not torch.equal(b, p.detach())
                      for b, p in zip(before, params(modules)))
        return dict(
            scale=scale, next_scale=scaler.get_scale(), stepped=changed)

    def generator_step(it):
        set_requires_grad(players_d, False)
        opt_g.zero_grad(set_to_none=True)
        opt_d.zero_grad(set_to_none=True)
        with autocast():
            feats = gen.features(images)
            rois_fake = gen.boxes(proposals)
            rois_fake.retain_grad()
            box_fake = multi_level_max_prroi_pool(feats, rois_fake, 7, scales)
            mfeat_fake = prroi_pool(feats[0], rois_fake, 28, scales[0])
            mask_fake = torch.sigmoid(gen.mask_head(mfeat_fake))
            mfeat_real = prroi_pool(feats[0], rois_real, 28, scales[0])
            logit_fake = box_d(box_fake)
            mask_in_fake = mask_fake * mfeat_fake
            mask_in_real = gt_masks * mfeat_real
            mfeats_fake = mask_d(mask_in_fake)
            mfeats_real = mask_d(mask_in_real)
            loss_box = gan_loss(None, logit_fake, is_disc=False)
            loss_mask = l1_loss(mfeats_real, mfeats_fake, is_disc=False)
            loss = loss_box + loss_mask
        dtypes = dict(
            features=feats[0].dtype,
            rois=rois_fake.dtype,
            box_pooled=box_fake.dtype,
            mask_pooled=mfeat_fake.dtype,
            box_logit=logit_fake.dtype,
            # per-layer features: one dtype for all of them, else a set
            mask_features=(lambda d: d.pop() if len(d) == 1 else d)(
                {t.dtype
                 for t in mfeats_fake}),
            loss=loss.dtype)
        scaler_g.scale(loss).backward()
        grad = rois_fake.grad
        expect(grad is not None, 'no gradient reached the RoIs')
        expect(grad.dtype == torch.float32,
               f'RoI gradient in {grad.dtype}, not float32')
        scale = scaler_g.get_scale()
        finite = bool(torch.isfinite(grad).all())
        expect(
            all(p.grad is None for p in params(players_d)),
            'the frozen discriminators got gradients in the G step')
        expect(
            gen.box_head.weight.grad is not None,
            'the box head got no gradient (through the op\'s coordinate '
            'gradient)')
        info = dict(
            loss=float(loss.detach()),
            loss_box=float(loss_box.detach()),
            loss_mask=float(loss_mask.detach()),
            rois_grad_finite=finite,
            rois_grad_abs=float(
                (grad[:, 1:] / scale).abs().sum()) if finite else float('inf'),
            rois_grad_batch_col_zero=bool((grad[:, 0] == 0).all()),
            grads_finite=finite_grads([gen]),
            dtypes=dtypes)
        info.update(scaler_step(scaler_g, opt_g, [gen]))
        return info, feats

    def discriminator_step(feats):
        set_requires_grad(players_d, True)
        opt_d.zero_grad(set_to_none=True)
        opt_g.zero_grad(set_to_none=True)
        with torch.no_grad(), autocast():
            # detached samples: what the generator made, and the real ones
            rois_fake = gen.boxes(proposals)
            box_fake = multi_level_max_prroi_pool(feats, rois_fake, 7, scales)
            box_real = multi_level_max_prroi_pool(feats, rois_real, 7, scales)
            mfeat_fake = prroi_pool(feats[0], rois_fake, 28, scales[0])
            mask_in_fake = torch.sigmoid(gen.mask_head(mfeat_fake)) * \
                mfeat_fake
            mask_in_real = gt_masks * prroi_pool(feats[0], rois_real, 28,
                                                 scales[0])
        samples = [box_fake, box_real, mask_in_fake, mask_in_real]
        expect(not any(s.requires_grad for s in samples),
               'D samples are not detached')
        with autocast():
            loss_box = gan_loss(box_d(box_real), box_d(box_fake), is_disc=True)
            loss_mask = l1_loss(
                mask_d(mask_in_real), mask_d(mask_in_fake), is_disc=True)
            loss = loss_box + loss_mask
        scaler_d.scale(loss).backward()
        expect(
            all(p.grad is None for p in gen.parameters()),
            'the generator got gradients in the D step')
        expect(
            all(p.grad is not None for p in params(players_d)),
            'a discriminator parameter got no gradient')
        info = dict(
            loss=float(loss.detach()),
            loss_box=float(loss_box.detach()),
            loss_mask=float(loss_mask.detach()),
            loss_dtype=loss.dtype,
            grads_finite=finite_grads(players_d),
            param_dtype=next(box_d.parameters()).dtype)
        info.update(scaler_step(scaler_d, opt_d, players_d))
        return info

    def run_check(name: str, fn: Callable[[], str]) -> None:
        try:
            detail = fn()
        except Exception as error:  # noqa: BLE001 (report, go on)
            results[name] = f'FAIL {type(error).__name__}: {error}'
            traceback.print_exc()
        else:
            results[name] = f'PASS {detail}'
        print(f'CHECK {name}: {results[name]}', flush=True)

    def game():
        start = time.perf_counter()
        for it in range(args.iters):
            g_info, feats = generator_step(it)
            d_info = discriminator_step([f.detach() for f in feats])
            history.append(dict(g=g_info, d=d_info))
            print(f'  iter {it}: G loss {g_info["loss"]:.4f} (scale '
                  f'{g_info["scale"]:g}, stepped {g_info["stepped"]}, |dL/d'
                  f'rois| {g_info["rois_grad_abs"]:.3e}); D loss '
                  f'{d_info["loss"]:.4f} (scale {d_info["scale"]:g}, '
                  f'stepped {d_info["stepped"]})')
        if device == 'cuda':
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        return (f'{args.iters} G+D iterations in {elapsed:.2f} s' +
                (f', peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB'
                 if device == 'cuda' else ''))

    run_check('game runs', game)
    if history:
        run_check('losses finite', lambda: check_losses(history))
        run_check('dtypes', lambda: check_dtypes(history, amp_dtype))
        run_check('scalers step', lambda: check_steps(history))
        run_check('rois grads', lambda: check_rois_grads(history))
    run_check(
        'empty RoIs under autocast',
        lambda: check_empty(gen, box_d, mask_d, gan_loss, l1_loss, images,
                            scales, autocast, device))
    failed = [n for n, r in results.items() if not r.startswith('PASS')]
    print(f'amp: {len(results) - len(failed)}/{len(results)} checks passed' +
          (f'; failed: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


def _finite(x: float) -> bool:
    return x == x and abs(x) != float('inf')


def check_losses(history) -> str:
    bad = [
        i for i, h in enumerate(history)
        if not (_finite(h['g']['loss']) and _finite(h['d']['loss']))
    ]
    expect(not bad, f'a loss is not finite (iterations {bad})')
    return 'G and D losses of every iteration'


def check_rois_grads(history) -> str:
    """In every iteration whose G step was taken (not skipped by the
    scaler for inf/NaN gradients), the RoIs' gradient is finite, nonzero on
    the coordinates and 0 on the batch index."""
    bad = [
        i for i, h in enumerate(history) if h['g']['stepped']
        and not (h['g']['rois_grad_finite'] and h['g']['rois_grad_abs'] > 0
                 and h['g']['rois_grad_batch_col_zero'])
    ]
    expect(
        not bad, 'a stepped G iteration has a zero or non-finite RoI '
        f'gradient (iterations {bad})')
    return ('finite and nonzero in every stepped G iteration, 0 on the batch '
            'index column')


def check_dtypes(history, amp_dtype) -> str:
    import torch
    dt = history[0]['g']['dtypes']
    want = dict(
        features=amp_dtype,
        rois=torch.float32,
        box_pooled=torch.float32,
        mask_pooled=torch.float32,
        mask_features=torch.float32,
        loss=torch.float32)
    wrong = {k: (dt[k], v) for k, v in want.items() if dt[k] != v}
    expect(not wrong, f'(got, wanted): {wrong}')
    d = history[0]['d']
    expect(d['loss_dtype'] == torch.float32, f'D loss in {d["loss_dtype"]}')
    expect(d['param_dtype'] == torch.float32,
           f'D parameters in {d["param_dtype"]} (master weights: float32)')
    return ', '.join(f'{k} {str(v).replace("torch.", "")}'
                     for k, v in dt.items())


def check_steps(history) -> str:
    out = []
    for player in ('g', 'd'):
        steps = [h[player]['stepped'] for h in history]
        expect(
            steps[-1], f'{player.upper()}: the last iteration did not '
            f'step (scales {[h[player]["scale"] for h in history]})')
        expect(
            all(h[player]['grads_finite'] or not h[player]['stepped']
                for h in history),
            f'{player.upper()} stepped with non-finite gradients')
        out.append(f'{player.upper()} {sum(steps)}/{len(steps)} stepped, '
                   f'scale {history[0][player]["scale"]:g} -> '
                   f'{history[-1][player]["next_scale"]:g}')
    return '; '.join(out)


def check_empty(gen, box_d, mask_d, gan_loss, l1_loss, images, scales,
                autocast, device) -> str:
    """No RoI at all: zero losses attached to the graph, backward works."""
    import torch

    from mmdet_gan.ops import multi_level_max_prroi_pool, prroi_pool
    gen, box_d, mask_d = (copy.deepcopy(m) for m in (gen, box_d, mask_d))
    rois = torch.zeros(0, 5, device=device, requires_grad=True)
    with autocast():
        feats = gen.features(images)
        box = multi_level_max_prroi_pool(feats, rois, 7, scales)
        mask = prroi_pool(feats[0], rois, 28, scales[0])
        loss = gan_loss(box_d(box.detach()), box_d(box), is_disc=False) + \
            l1_loss(mask_d(mask.detach()), mask_d(mask), is_disc=False)
    expect(box.shape[0] == 0 and mask.shape[0] == 0, 'non-empty output')
    expect(loss.item() == 0.0, f'loss {loss.item()} on no samples')
    loss.backward()
    expect(rois.grad is not None and rois.grad.shape == (0, 5),
           'no (0, 5) RoI gradient')
    return 'zero loss, backward ok'


# --------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('versions').set_defaults(fn=cmd_versions)
    p = sub.add_parser('wheels')
    p.add_argument('dir')
    p.add_argument(
        '--all', action='store_true', help='list every wheel of DIR')
    p.set_defaults(fn=cmd_wheels)
    p = sub.add_parser('ext')
    p.add_argument('--require-cuda', action='store_true')
    p.set_defaults(fn=cmd_ext)
    p = sub.add_parser('verdicts')
    p.add_argument('json')
    p.add_argument(
        '--informational',
        action='store_true',
        help='print the verdicts, exit 0 whatever they are')
    p.set_defaults(fn=cmd_verdicts)
    p = sub.add_parser('amp')
    p.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    p.add_argument(
        '--dtype',
        default=None,
        choices=['float16', 'bfloat16'],
        help='autocast dtype (default float16 on cuda, bfloat16 on cpu)')
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--num-rois', type=int, default=64)
    p.add_argument('--channels', type=int, default=64)
    p.add_argument('--img-size', type=int, default=256)
    p.set_defaults(fn=cmd_amp)
    args = parser.parse_args(argv)
    if getattr(args, 'dtype', 'x') is None:
        args.dtype = 'float16' if args.device == 'cuda' else 'bfloat16'
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    return args.fn(args)


if __name__ == '__main__':
    sys.exit(main())
