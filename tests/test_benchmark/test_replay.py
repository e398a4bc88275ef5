# Copyright (c) mmdet-gan contributors. All rights reserved.
import copy
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.registry import init_default_scope

from mmdet_gan.benchmark import builders, replay, steps
from mmdet_gan.benchmark.report import BASE, GAN

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
SMALL = {
    'model.train_cfg.rpn_proposal.max_per_img': 100,
    'model.train_cfg.rcnn.sampler.num': 64,
}
#: The generator's losses: the same work gives the same values.
GENERATOR_LOSSES = ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'acc',
                    'loss_bbox', 'loss_mask')


def batches():
    torch.manual_seed(1)
    return [
        demo_mm_inputs(
            2, [[3, 128, 128]] * 2,
            num_items=[3, 2],
            num_classes=4,
            with_mask=True) for _ in range(2)
    ]


@pytest.fixture(scope='module')
def trained_apart():
    """Both demo models after two training steps each, from identical
    generator weights: their weights (and so their proposals) differ."""
    init_default_scope('mmdet')
    gan_cfg, base_cfg = builders.load_configs(
        osp.join(CONFIG_DIR,
                 'gan_mask_rcnn/gan_mask_rcnn_r18_fpn_box-d_demo.py'),
        osp.join(CONFIG_DIR, 'mask_rcnn/mask_rcnn_r18_fpn_demo.py'),
        shared_cfg_options=SMALL)
    models, wrappers = {}, {}
    for role, cfg in ((GAN, gan_cfg), (BASE, base_cfg)):
        models[role], wrappers[role] = builders.build_model_and_optim(
            cfg, 0, torch.device('cpu'))
        models[role].train()
    data = batches()
    for batch in data:
        for role in models:
            steps.train_step_fn(models[role], wrappers[role])(
                copy.deepcopy(batch))
    assert not builders.same_generator_weights(models[GAN], models[BASE])
    return models, wrappers, data


def logged(models, wrappers, role, batch):
    log_vars = steps.train_step_fn(models[role], wrappers[role])(
        copy.deepcopy(batch))
    return {key: float(value.detach()) for key, value in log_vars.items()}


def weights(model):
    return {
        name: param.detach().clone()
        for name, param in model.named_parameters()
    }


def test_same_work_replay_gives_both_models_the_same_work(trained_apart):
    """After the replay's ``prepare``, the GAN's generator computes exactly
    the baseline's losses (same weights, same sampled proposals and RoIs),
    and every repeat of a batch repeats its step, the optimizers' states
    included."""
    models, wrappers, data = trained_apart
    prepare = replay.SameWorkReplay(models, wrappers, BASE, seed=5)
    first = {}
    for role in (GAN, BASE):
        prepare(role, 1)
        first[role] = logged(models, wrappers, role, data[1])
    for key in GENERATOR_LOSSES:
        assert first[GAN][key] == first[BASE][key], key
    assert 'loss_adv_g_box' in first[GAN]
    # The steps changed the weights and the optimizers' moments; the next
    # prepare undoes both: the repeat logs the same and updates the same.
    for role in (GAN, BASE):
        updated = weights(models[role])
        prepare(role, 1)
        again = logged(models, wrappers, role, data[1])
        assert again == first[role], role
        for name, value in weights(models[role]).items():
            torch.testing.assert_close(
                value, updated[name], rtol=0, atol=0, msg=name)
    # Two steps in a row from one prepare: the second starts from the
    # first's update (weights and optimizer state restored, not frozen).
    prepare(BASE, 1)
    logged(models, wrappers, BASE, data[1])
    after_update = logged(models, wrappers, BASE, data[1])
    assert after_update['loss'] != first[BASE]['loss']


def test_same_work_replay_rejects_another_generator(trained_apart):
    models, wrappers, _ = trained_apart
    other = {GAN: torch.nn.Linear(2, 2), BASE: models[BASE]}
    with pytest.raises(ValueError, match='the two generators must be'):
        replay.SameWorkReplay(other, {
            GAN: wrappers[BASE],
            BASE: wrappers[BASE]
        }, BASE, 0)
