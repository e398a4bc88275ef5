# Copyright (c) mmdet-gan contributors. All rights reserved.
import copy
import os.path as osp

import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch.profiler import ProfilerActivity, profile

from mmdet_gan.benchmark import pieces, steps
from mmdet_gan.utils import profiling as P

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')


def build(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def tiny_batch():
    torch.manual_seed(1)
    return demo_mm_inputs(
        1, [[3, 128, 128]], num_items=[2], num_classes=4, with_mask=True)


def test_ranged_train_step_is_the_stock_step_with_ranges():
    """Same log variables and same weights after one step as MMEngine's
    ``BaseModel.train_step``; the forward and the update in ranges inside
    the whole step's."""
    model, cfg = build('mask_rcnn/mask_rcnn_r18_fpn_demo.py')
    assert steps.has_stock_train_step(model)
    twin = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    twin_wrapper = build_optim_wrapper(twin, cfg.optim_wrapper)
    batch = tiny_batch()
    torch.manual_seed(2)
    expected = model.train_step(copy.deepcopy(batch), wrapper)
    torch.manual_seed(2)
    step = steps.train_step_fn(twin, twin_wrapper, ranged=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        got = step(copy.deepcopy(batch))
    assert got.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], msg=key)
    for (name, a), (_, b) in zip(model.named_parameters(),
                                 twin.named_parameters()):
        torch.testing.assert_close(a, b, msg=name)
    spans = pieces.profile_spans(prof)
    assert sorted(s.name for s in spans) == sorted(
        [P.TRAIN_STEP, P.FORWARD, P.G_UPDATE])
    for span in spans:
        if span.name != P.TRAIN_STEP:
            assert [s.name for s in pieces.ancestors(span, spans)] == \
                [P.TRAIN_STEP]
    assert set(
        pieces.step_pieces(spans)) == {'train_step', 'forward', 'g_update'}


def test_a_model_with_its_own_train_step_runs_it():
    model, cfg = build('gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py')
    assert not steps.has_stock_train_step(model)
    calls = []

    class Recorder:

        def train_step(self, data, optim_wrapper):
            calls.append((data, optim_wrapper))
            return dict(loss=torch.tensor(1.))

    recorder = Recorder()
    steps.train_step_fn(recorder, 'wrapper', ranged=True)('batch')
    steps.train_step_fn(recorder, 'wrapper')('batch2')
    assert calls == [('batch', 'wrapper'), ('batch2', 'wrapper')]


def test_infer_step_takes_no_gradient():
    seen = []

    class Model:

        def test_step(self, data):
            seen.append(torch.is_grad_enabled())
            return data

    assert steps.infer_step_fn(Model())('x') == 'x'
    assert seen == [False]


def test_counting_adversarial_samples():
    """The GAN step's samples per branch, as many as its discriminators
    judged (the demo config caps them at num_adv_samples); nothing for a
    stock detector; the model is left as it was."""
    model, cfg = build('gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py')
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    judged = {}
    discriminate = model.game.discriminate

    def recording(discriminators, samples, detach=False):
        for branch in samples.branches():
            judged[branch] = judged.get(branch, 0) + sum(
                pair.samples()[1].size(0) for pair in samples[branch])
        return discriminate(discriminators, samples, detach)

    model.game.discriminate = recording
    with steps.counting_adversarial_samples(model) as counts:
        model.train_step(tiny_batch(), wrapper)
    del model.game.discriminate
    assert set(counts) == {'box', 'mask'}
    assert counts == judged and 0 < counts['box'] <= 16
    assert 'forward_generator' not in vars(model)
    base, _ = build('mask_rcnn/mask_rcnn_r18_fpn_demo.py')
    with steps.counting_adversarial_samples(base) as counts:
        pass
    assert counts == {} and 'forward_generator' not in vars(base)
