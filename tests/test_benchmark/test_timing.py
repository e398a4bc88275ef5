# Copyright (c) mmdet-gan contributors. All rights reserved.
import torch

from mmdet_gan.benchmark import timing


def test_stats():
    s = timing.stats([4., 1., 3., 2.])
    assert s['median'] == 2.5
    assert s['q1'] == 1.75 and s['q3'] == 3.25
    assert s['iqr'] == 1.5
    assert s['min'] == 1. and s['n'] == 4


def test_run_interleaved_order_copies_and_warmup():
    calls, syncs = [], []
    batches = [dict(i=0), dict(i=1)]

    def step(role):

        def run(data):
            calls.append((role, data['i'], len(data)))
            data['seen'] = True  # must not leak into the next call

        return run

    run = timing.run_interleaved(
        dict(gan=step('gan'), baseline=step('baseline')),
        batches,
        warmup=1,
        iters=2,
        sync=lambda: syncs.append(1))
    # Round i: every role in turn on batch i % 2, a fresh copy each.
    assert calls == [('gan', 0, 1), ('baseline', 0, 1), ('gan', 1, 1),
                     ('baseline', 1, 1), ('gan', 0, 1), ('baseline', 0, 1)]
    assert batches == [dict(i=0), dict(i=1)]
    assert len(syncs) == 2 * len(calls)  # before and after each call
    for key in ('times', 'cpu_times'):
        assert set(run[key]) == {'gan', 'baseline'}
        assert all(len(v) == 2 for v in run[key].values())  # no warm-up
        assert all(t >= 0 for v in run[key].values() for t in v)


def test_run_interleaved_prepares_each_step_untimed(monkeypatch):
    """``prepare(role, batch index)`` runs before each call (warm-up
    included), outside the timed span: on a fake wall clock that only
    ``prepare`` advances, every timed span is 0 s."""
    events, clock = [], [0.]
    monkeypatch.setattr(timing.time, 'perf_counter', lambda: clock[0])

    def prepare(role, index):
        events.append(('prepare', role, index))
        clock[0] += 10.

    def step(role):
        return lambda data: events.append(('step', role, data['i']))

    run = timing.run_interleaved(
        dict(gan=step('gan'), baseline=step('baseline')),
        [dict(i=0), dict(i=1)],
        warmup=1,
        iters=2,
        sync=lambda: None,
        prepare=prepare)
    expected = []
    for index in (0, 1, 0):
        for role in ('gan', 'baseline'):
            expected += [('prepare', role, index), ('step', role, index)]
    assert events == expected
    assert all(t == 0. for v in run['times'].values() for t in v)


def test_device_sync_is_a_no_op_on_cpu():
    assert timing.device_sync(torch.device('cpu'))() is None
