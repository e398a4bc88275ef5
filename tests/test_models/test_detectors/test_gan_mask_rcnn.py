import copy
import gc
import os.path as osp
from unittest import TestCase

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from parameterized import parameterized

from mmdet_gan.models.roi_heads import AdversarialPair, AdversarialSamples

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
    'configs')


def gan_config() -> Config:
    return Config.fromfile(
        osp.join(CONFIG_DIR, 'gan_mask_rcnn',
                 'gan_mask_rcnn_r18_fpn_box-d_demo.py'))


def build_gan(**gan_cfg):
    cfg = gan_config()
    if gan_cfg:
        cfg.model.gan_cfg.update(gan_cfg)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def demo_batch(num_items=(3, 2), size=128):
    return demo_mm_inputs(
        len(num_items), [[3, size, size]] * len(num_items),
        num_items=list(num_items),
        num_classes=4,
        with_mask=True)


def preprocessed(model, num_items=(3, 2)):
    data = model.data_preprocessor(demo_batch(num_items), True)
    return data['inputs'], data['data_samples']


def params_of(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


class TestGANMaskRCNN(TestCase):

    def setUp(self):
        register_all_modules()
        DefaultScope.get_instance('test_gan', scope_name='mmdet')
        MessageHub.get_instance('test_gan').update_info('iter', 0)
        torch.manual_seed(0)

    def test_state_dict_is_stock_mask_rcnn_plus_discriminators(self):
        model, cfg = build_gan()
        stock_cfg = Config.fromfile(
            osp.join(CONFIG_DIR, 'mask_rcnn', 'mask_rcnn_r18_fpn_demo.py'))
        stock = MODELS.build(stock_cfg.model)
        gan_keys = set(model.state_dict())
        generator_keys = {
            k
            for k in gan_keys if not k.startswith('discriminator.')
        }
        self.assertEqual(generator_keys, set(stock.state_dict()))
        self.assertTrue(
            any(k.startswith('discriminator.box.') for k in gan_keys))
        self.assertTrue(
            any(k.startswith('discriminator.mask.') for k in gan_keys))

    def test_loss(self):
        model, _ = build_gan()
        inputs, samples = preprocessed(model)
        losses = model.loss(inputs, samples)
        for key in ('loss_cls', 'loss_bbox', 'loss_mask', 'loss_adv_g_box',
                    'loss_adv_g_mask'):
            self.assertIn(key, losses)
            self.assertTrue(torch.isfinite(losses[key]).all(), key)
        self.assertFalse(any(k.startswith('adv_inputs') for k in losses))
        self.assertGreater(losses['loss_adv_g_box'].item(), 0)

    def test_train_step_updates_both_players(self):
        model, cfg = build_gan()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        gen_before = params_of(model.roi_head.bbox_head)
        disc_before = params_of(model.discriminator)
        log_vars = model.train_step(demo_batch(), optim_wrapper)
        for key in ('loss', 'loss_mask', 'loss_adv_g_box', 'loss_adv_g_mask',
                    'loss_adv_d_box', 'loss_adv_d_mask', 'score_d_box_real',
                    'score_d_box_fake', 'adv_weight'):
            self.assertIn(key, log_vars)
            self.assertTrue(torch.isfinite(log_vars[key]).all(), key)
        # the summed total is the generator's; D's total is not logged as it
        self.assertAlmostEqual(
            log_vars['loss'].item(),
            sum(v.item() for k, v in log_vars.items()
                if k.startswith('loss_') and not k.startswith('loss_adv_d')),
            places=3)
        gen_after = params_of(model.roi_head.bbox_head)
        disc_after = params_of(model.discriminator)
        self.assertTrue(
            any(not torch.equal(gen_before[n], gen_after[n])
                for n in gen_before))
        self.assertTrue(
            any(not torch.equal(disc_before[n], disc_after[n])
                for n in disc_before))
        self.assertEqual(optim_wrapper['generator']._inner_count, 1)
        self.assertEqual(optim_wrapper['discriminator']._inner_count, 1)

    def test_generator_loss_gives_no_gradient_to_discriminators(self):
        model, _ = build_gan()
        inputs, samples = preprocessed(model)
        _, adv_inputs = model.forward_generator(inputs, samples)
        losses = model.generator_adversarial_losses(adv_inputs)
        sum(losses.values()).backward()
        for name, param in model.discriminator.named_parameters():
            self.assertIsNone(param.grad, name)
            self.assertTrue(param.requires_grad, name)  # restored
        self.assertIsNotNone(model.roi_head.mask_head.conv_logits.weight.grad)

    def test_discriminator_loss_gives_no_gradient_to_generator(self):
        model, _ = build_gan()
        inputs, samples = preprocessed(model)
        _, adv_inputs = model.forward_generator(inputs, samples)
        losses = model.discriminator_losses(adv_inputs)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        for name, param in model.named_parameters():
            if name.startswith('discriminator.'):
                continue
            self.assertIsNone(param.grad, name)
        grads = [p.grad for p in model.discriminator.parameters()]
        self.assertTrue(all(g is not None for g in grads))

    def _adversarial_grads(self, branch, detach_pred=False):
        """Back-propagate the generator's adversarial loss of ``branch``
        alone and return the generator's parameter gradients by name
        (None where no gradient arrived).

        With ``detach_pred`` the head's prediction the branch judges
        (``bbox_pred`` for 'box', the mask logits for 'mask') is detached
        before the discriminator's inputs are made from it: what still
        reaches the generator then comes through the pooled features.
        """
        model, _ = build_gan()
        head = model.roi_head
        if detach_pred:
            name = f'add_{branch}_samples'
            add_samples = getattr(head, name)

            def detached(x, sampling_results, pred, *args, **kwargs):
                return add_samples(x, sampling_results, pred.detach(), *args,
                                   **kwargs)

            setattr(head, name, detached)
        inputs, samples = preprocessed(model)
        _, adv_samples = model.forward_generator(inputs, samples)
        self.assertGreater(adv_samples[branch][0].fake.size(0), 0)
        losses = model.generator_adversarial_losses(adv_samples.only(branch))
        loss = losses[f'loss_adv_g_{branch}']
        self.assertGreater(loss.abs().item(), 0)
        if loss.requires_grad:
            loss.backward()
        return {
            name: param.grad
            for name, param in model.named_parameters()
            if not name.startswith('discriminator.')
        }

    @staticmethod
    def _reached(grads, prefix=''):
        """Names under ``prefix`` with a non-zero gradient."""
        return [
            name for name, grad in grads.items()
            if name.startswith(prefix) and grad is not None and bool(
                grad.abs().sum() > 0)
        ]

    def test_box_adversarial_gradient_only_through_coordinates(self):
        grads = self._adversarial_grads('box')
        # the regressor gets gradient through the box coordinates ...
        self.assertTrue(self._reached(grads, 'roi_head.bbox_head.fc_reg.'))
        # ... the classifier does not (scores do not move boxes), nor does
        # the mask head
        self.assertEqual(
            self._reached(grads, 'roi_head.bbox_head.fc_cls.'), [])
        self.assertEqual(self._reached(grads, 'roi_head.mask_head.'), [])
        # and with the coordinates cut, nothing of the generator is
        # reached: the pooled FPN features are detached
        detached = self._adversarial_grads('box', detach_pred=True)
        self.assertEqual(self._reached(detached), [])

    def test_mask_adversarial_gradient_reaches_mask_head(self):
        grads = self._adversarial_grads('mask')
        self.assertTrue(
            self._reached(grads, 'roi_head.mask_head.conv_logits.'))
        # The soft mask is the mask head's output, whose input is pooled
        # from the (attached) FPN: the backbone and FPN are reached
        # through the mask head. The RPN and the box head are not on the
        # path (the mask RoIs are the sampled proposals).
        self.assertTrue(self._reached(grads, 'neck.'))
        self.assertEqual(self._reached(grads, 'rpn_head.'), [])
        self.assertEqual(self._reached(grads, 'roi_head.bbox_head.'), [])
        # with the mask logits cut, nothing of the generator is reached:
        # the RoI features multiplied with the masks are detached
        detached = self._adversarial_grads('mask', detach_pred=True)
        self.assertEqual(self._reached(detached), [])

    def test_no_ground_truth_gives_zero_adversarial_losses(self):
        model, cfg = build_gan()
        inputs, samples = preprocessed(model, num_items=(0, 0))
        losses = model.loss(inputs, samples)
        for key in ('loss_adv_g_box', 'loss_adv_g_mask'):
            self.assertEqual(losses[key].item(), 0., key)
            self.assertTrue(losses[key].requires_grad, key)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        log_vars = model.train_step(demo_batch((0, 0)), optim_wrapper)
        for key, value in log_vars.items():
            self.assertTrue(torch.isfinite(value).all(), key)
        for name, param in model.named_parameters():
            self.assertTrue(torch.isfinite(param).all(), name)

    @parameterized.expand([('generator_first', 1), ('discriminator_first', 3)])
    def test_order_and_disc_steps(self, order, disc_steps):
        model, cfg = build_gan(order=order, disc_steps=disc_steps)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        calls = []
        gen_step = optim_wrapper['generator'].step
        disc_step = optim_wrapper['discriminator'].step
        optim_wrapper['generator'].step = lambda *a, **k: (calls.append('G'),
                                                           gen_step(*a, **k))
        optim_wrapper['discriminator'].step = lambda *a, **k: (calls.append(
            'D'), disc_step(*a, **k))
        model.train_step(demo_batch(), optim_wrapper)
        expected = ['G'] + ['D'] * disc_steps
        if order == 'discriminator_first':
            expected = ['D'] * disc_steps + ['G']
        self.assertEqual(calls, expected)

    def test_generator_first_shares_one_discriminator_forward(self):
        """The generator step and the discriminator step of
        ``generator_first`` use one discriminator forward pass and give the
        same weights as a generator step with frozen discriminators
        followed by a discriminator step on detached samples."""
        for batches in ('separate', 'joint'):
            with self.subTest(real_fake_batch=batches):
                self._check_one_discriminator_forward(batches)

    def _check_one_discriminator_forward(self, real_fake_batch):
        model, cfg = build_gan(real_fake_batch=real_fake_batch)
        cfg.optim_wrapper.generator.optimizer = dict(
            type='SGD', lr=0.01, momentum=0.9)
        cfg.optim_wrapper.discriminator.optimizer = dict(
            type='SGD', momentum=0.9, weight_decay=1e-4)
        reference = copy.deepcopy(model)
        before = params_of(model)
        batch = demo_batch()
        forwards = []
        # 'separate': one forward per side; 'joint': one forward_joint
        method = 'forward' if real_fake_batch == 'separate' else \
            'forward_joint'
        for branch, disc in model.discriminator.items():
            forward = getattr(disc, method)
            setattr(
                disc,
                method,
                lambda *x, f=forward, b=branch: (forwards.append(b), f(*x))[1])

        torch.manual_seed(1)
        model.train_step(
            copy.deepcopy(batch), build_optim_wrapper(model,
                                                      cfg.optim_wrapper))
        calls = 2 if real_fake_batch == 'separate' else 1
        self.assertEqual(sorted(forwards), ['box'] * calls + ['mask'] * calls)

        torch.manual_seed(1)
        wrappers = build_optim_wrapper(reference, cfg.optim_wrapper)
        data = reference.data_preprocessor(copy.deepcopy(batch), True)
        losses, adv_inputs = reference.forward_generator(
            data['inputs'], data['data_samples'])
        losses.update(reference.generator_adversarial_losses(adv_inputs))
        wrappers['generator'].update_params(reference.parse_losses(losses)[0])
        wrappers['discriminator'].update_params(
            reference.parse_losses(
                reference.discriminator_losses(adv_inputs))[0])

        expected = params_of(reference)
        for name, value in params_of(model).items():
            torch.testing.assert_close(
                value, expected[name], rtol=1e-4, atol=1e-6, msg=name)
        # both players moved (the comparison above is not between copies)
        for prefix in ('discriminator.box.', 'discriminator.mask.',
                       'roi_head.mask_head.', 'roi_head.bbox_head.'):
            self.assertTrue(
                any(not torch.equal(value, before[name])
                    for name, value in expected.items()
                    if name.startswith(prefix)), prefix)

    def test_adversarial_warmup(self):
        model, cfg = build_gan(
            adv_start_iter=10, adv_warmup_iters=4, disc_start_iter=5)
        self.assertEqual(
            [model.adv_weight(i) for i in (0, 9, 10, 11, 13, 100)],
            [0., 0., 0.25, 0.5, 1., 1.])
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        MessageHub.get_current_instance().update_info('iter', 3)
        log_vars = model.train_step(demo_batch(), optim_wrapper)
        self.assertEqual(log_vars['loss_adv_g_box'].item(), 0.)
        self.assertEqual(log_vars['adv_weight'].item(), 0.)
        self.assertNotIn('loss_adv_d_box', log_vars)  # before D starts
        self.assertEqual(optim_wrapper['discriminator']._inner_count, 0)

    def test_train_step_needs_both_optim_wrappers(self):
        model, cfg = build_gan()
        single = build_optim_wrapper(model,
                                     dict(optimizer=dict(type='SGD', lr=0.01)))
        with pytest.raises(TypeError, match='GANOptimWrapperConstructor'):
            model.train_step(demo_batch(), single)

    def test_predict_is_stock_mask_rcnn(self):
        model, _ = build_gan()
        stock_cfg = Config.fromfile(
            osp.join(CONFIG_DIR, 'mask_rcnn', 'mask_rcnn_r18_fpn_demo.py'))
        stock = MODELS.build(stock_cfg.model)
        state = {
            k: v
            for k, v in model.state_dict().items()
            if not k.startswith('discriminator.')
        }
        stock.load_state_dict(state, strict=True)
        model.eval()
        stock.eval()
        data = demo_batch((2, 1))
        with torch.no_grad():
            ours = model.test_step(copy.deepcopy(data))
            theirs = stock.test_step(copy.deepcopy(data))
        for a, b in zip(ours, theirs):
            for key in ('bboxes', 'scores', 'labels', 'masks'):
                self.assertTrue(
                    torch.equal(a.pred_instances[key], b.pred_instances[key]),
                    key)

    def test_build_errors_name_the_fix(self):
        cfg = gan_config()
        no_disc = copy.deepcopy(cfg.model)
        no_disc.discriminator = dict()
        with pytest.raises(ValueError, match='at least one discriminator'):
            MODELS.build(no_disc)
        box_only = copy.deepcopy(cfg.model)
        box_only.discriminator = dict(box=cfg.model.discriminator.box)
        with pytest.raises(ValueError, match='adv_mask_roi_extractor'):
            MODELS.build(box_only)
        box_only.roi_head.adv_mask_roi_extractor = None
        model = MODELS.build(box_only)  # a box-only game is valid
        self.assertEqual(list(model.discriminator), ['box'])
        no_loss = copy.deepcopy(cfg.model)
        no_loss.loss_adv.pop('mask')
        with pytest.raises(ValueError, match='loss_adv.mask'):
            MODELS.build(no_loss)
        stock_head = copy.deepcopy(cfg.model)
        stock_head.roi_head.type = 'StandardRoIHead'
        for key in ('adv_box_roi_extractor', 'adv_mask_roi_extractor',
                    'num_adv_samples'):
            stock_head.roi_head.pop(key)
        with pytest.raises(ValueError, match='adversarial RoI head'):
            MODELS.build(stock_head)
        bad_order = copy.deepcopy(cfg.model)
        bad_order.gan_cfg.order = 'random'
        with pytest.raises(ValueError, match='gan_cfg.order'):
            MODELS.build(bad_order)
        unknown = copy.deepcopy(cfg.model)
        unknown.gan_cfg.d_steps = 2
        with pytest.raises(ValueError, match='unknown gan_cfg keys'):
            MODELS.build(unknown)


class TestNonFiniteLosses(TestCase):

    def setUp(self):
        register_all_modules()
        MessageHub.get_instance('test_gan_nan').update_info('iter', 7)
        torch.manual_seed(0)

    def _poison(self, model, branch, disc_side):
        loss = model.loss_adv[branch]
        forward = loss.forward

        def poisoned(real, fake, is_disc):
            value = forward(real, fake, is_disc=is_disc)
            return value * float('nan') if is_disc == disc_side else value

        loss.forward = poisoned
        both = getattr(loss, 'game_losses', None)
        if both is not None:  # both players' losses from one evaluation

            def poisoned_both(real, fake):
                gen_loss, disc_loss = both(real, fake)
                nan = float('nan')
                return (gen_loss if disc_side else gen_loss * nan,
                        disc_loss * nan if disc_side else disc_loss)

            loss.game_losses = poisoned_both

    def test_nan_discriminator_loss_skips_only_the_discriminator_step(self):
        model, cfg = build_gan()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        self._poison(model, 'box', disc_side=True)
        gen_before = params_of(model.roi_head)
        disc_before = params_of(model.discriminator)
        log_vars = model.train_step(demo_batch(), optim_wrapper)
        self.assertTrue(torch.isnan(log_vars['loss_adv_d_box']))
        for name, value in params_of(model.discriminator).items():
            self.assertTrue(torch.equal(value, disc_before[name]), name)
        self.assertTrue(
            any(not torch.equal(v, gen_before[n])
                for n, v in params_of(model.roi_head).items()))
        for param in model.discriminator.parameters():
            self.assertIsNone(param.grad)

    def test_nan_generator_loss_skips_the_generator_step(self):
        model, cfg = build_gan()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        self._poison(model, 'mask', disc_side=False)
        gen_before = params_of(model)
        model.train_step(demo_batch(), optim_wrapper)
        for name, value in params_of(model).items():
            if not name.startswith('discriminator.'):
                self.assertTrue(torch.equal(value, gen_before[name]), name)
            self.assertTrue(torch.isfinite(value).all(), name)

    def test_stop_policy_raises_with_iteration(self):
        model, cfg = build_gan(nonfinite_loss='stop')
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        self._poison(model, 'mask', disc_side=False)
        with pytest.raises(
                FloatingPointError,
                match='generator loss is nan at iteration 8'):
            model.train_step(demo_batch(), optim_wrapper)
        with pytest.raises(ValueError, match='nonfinite_loss'):
            build_gan(nonfinite_loss='ignore')


def test_discriminator_size_must_match_its_extractor():
    cfg = gan_config()
    cfg.model.discriminator.box.roi_size = 56
    with pytest.raises(ValueError, match='roi_size=56'):
        MODELS.build(cfg.model)
    cfg = gan_config()
    cfg.model.discriminator.mask.in_channels = 64
    with pytest.raises(ValueError, match="in_channels=64"):
        MODELS.build(cfg.model)


def test_joint_real_fake_batch_shares_batch_statistics():
    """'joint' scores real and fake in one BatchNorm batch. Fakes that are
    the real samples times 2: the first conv (zero bias at init) and
    LeakyReLU are positively homogeneous, so the second layer's BatchNorm,
    fed two separate batches, normalises the factor away and D scores both
    alike; in one joint batch the difference reaches the logits."""
    torch.manual_seed(0)
    joint, _ = build_gan(real_fake_batch='joint')
    separate, _ = build_gan(real_fake_batch='separate')
    separate.load_state_dict(joint.state_dict())
    joint.train()
    separate.train()
    real = torch.randn(6, 128, 28, 28)
    fake = 2 * real
    adv_samples = AdversarialSamples([(28, 28)])
    adv_samples.add('box', AdversarialPair(real, fake))
    first_conv_batches = []
    joint.discriminator.box.convs[0].register_forward_pre_hook(
        lambda _, args: first_conv_batches.append(args[0].size(0)))
    with torch.no_grad():
        j_real, j_fake, _ = joint.discriminate(adv_samples)['box'][0]
        # the plain first conv sees each side alone: no joined input copy
        assert first_conv_batches == [6, 6]
        s_real, s_fake, _ = separate.discriminate(adv_samples)['box'][0]
        disc = joint.discriminator.box
        both = disc(torch.cat([real, fake]))
    torch.testing.assert_close(j_real, both[:6])
    torch.testing.assert_close(j_fake, both[6:])
    torch.testing.assert_close(s_real, s_fake, atol=1e-4, rtol=1e-4)
    assert (j_real - j_fake).abs().max() > 1e-2
    # the mask discriminator's per-layer features are split per layer
    adv_samples.add('mask', AdversarialPair(real, fake))
    with torch.no_grad():
        j_real, j_fake, _ = joint.discriminate(adv_samples)['mask'][0]
        both = joint.discriminator.mask(torch.cat([real, fake]))
    assert len(j_real) == len(j_fake) == len(both)
    for layer_real, layer_fake, layer_both in zip(j_real, j_fake, both):
        torch.testing.assert_close(layer_real, layer_both[:6])
        torch.testing.assert_close(layer_fake, layer_both[6:])
    with pytest.raises(ValueError, match='real_fake_batch'):
        build_gan(real_fake_batch='mixed')


@pytest.mark.parametrize('order, evaluations', [('generator_first', 1),
                                                ('discriminator_first', 2)])
def test_mask_l1_is_evaluated_once_when_both_players_share_it(
        monkeypatch, order, evaluations):
    """With the shared discriminator forward (generator_first) both
    players' mask losses come from one evaluation of the multi-scale L1
    distance (``game_losses``); discriminator_first evaluates it for each
    player's step."""
    from mmdet_gan.models.losses import adversarial_losses
    register_all_modules()
    model, cfg = build_gan(order=order)
    model.train()
    calls = []
    distance = adversarial_losses.MultiScaleL1Loss.distance
    monkeypatch.setattr(
        adversarial_losses.MultiScaleL1Loss, 'distance',
        lambda self, *args: calls.append(1) or distance(self, *args))
    model.train_step(demo_batch(), build_optim_wrapper(model,
                                                       cfg.optim_wrapper))
    assert len(calls) == evaluations


def test_gt_proposals_can_be_left_out_of_the_adversarial_samples():
    from types import SimpleNamespace
    model, _ = build_gan()
    head = model.roi_head
    results = [
        SimpleNamespace(
            pos_priors=torch.zeros(3, 4),
            pos_is_gt=torch.tensor([1, 0, 0], dtype=torch.uint8)),
        SimpleNamespace(
            pos_priors=torch.zeros(2, 4),
            pos_is_gt=torch.tensor([1, 0], dtype=torch.uint8))
    ]
    head.num_adv_samples = None
    assert head._adv_sample_inds(results, 'cpu').tolist() == [0, 1, 2, 3, 4]
    head.adv_exclude_gt_proposals = True
    assert head._adv_sample_inds(results, 'cpu').tolist() == [1, 2, 4]
    head.num_adv_samples = 2
    kept = head._adv_sample_inds(results, 'cpu').tolist()
    assert len(kept) == 2 and set(kept) <= {1, 2, 4}


def test_spectral_norm_discriminators():
    cfg = gan_config()
    for branch in ('box', 'mask'):
        cfg.model.discriminator[branch].update(
            with_spectral_norm=True, norm_cfg=None)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for disc in model.discriminator.values():
        assert all(
            hasattr(m.conv, 'weight_orig') and not m.with_norm
            for m in disc.convs)
    losses = model.loss(*preprocessed(model))
    assert torch.isfinite(losses['loss_adv_g_box'])
    assert torch.isfinite(losses['loss_adv_g_mask'])


def test_box_level_option_reaches_the_pooling():
    from unittest import mock

    from mmdet_gan.models.roi_heads import adversarial_roi_head_mixin as mixin
    cfg = gan_config()
    cfg.model.roi_head.adv_box_level = 'gt'
    model = MODELS.build(cfg.model)
    with mock.patch.object(
            mixin, 'pool_real_fake', wraps=mixin.pool_real_fake) as spy:
        model.loss(*preprocessed(model))
    assert spy.call_args.kwargs['fake_at_real_level'] is True
    cfg.model.roi_head.adv_box_level = 'nearest'
    with pytest.raises(ValueError, match='adv_box_level'):
        MODELS.build(cfg.model)
    cfg.model.roi_head.adv_box_level = 'gt'
    cfg.model.roi_head.adv_box_roi_extractor.type = \
        'MultiLevelMaxRoIExtractor'
    with pytest.raises(ValueError, match='single-level'):
        MODELS.build(cfg.model)


def _live_tensors():
    gc.collect()
    return sum(1 for obj in gc.get_objects() if torch.is_tensor(obj))


@pytest.mark.parametrize('poison', [False, True])
def test_train_steps_leave_nothing_behind(poison):
    """A training step keeps nothing alive once it returns (the optimizer
    states exist after the first one): the same number of live tensors
    after the second and the third step, also when a non-finite generator
    loss skips the generator's backward pass."""
    register_all_modules()
    model, cfg = build_gan()
    model.train()
    if poison:
        TestNonFiniteLosses()._poison(model, 'mask', disc_side=False)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = demo_batch()
    counts = []
    for _ in range(3):
        model.train_step(copy.deepcopy(batch), optim_wrapper)
        counts.append(_live_tensors())
    assert counts[1] == counts[2], counts


@pytest.mark.parametrize('disc_steps', [1, 2])
def test_generator_backward_runs_without_the_real_box_samples(disc_steps):
    """The shared step frees what only the discriminator's gradient needed
    before the generator's backward pass (the step's memory peak): the
    real box samples are dead by then (no garbage collection run), unless
    a further discriminator step still needs them. With separate real and
    fake batches only: in one joint batch the first conv's input of the
    real side stays referenced from the joint graph the generator's loss
    needs (measured: 1.7 MiB more at the demo size)."""
    import weakref
    from unittest import mock

    from mmdet_gan.models.game.adversarial_game import AdversarialGame
    from mmdet_gan.models.roi_heads import adversarial_roi_head_mixin as mixin
    from mmdet_gan.utils.players import GENERATOR
    register_all_modules()
    MessageHub.get_instance('test_gan').update_info('iter', 0)
    model, cfg = build_gan(disc_steps=disc_steps, real_fake_batch='separate')
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    real_refs, alive_at_g_backward = [], []
    original_pool = mixin.pool_real_fake

    def pool_real_fake(*args, **kwargs):
        real, fake = original_pool(*args, **kwargs)
        real_refs.append(weakref.ref(real))
        return real, fake

    original_backward = AdversarialGame._backward

    def backward(self, optim_wrapper, loss, player, *args, **kwargs):
        if player == GENERATOR:
            alive_at_g_backward.append(
                [ref() is not None for ref in real_refs])
        return original_backward(self, optim_wrapper, loss, player, *args,
                                 **kwargs)

    with mock.patch.object(mixin, 'pool_real_fake', pool_real_fake), \
            mock.patch.object(AdversarialGame, '_backward', backward):
        model.train_step(demo_batch(), optim_wrapper)
    assert real_refs and len(alive_at_g_backward) == 1
    assert alive_at_g_backward[0] == [disc_steps > 1] * len(real_refs)
