# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The breakdown of a training step from its ``torch.profiler`` ranges.

A GAN training step emits the ranges of :mod:`mmdet_gan.utils.profiling`
(``mmdet_gan::forward``, ``mmdet_gan::g_backward``, ...). A piece's time is
the time of its range's events: the host time between the range's start
and end (what the profiler reports as the range's CPU time) on CPU, the
CUDA kernel time of the operators inside it on CUDA. Ranges nest (the
prRoIPool of the boxes is part of the box inputs, which are part of the
forward); a piece's time includes the pieces inside it, and a range of the
same name inside another one (a recursive call) is counted once, with its
outermost occurrence. A range that runs several times in a step (the
discriminators' forward with ``discriminator_first``) sums its occurrences.
"""
import copy
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch
from torch.profiler import ProfilerActivity, profile

from mmdet_gan.utils.profiling import RANGE_PREFIX, TRAIN_STEP
from .timing import PrepareFn, stats

#: ``clock`` of :func:`range_times`: the ranges' host (CPU) time, or the
#: CUDA kernel time of the operators they contain.
CLOCKS = ('cpu', 'device')
#: The label of the whole step in :func:`step_pieces`.
WHOLE_STEP = TRAIN_STEP[len(RANGE_PREFIX):]


@dataclass(frozen=True)
class Span:
    """One occurrence of a profiler range.

    Attributes:
        name (str): the range's name.
        start_us (float): start, in microseconds of the profiler's clock.
        end_us (float): end, same clock (>= ``start_us``).
        thread (int): the thread that ran it; ranges nest within a thread.
        device_us (float): the CUDA kernel time of the operators inside the
            range, in microseconds (0 without CUDA profiling).
    """
    name: str
    start_us: float
    end_us: float
    thread: int = 0
    device_us: float = 0.

    @property
    def cpu_us(self) -> float:
        """float: the host time of the range, in microseconds."""
        return self.end_us - self.start_us

    def contains(self, other: 'Span') -> bool:
        """Whether ``other`` runs inside this span (same thread, within
        its start and end; a span contains itself)."""
        return (self.thread == other.thread and self.start_us <= other.start_us
                and other.end_us <= self.end_us)


def spans_from_function_events(events: Iterable,
                               prefix: str = RANGE_PREFIX) -> List[Span]:
    """The host-side occurrences of the ranges named ``prefix...``.

    Args:
        events (Iterable[FunctionEvent]): ``prof.events()`` of a
            ``torch.profiler.profile`` (or anything with ``name``,
            ``time_range.start`` / ``.end`` in microseconds, ``thread``,
            ``device_type`` and ``device_time_total``).
        prefix (str): keep the events whose name starts with it.

    Returns:
        list[Span]: one per kept event, in the events' order, with the CUDA
        kernel time of each range (0 without CUDA profiling).
    """
    spans = []
    for evt in events:
        if not evt.name.startswith(prefix) or \
                evt.device_type != torch.autograd.DeviceType.CPU:
            continue
        spans.append(
            Span(
                name=evt.name,
                start_us=float(evt.time_range.start),
                end_us=float(evt.time_range.end),
                thread=int(evt.thread),
                device_us=float(getattr(evt, 'device_time_total', 0.))))
    return spans


def spans_from_kineto_events(events: Iterable,
                             prefix: str = RANGE_PREFIX) -> List[Span]:
    """Like :func:`spans_from_function_events`, from the profiler's raw
    events, without the CUDA kernel times.

    ``prof.events()`` builds a ``FunctionEvent`` (and its place in the
    tree) for every operator of the profile: about 1 s per 10,000 events,
    several seconds for one Mask R-CNN training step. The raw events of
    ``prof.profiler.kineto_results.events()`` are read in milliseconds.

    Args:
        events (Iterable[_KinetoEvent]): anything with ``name()``,
            ``start_ns()``, ``duration_ns()``, ``start_thread_id()`` and
            ``device_type()``.
        prefix (str): keep the events whose name starts with it.

    Returns:
        list[Span]: one per kept event, in the events' order, timed from
        the first kept event's start.
    """
    kept = [
        evt for evt in events if evt.name().startswith(prefix)
        and evt.device_type() == torch.autograd.DeviceType.CPU
    ]
    if not kept:
        return []
    base = min(evt.start_ns() for evt in kept)  # ints: exact differences
    return [
        Span(
            name=evt.name(),
            start_us=(evt.start_ns() - base) / 1e3,
            end_us=(evt.start_ns() - base + evt.duration_ns()) / 1e3,
            thread=int(evt.start_thread_id())) for evt in kept
    ]


def profile_spans(prof: profile,
                  clock: str = 'cpu',
                  prefix: str = RANGE_PREFIX) -> List[Span]:
    """The spans of the ranges named ``prefix...`` in a finished profile.

    Args:
        prof (torch.profiler.profile): a finished profile.
        clock (str): ``'cpu'`` reads the raw events
            (:func:`spans_from_kineto_events`, fast) where this torch
            exposes them; ``'device'`` needs the kernel times of
            ``prof.events()`` (:func:`spans_from_function_events`).
        prefix (str): the prefix of the range names.

    Returns:
        list[Span]: the spans.
    """
    if clock == 'cpu':
        raw = getattr(getattr(prof, 'profiler', None), 'kineto_results', None)
        if raw is not None and hasattr(raw, 'events'):
            return spans_from_kineto_events(raw.events(), prefix)
    return spans_from_function_events(prof.events(), prefix)


def ancestors(span: Span, spans: Sequence[Span]) -> List[Span]:
    """The spans ``span`` runs inside, outermost first.

    Args:
        span (Span): one of ``spans`` (or any span).
        spans (Sequence[Span]): the spans of one profile.

    Returns:
        list[Span]: the other spans that contain ``span``, by start (and
        the longer first at equal starts).
    """
    outer = [s for s in spans if s is not span and s.contains(span)]
    return sorted(outer, key=lambda s: (s.start_us, -s.end_us))


def range_times(spans: Sequence[Span], clock: str = 'cpu') -> Dict[str, float]:
    """The time of each range name, in seconds.

    Args:
        spans (Sequence[Span]): the spans of one profile.
        clock (str): ``'cpu'`` (host time) or ``'device'`` (CUDA kernel
            time), see :data:`CLOCKS`.

    Returns:
        dict[str, float]: ``{name: seconds}``, the sum over the outermost
        occurrences of each name (an occurrence inside another one of the
        same name, on the same thread, is part of it and not added again).
    """
    if clock not in CLOCKS:
        raise ValueError(f'clock must be one of {CLOCKS}, got {clock!r}')
    groups: Dict[tuple, List[Span]] = {}
    for span in spans:
        groups.setdefault((span.thread, span.name), []).append(span)
    times: Dict[str, float] = {}
    for (_, name), group in groups.items():
        group.sort(key=lambda s: (s.start_us, -s.end_us))
        outer_end = None
        for span in group:
            if outer_end is not None and span.end_us <= outer_end:
                continue  # nested in the previous outermost occurrence
            outer_end = span.end_us
            value = span.cpu_us if clock == 'cpu' else span.device_us
            times[name] = times.get(name, 0.) + value * 1e-6
    return times


def step_pieces(spans: Sequence[Span],
                clock: str = 'cpu',
                prefix: str = RANGE_PREFIX) -> Dict[str, float]:
    """The pieces of one training step, in seconds.

    Args:
        spans (Sequence[Span]): the spans of a profile of one step.
        clock (str): see :func:`range_times`.
        prefix (str): the prefix of the range names, left out of the
            labels.

    Returns:
        dict[str, float]: ``{label: seconds}``, the label being the range
        name without ``prefix`` (``forward``, ``g_backward``,
        ``train_step``, ...), plus ``g_update`` = ``g_backward`` +
        ``g_step`` and ``d_update`` = ``d_backward`` + ``d_step`` where a
        player has either part and no update range of its own.
    """
    pieces = {
        name[len(prefix):]: value
        for name, value in range_times(spans, clock).items()
    }
    for player in ('g', 'd'):
        parts = [f'{player}_backward', f'{player}_step']
        update = f'{player}_update'
        if update not in pieces and any(part in pieces for part in parts):
            pieces[update] = sum(pieces.get(part, 0.) for part in parts)
    return pieces


def profile_step(step: Callable[[], object],
                 device: torch.device) -> Dict[str, float]:
    """Run ``step()`` once under ``torch.profiler`` and break it down.

    Args:
        step (callable): one training step (no argument).
        device (torch.device): on CUDA the CUDA activity is profiled too,
            the device is synchronised before the profile ends, and the
            pieces are the ranges' kernel times.

    Returns:
        dict[str, float]: :func:`step_pieces` of the profile.
    """
    activities = [ProfilerActivity.CPU]
    clock = 'cpu'
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
        clock = 'device'
    with profile(activities=activities) as prof:
        step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
    return step_pieces(profile_spans(prof, clock), clock)


def profile_interleaved(
        steps: Dict[str, Callable[[dict], object]],
        batches: Sequence[dict],
        start: int,
        iters: int,
        device: torch.device,
        prepare: Optional[PrepareFn] = None) -> Dict[str, List[dict]]:
    """Profile ``iters`` rounds of the roles' steps, interleaved.

    Round ``i`` runs :func:`profile_step` of ``steps[role]`` for every role
    in turn on a fresh deep copy of ``batches[(start + i) % len(batches)]``
    (``start``: the batch the timed rounds of ``timing.run_interleaved``
    started with after their warm-up, to profile the same batches).

    Args:
        steps (dict[str, callable]): ``{role: step(data)}``, steps that emit
            the ranges (e.g. ``steps.train_step_fn(..., ranged=True)``).
        batches (Sequence[dict]): the batches, cycled.
        start (int): index of the first round's batch.
        iters (int): rounds.
        device (torch.device): see :func:`profile_step`.
        prepare (callable, optional): ``prepare(role, batch_index)`` before
            each step, outside the profile (see ``timing.run_interleaved``).

    Returns:
        dict[str, list[dict]]: ``{role: [step_pieces of each round]}``.
    """
    out: Dict[str, List[dict]] = {role: [] for role in steps}
    for i in range(iters):
        index = (start + i) % len(batches)
        batch = batches[index]
        for role, step in steps.items():
            if prepare is not None:
                prepare(role, index)
            data = copy.deepcopy(batch)
            out[role].append(profile_step(lambda: step(data), device))
    return out


def summarize_pieces(
        pieces: Sequence[Dict[str, float]]) -> Dict[str, Dict[str, float]]:
    """Statistics of each piece over several steps.

    Args:
        pieces (Sequence[dict[str, float]]): :func:`step_pieces` of each
            step; a label missing from a step counts 0 s there.

    Returns:
        dict[str, dict]: ``{label: timing.stats(...)}`` over the steps.
    """
    labels = sorted({label for step in pieces for label in step})
    return {
        label: stats([step.get(label, 0.) for step in pieces])
        for label in labels
    }


def top_operators(prof: profile, num: int) -> List[dict]:
    """The operators with the largest self CPU time in a profile.

    Args:
        prof (torch.profiler.profile): a finished profile.
        num (int): how many to return.

    Returns:
        list[dict]: ``name``, ``calls`` (int), ``self_ms`` (float) and
        ``share`` (of the self CPU time of all operators) per operator,
        largest first; the ranges of this project and ``ProfilerStep``
        are not operators and are left out.
    """
    rows = [
        evt for evt in prof.key_averages()
        if not evt.key.startswith((RANGE_PREFIX, 'ProfilerStep'))
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
