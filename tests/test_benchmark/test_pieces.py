# Copyright (c) mmdet-gan contributors. All rights reserved.
import contextlib
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

from mmdet_gan.benchmark import pieces
from mmdet_gan.utils import profiling as P

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')


class FakeProfile:
    """Records nested ranges as ``FunctionEvent``-like objects, timed by a
    fake clock that only ``work`` advances."""

    def __init__(self):
        self.now = 0.
        self.events = []

    @contextlib.contextmanager
    def range(self, name, thread=0, device_us=0.):
        start = self.now
        yield
        self.events.append(
            SimpleNamespace(
                name=name,
                time_range=SimpleNamespace(start=start, end=self.now),
                thread=thread,
                device_type=DeviceType.CPU,
                device_time_total=device_us))

    def work(self, us):
        self.now += us


def fake_step(prof: FakeProfile) -> None:
    """A step with known times (us): nested, repeated and recursive
    ranges, one of another project and one on another thread."""
    with prof.range(P.TRAIN_STEP):
        prof.work(1)
        with prof.range(P.FORWARD, device_us=100.):
            prof.work(10)
            with prof.range(P.ADV_BOX_INPUTS):
                prof.work(2)
                with prof.range(P.POOL_BOX):
                    prof.work(3)
            with prof.range(P.FORWARD, device_us=40.):  # a recursive call
                prof.work(4)
            with prof.range('other::forward'):
                prof.work(8)
        with prof.range(P.D_FORWARD):  # two discriminator forwards
            prof.work(5)
        with prof.range(P.D_FORWARD):
            prof.work(6)
        with prof.range(P.G_BACKWARD):
            prof.work(20)
            with prof.range(P.G_BACKWARD, thread=1):  # another thread
                prof.work(9)
        with prof.range(P.G_STEP):
            prof.work(7)
        with prof.range(P.D_BACKWARD):
            prof.work(2)


def test_step_pieces_of_a_fake_profile():
    prof = FakeProfile()
    fake_step(prof)
    spans = pieces.spans_from_function_events(prof.events)
    assert len(spans) == len(prof.events) - 1  # not other::forward
    got = pieces.step_pieces(spans)
    us = {label: value * 1e6 for label, value in got.items()}
    expected = dict(
        train_step=77.,
        forward=27.,  # 10 + 2 + 3 + 4 (once) + 8 (other project's range)
        adv_box_inputs=5.,
        pool_box=3.,
        d_forward=11.,  # both calls
        g_backward=38.,  # 29 on the main thread + 9 on the other one
        g_step=7.,
        g_update=45.,  # g_backward + g_step
        d_backward=2.,
        d_update=2.)  # no d_step: the backward alone
    assert us.keys() == expected.keys()
    for label, value in expected.items():
        assert us[label] == pytest.approx(value), label
    # The device clock: the outermost occurrence's kernel time.
    assert pieces.range_times(spans, 'device')[P.FORWARD] == \
        pytest.approx(100e-6)
    with pytest.raises(ValueError, match='clock must be one of'):
        pieces.range_times(spans, 'gpu')


def test_ancestors_of_a_fake_profile():
    prof = FakeProfile()
    fake_step(prof)
    spans = pieces.spans_from_function_events(prof.events)
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    pool_box, = by_name[P.POOL_BOX]
    assert [s.name for s in pieces.ancestors(pool_box, spans)] == \
        [P.TRAIN_STEP, P.FORWARD, P.ADV_BOX_INPUTS]
    inner_forward = min(by_name[P.FORWARD], key=lambda s: s.cpu_us)
    assert [s.name for s in pieces.ancestors(inner_forward, spans)] == \
        [P.TRAIN_STEP, P.FORWARD]
    # A range on another thread is not inside the main thread's ranges.
    other_thread = [s for s in by_name[P.G_BACKWARD] if s.thread == 1]
    assert pieces.ancestors(other_thread[0], spans) == []


def nested_ranges():
    """Real ranges: an outer one holding a repeated and a recursive one."""
    x = torch.ones(64, 64)
    with record_function(P.TRAIN_STEP):
        for _ in range(2):
            with record_function(P.D_FORWARD):
                x = x @ x / 64
        with record_function(P.FORWARD):
            x = x + 1
            with record_function(P.FORWARD):
                x = x * 2
    return x


def test_profile_spans_both_readers_agree():
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        nested_ranges()
    fast = pieces.profile_spans(prof, 'cpu')
    slow = pieces.spans_from_function_events(prof.events())
    assert [s.name for s in fast] == [s.name for s in slow]
    assert sorted(s.name for s in fast) == sorted(
        [P.TRAIN_STEP, P.D_FORWARD, P.D_FORWARD, P.FORWARD, P.FORWARD])
    for a, b in zip(fast, slow):
        assert a.cpu_us == pytest.approx(b.cpu_us, abs=1.)
    times = pieces.range_times(fast)
    forward = sorted((s for s in fast if s.name == P.FORWARD),
                     key=lambda s: s.cpu_us)
    assert times[P.FORWARD] == pytest.approx(forward[-1].cpu_us * 1e-6)
    assert times[P.D_FORWARD] == pytest.approx(
        sum(s.cpu_us for s in fast if s.name == P.D_FORWARD) * 1e-6)
    whole, = [s for s in fast if s.name == P.TRAIN_STEP]
    assert times[P.TRAIN_STEP] >= times[P.FORWARD] + times[P.D_FORWARD]
    assert times[P.TRAIN_STEP] == pytest.approx(whole.cpu_us * 1e-6)


def test_profile_step_and_summary():
    got = pieces.profile_step(nested_ranges, torch.device('cpu'))
    assert set(got) == {'train_step', 'd_forward', 'forward'}
    assert all(value > 0 for value in got.values())
    summary = pieces.summarize_pieces([dict(a=1., b=4.), dict(a=3.)])
    assert summary['a']['median'] == 2. and summary['a']['n'] == 2
    assert summary['b']['median'] == 2.  # 0 in the step without it
    assert summary['b']['min'] == 0.


def test_top_operators_leave_out_the_ranges():
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        nested_ranges()
    ops = pieces.top_operators(prof, 50)
    names = [op['name'] for op in ops]
    assert 'aten::mm' in names
    assert not any(name.startswith(P.RANGE_PREFIX) for name in names)
    assert sum(op['share'] for op in ops) == pytest.approx(1.)
    assert [op['self_ms'] for op in ops] == sorted(
        (op['self_ms'] for op in ops), reverse=True)
    assert len(pieces.top_operators(prof, 1)) == 1


def build_gan(**gan_cfg):
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'gan_mask_rcnn',
                 'gan_mask_rcnn_r18_fpn_box-d_demo.py'))
    cfg.model.gan_cfg.update(gan_cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def tiny_batch():
    return demo_mm_inputs(
        1, [[3, 128, 128]], num_items=[2], num_classes=4, with_mask=True)


@pytest.mark.parametrize('order', ['generator_first', 'discriminator_first'])
def test_gan_train_step_emits_every_range(order):
    MessageHub.get_instance('test_pieces').update_info('iter', 0)
    torch.manual_seed(0)
    model, optim_wrapper = build_gan(order=order)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.train_step(tiny_batch(), optim_wrapper)
    spans = pieces.profile_spans(prof)
    names = [s.name for s in spans]
    # Every range but the one the benchmark puts around a stock step.
    assert set(names) == set(P.RANGE_NAMES) - {P.G_UPDATE}
    assert names.count(P.TRAIN_STEP) == 1
    # One shared discriminator forward, or one per player.
    assert names.count(P.D_FORWARD) == \
        (1 if order == 'generator_first' else 2)

    def parents(name):
        span, = [s for s in spans if s.name == name]
        return [s.name for s in pieces.ancestors(span, spans)]

    step = [P.TRAIN_STEP]
    for name in (P.G_BACKWARD, P.G_STEP, P.D_BACKWARD, P.D_STEP):
        assert parents(name) == step, name
    assert parents(P.FORWARD) == step
    assert parents(P.ADV_BOX_INPUTS) == step + [P.FORWARD]
    assert parents(P.POOL_BOX) == step + [P.FORWARD, P.ADV_BOX_INPUTS]
    assert parents(P.POOL_MASK) == step + [P.FORWARD, P.ADV_MASK_INPUTS]
    # the mask targets are computed once, by the stock mask loss, and
    # recorded for the mask discriminator
    assert names.count(P.MASK_TARGETS) == 1
    assert parents(P.MASK_TARGETS) == step + [P.FORWARD]
    for span in spans:
        if span.name == P.D_FORWARD:
            assert [s.name for s in pieces.ancestors(span, spans)] == step
    got = pieces.step_pieces(spans)
    assert got['g_update'] == pytest.approx(got['g_backward'] + got['g_step'])
    assert got['forward'] > got['adv_box_inputs'] > got['pool_box'] > 0
    assert got['train_step'] > got['forward'] + got['g_update']
