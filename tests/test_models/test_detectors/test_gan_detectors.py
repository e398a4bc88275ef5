"""The five GAN detectors (GAN Mask R-CNN, Cascade Mask R-CNN, HTC, Mask
Scoring R-CNN, PointRend), each built from its r50 COCO config shrunk for
speed (:func:`shrink`), against the stock MMDetection detector built from
the same shrunk config without the GAN keys (:func:`stock_config`)."""
import copy
import logging
import os.path as osp
import tempfile
from unittest import TestCase, mock

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from parameterized import parameterized
from torch import nn

from mmdet_gan.utils.checkpoint_safety import use_safe_local_loader
from tests.test_tools.tool_loader import load_tool

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
    'configs')

NUM_CLASSES = 4

#: name: (config, stock detector type, stock RoI head type)
DETECTORS = {
    'mask_rcnn': ('gan_mask_rcnn/gan_mask_rcnn_r50_fpn_1x_coco.py', 'MaskRCNN',
                  'StandardRoIHead'),
    'cascade_rcnn':
    ('gan_cascade_rcnn/gan_cascade_mask_rcnn_r50_fpn_1x_coco.py',
     'CascadeRCNN', 'CascadeRoIHead'),
    'htc': ('gan_htc/gan_htc_without_semantic_r50_fpn_1x_coco.py',
            'HybridTaskCascade', 'HybridTaskCascadeRoIHead'),
    'ms_rcnn': ('gan_ms_rcnn/gan_ms_rcnn_r50_fpn_1x_coco.py',
                'MaskScoringRCNN', 'MaskScoringRoIHead'),
    'point_rend': ('gan_point_rend/gan_point_rend_r50_caffe_fpn_ms_1x_coco.py',
                   'PointRend', 'PointRendRoIHead'),
}
NAMES = [(name, ) for name in DETECTORS]
CASCADES = ('cascade_rcnn', 'htc')
NUM_STAGES = 3

#: per detector, the generator parameters (name prefixes) each adversarial
#: branch must reach (``box_reached``, ``mask_reached``) and must not
#: (``box_not_reached``, ``mask_not_reached``); cascades judge the last stage.
_SINGLE = dict(
    box_reached=['roi_head.bbox_head.fc_reg.'],
    box_not_reached=['roi_head.bbox_head.fc_cls.', 'roi_head.mask_head.'],
    mask_reached=['roi_head.mask_head.conv_logits.'],
    mask_not_reached=['rpn_head.', 'roi_head.bbox_head.'])
_CASCADE = dict(
    box_reached=['roi_head.bbox_head.2.fc_reg.'],
    # earlier stages: their refined boxes are the next stage's proposals
    # (refined under no_grad), not judged
    box_not_reached=[f'roi_head.bbox_head.{s}.fc_cls.' for s in range(3)] +
    ['roi_head.bbox_head.0.', 'roi_head.bbox_head.1.', 'roi_head.mask_head.'],
    mask_reached=['roi_head.mask_head.2.conv_logits.'],
    mask_not_reached=['rpn_head.', 'roi_head.bbox_head.'])
GRAD_PATHS = {
    'mask_rcnn':
    _SINGLE,
    'cascade_rcnn':
    dict(
        _CASCADE,
        mask_not_reached=_CASCADE['mask_not_reached'] +
        ['roi_head.mask_head.0.', 'roi_head.mask_head.1.']),
    # the mask information flow: the last stage's mask is predicted from
    # the earlier mask heads' features
    'htc':
    dict(
        _CASCADE,
        mask_reached=_CASCADE['mask_reached'] +
        ['roi_head.mask_head.0.', 'roi_head.mask_head.1.']),
    'ms_rcnn':
    dict(
        _SINGLE,
        box_not_reached=_SINGLE['box_not_reached'] +
        ['roi_head.mask_iou_head.'],
        mask_not_reached=_SINGLE['mask_not_reached'] +
        ['roi_head.mask_iou_head.']),
    # the coarse mask head is judged, not the point head
    'point_rend':
    dict(
        _SINGLE,
        box_not_reached=_SINGLE['box_not_reached'] + ['roi_head.point_head.'],
        mask_reached=['roi_head.mask_head.fc_logits.'],
        mask_not_reached=_SINGLE['mask_not_reached'] +
        ['roi_head.point_head.']),
}

_CHANNEL_KEYS = ('in_channels', 'out_channels', 'feat_channels',
                 'conv_out_channels', 'fc_channels')


def _as_list(cfg):
    return cfg if isinstance(cfg, list) else [cfg]


def _narrow(node):
    """The FPN-side widths of the heads: 256 channels -> 64, 1024-wide
    fully connected layers -> 256 (the head convs dominate the cost)."""
    if isinstance(node, list):
        for value in node:
            _narrow(value)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _CHANNEL_KEYS and value == 256:
                node[key] = 64
            elif key == 'fc_out_channels' and value == 1024:
                node[key] = 256
            else:
                _narrow(value)


def shrink(cfg: Config) -> Config:
    """The r50 config made small and fast: ResNet-18 without pretrained
    weights, a 64-channel FPN and heads, fewer proposals and RoI samples,
    ``NUM_CLASSES`` classes in every head, 8-channel discriminators.
    The structure (stages, heads, extractors, game) is the config's."""
    model = cfg.model
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=64)
    _narrow(model.rpn_head)
    _narrow(model.roi_head)
    # PointRend's caffe preprocessing divides by 1: with frozen BN
    # statistics at init, a random ResNet would blow its features up
    model.data_preprocessor.std = [58.395, 57.12, 57.375]
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rcnn.max_per_img = 10
    for rcnn in _as_list(model.train_cfg.rcnn):
        rcnn.sampler.num = 64
    for key in ('bbox_head', 'mask_head', 'mask_iou_head', 'point_head'):
        for head in _as_list(model.roi_head.get(key, [])):
            head.num_classes = NUM_CLASSES
    for disc in model.discriminator.values():
        disc.base_channels = 8
    return cfg


_CONFIGS = {}


def gan_config(name: str) -> Config:
    """The shrunk GAN config of ``name`` (a copy: read once)."""
    if name not in _CONFIGS:
        _CONFIGS[name] = shrink(
            Config.fromfile(osp.join(CONFIG_DIR, DETECTORS[name][0])))
    return copy.deepcopy(_CONFIGS[name])


def stock_config(name: str) -> Config:
    """The shrunk config of the stock detector: the GAN keys removed and
    the stock model and RoI head types restored."""
    cfg = gan_config(name)
    _, model_type, head_type = DETECTORS[name]
    for key in ('discriminator', 'loss_adv', 'gan_cfg'):
        cfg.model.pop(key)
    cfg.model.type = model_type
    cfg.model.roi_head.type = head_type
    for key in list(cfg.model.roi_head):
        if key.startswith('adv_') or key == 'num_adv_samples':
            cfg.model.roi_head.pop(key)
    return cfg


_BUILT = {}


def build_gan(name: str, roi_head=None, gan_cfg=None):
    """A fresh GAN detector (the same initial weights each time) and its
    config; ``roi_head`` / ``gan_cfg`` update the config's. The plain
    model is built once and copied."""
    if roi_head or gan_cfg or name not in _BUILT:
        cfg = gan_config(name)
        cfg.model.roi_head.update(roi_head or {})
        cfg.model.gan_cfg.update(gan_cfg or {})
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        if roi_head or gan_cfg:
            return model, cfg
        _BUILT[name] = (model, cfg)
    model, cfg = _BUILT[name]
    return copy.deepcopy(model), copy.deepcopy(cfg)


def build_stock(name: str):
    return MODELS.build(stock_config(name).model)


def demo_batch(num_items=(3, 2), size=64):
    return demo_mm_inputs(
        len(num_items), [[3, size, size]] * len(num_items),
        num_items=list(num_items),
        num_classes=NUM_CLASSES,
        with_mask=True)


def preprocessed(model, num_items=(3, 2)):
    data = model.data_preprocessor(demo_batch(num_items), True)
    return data['inputs'], data['data_samples']


def params_of(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def generator_state(model):
    return {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith('discriminator.')
    }


def reached(grads, prefix=''):
    """Names under ``prefix`` with a non-zero gradient."""
    return [
        name for name, grad in grads.items()
        if name.startswith(prefix) and grad is not None and bool(
            grad.abs().sum() > 0)
    ]


def detach_judged_predictions(head):
    """Cut the predictions the discriminators judge (``bbox_pred``, the
    mask logits) from the generator before the samples are made of them."""
    for name in ('add_box_samples', 'add_mask_samples'):
        add_samples = getattr(head, name)

        def detached(x,
                     sampling_results,
                     pred,
                     *args,
                     f=add_samples,
                     **kwargs):
            return f(x, sampling_results, pred.detach(), *args, **kwargs)

        setattr(head, name, detached)


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """One intra-op thread: these models' tensors are small, and on a
    machine whose cores are busy several threads wait for each other
    (measured here: 3-5x the wall time with 2 threads)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TestGANDetectors(TestCase):

    def setUp(self):
        register_all_modules()
        DefaultScope.get_instance('test_gan_detectors', scope_name='mmdet')
        MessageHub.get_instance('test_gan_detectors').update_info('iter', 0)
        torch.manual_seed(0)

    @parameterized.expand([(name, order) for name in DETECTORS
                           for order in ('generator_first',
                                         'discriminator_first')])
    def test_train_step_steps_each_player_on_its_own_parameters(
            self, name, order):
        """Both players move in a train step, each in its own optimizer
        step only (a spy on both steps compares all the parameters)."""
        model, cfg = build_gan(name, gan_cfg=dict(order=order))
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        disc_ids = {id(p) for p in model.discriminator.parameters()}
        gen_ids = {id(p) for p in model.generator_parameters()}
        owned = {
            player: {
                id(p)
                for group in optim_wrapper[player].optimizer.param_groups
                for p in group['params']
            }
            for player in ('generator', 'discriminator')
        }
        self.assertEqual(owned['discriminator'], disc_ids)
        self.assertTrue(owned['generator'] <= gen_ids)
        self.assertFalse(owned['generator'] & disc_ids)

        moved = {}
        for player in ('generator', 'discriminator'):
            wrapper = optim_wrapper[player]

            def spy(*args, step=wrapper.step, player=player, **kwargs):
                before = params_of(model)
                step(*args, **kwargs)
                moved[player] = {
                    n
                    for n, p in params_of(model).items()
                    if not torch.equal(p, before[n])
                }

            wrapper.step = spy
        log_vars = model.train_step(demo_batch(), optim_wrapper)
        for key in ('loss', 'loss_adv_g_box', 'loss_adv_g_mask',
                    'loss_adv_d_box', 'loss_adv_d_mask', 'score_d_box_real',
                    'score_d_box_fake'):
            self.assertIn(key, log_vars)
        for key, value in log_vars.items():
            self.assertTrue(torch.isfinite(value).all(), key)
        self.assertEqual(
            list(moved), ['generator', 'discriminator']
            if order == 'generator_first' else ['discriminator', 'generator'])
        gen_moved, disc_moved = moved['generator'], moved['discriminator']
        # each step moves its player only, and both players move
        self.assertTrue(gen_moved)
        self.assertEqual(
            [n for n in gen_moved if n.startswith('discriminator.')], [])
        self.assertEqual(
            [n for n in disc_moved if not n.startswith('discriminator.')], [])
        for branch in ('box', 'mask'):
            self.assertTrue(
                any(
                    n.startswith(f'discriminator.{branch}.')
                    for n in disc_moved), branch)
        for prefix in GRAD_PATHS[name]['box_reached'] + \
                GRAD_PATHS[name]['mask_reached']:
            self.assertTrue(
                any(n.startswith(prefix) for n in gen_moved), prefix)
        self.assertEqual(optim_wrapper['generator']._inner_count, 1)
        self.assertEqual(optim_wrapper['discriminator']._inner_count, 1)

    @parameterized.expand(NAMES)
    def test_each_players_losses_give_gradient_to_it_only(self, name):
        model, _ = build_gan(name)
        _, samples = model.forward_generator(*preprocessed(model))

        def with_grad(prefix='', inside=True):
            return [
                n for n, p in model.named_parameters()
                if n.startswith(prefix) == inside and p.grad is not None
            ]

        # D's losses (on detached samples): no gradient into the generator
        losses = model.discriminator_losses(samples)
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        self.assertEqual(with_grad('discriminator.', inside=False), [])
        self.assertEqual(
            len(with_grad('discriminator.')),
            len(list(model.discriminator.parameters())))
        model.discriminator.zero_grad(set_to_none=True)
        # G's adversarial losses: no gradient into the discriminators
        losses = model.generator_adversarial_losses(samples)
        self.assertEqual(set(losses), {'loss_adv_g_box', 'loss_adv_g_mask'})
        sum(losses.values()).backward()
        self.assertEqual(with_grad('discriminator.'), [])
        for param_name, param in model.discriminator.named_parameters():
            self.assertTrue(param.requires_grad, param_name)  # restored
        grads = {n: p.grad for n, p in model.named_parameters()}
        for prefix in GRAD_PATHS[name]['mask_reached']:
            self.assertTrue(reached(grads, prefix), prefix)

    def _adversarial_grads(self, name, detach_pred=False):
        """Per branch, the gradients of the generator's adversarial loss of
        that branch alone w.r.t. the generator parameters (None where none
        arrives), from one generator forward. With ``detach_pred`` the
        judged predictions are cut first (:func:`detach_judged_predictions`).
        """
        model, _ = build_gan(name)
        if detach_pred:
            detach_judged_predictions(model.roi_head)
        _, samples = model.forward_generator(*preprocessed(model))
        named = [(n, p) for n, p in model.named_parameters()
                 if not n.startswith('discriminator.') and p.requires_grad]
        grads = {}
        for branch in ('box', 'mask'):
            self.assertEqual(len(samples[branch]), 1, branch)
            self.assertGreater(samples[branch][0].fake.size(0), 0, branch)
            loss = model.generator_adversarial_losses(
                samples.only(branch))[f'loss_adv_g_{branch}']
            self.assertGreater(loss.abs().item(), 0, branch)
            values = [None] * len(named)
            if loss.requires_grad:
                values = torch.autograd.grad(
                    loss, [p for _, p in named],
                    retain_graph=True,
                    allow_unused=True)
            grads[branch] = {n: g for (n, _), g in zip(named, values)}
        return grads

    @parameterized.expand(NAMES)
    def test_adversarial_gradient_paths(self, name):
        """The box gradient reaches the generator only through the judged
        stage's box coordinates; the mask gradient reaches the judged mask
        head's logits; with the judged predictions detached nothing of the
        generator is reached (the pooled features are detached)."""
        paths = GRAD_PATHS[name]
        grads = self._adversarial_grads(name)
        for branch in ('box', 'mask'):
            for prefix in paths[f'{branch}_reached']:
                self.assertTrue(reached(grads[branch], prefix), prefix)
            for prefix in paths[f'{branch}_not_reached']:
                self.assertEqual(reached(grads[branch], prefix), [], prefix)
        detached = self._adversarial_grads(name, detach_pred=True)
        for branch in ('box', 'mask'):
            self.assertEqual(reached(detached[branch]), [], branch)

    @parameterized.expand(NAMES)
    def test_images_without_ground_truth(self, name):
        model, cfg = build_gan(name)
        losses = model.loss(*preprocessed(model, num_items=(0, 0)))
        for key in ('loss_adv_g_box', 'loss_adv_g_mask'):
            # zero, and still attached to the generator's graph (the same
            # graph on every process whatever its batch holds)
            self.assertEqual(losses[key].item(), 0., key)
            self.assertTrue(losses[key].requires_grad, key)
        for key, value in losses.items():
            self.assertTrue(
                all(torch.isfinite(v).all() for v in _as_list(value)), key)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        for num_items in ((0, 0), (3, 2)):  # and training goes on
            log_vars = model.train_step(demo_batch(num_items), optim_wrapper)
            for key in ('loss_adv_g_box', 'loss_adv_g_mask', 'loss_adv_d_box',
                        'loss_adv_d_mask'):
                self.assertIn(key, log_vars)
            for key, value in log_vars.items():
                self.assertTrue(torch.isfinite(value).all(), key)
        for player in ('generator', 'discriminator'):
            self.assertEqual(optim_wrapper[player]._inner_count, 2, player)
        for param_name, param in model.named_parameters():
            self.assertTrue(torch.isfinite(param).all(), param_name)

    @parameterized.expand(NAMES)
    def test_detector_init_weights_gives_the_discriminators_their_init(
            self, name):
        """The runner initialises the whole model with ``init_weights``; it
        must reach the discriminators' ``init_cfg`` (DCGAN: BatchNorm
        weights N(1, 0.02)), not leave their BatchNorm weights at 1."""
        model, _ = build_gan(name)
        for branch, disc in model.discriminator.items():
            norms = [m.norm for m in disc.convs if m.with_norm]
            self.assertTrue(norms, branch)
            for norm in norms:
                self.assertAlmostEqual(
                    norm.weight.mean().item(), 1.0, delta=0.02)
                self.assertGreater(norm.weight.std().item(), 0.005, branch)

    @parameterized.expand(NAMES)
    def test_predict_is_the_stock_detectors(self, name):
        model, _ = build_gan(name)
        stock = build_stock(name)
        stock.load_state_dict(generator_state(model), strict=True)
        model.eval()
        stock.eval()
        data = demo_batch((2, 1))
        with torch.no_grad():
            ours = model.test_step(copy.deepcopy(data))
            theirs = stock.test_step(copy.deepcopy(data))
        self.assertGreater(sum(len(r.pred_instances) for r in ours), 0)
        for a, b in zip(ours, theirs):
            for key in ('bboxes', 'scores', 'labels', 'masks'):
                self.assertTrue(
                    torch.equal(a.pred_instances[key], b.pred_instances[key]),
                    key)

    @parameterized.expand(NAMES)
    def test_gan2mmdet_output_loads_into_the_stock_detector(self, name):
        gan2mmdet = load_tool('model_converters/gan2mmdet.py')
        model, _ = build_gan(name)
        stock = build_stock(name)
        tmp = self._tmp_dir()
        src, dst = osp.join(tmp, 'gan.pth'), osp.join(tmp, 'stock.pth')
        torch.save({'state_dict': model.state_dict(), 'meta': {}}, src)
        gan2mmdet.main([src, dst])
        converted = torch.load(dst, weights_only=True)['state_dict']
        result = stock.load_state_dict(converted, strict=True)
        self.assertEqual((result.missing_keys, result.unexpected_keys),
                         ([], []))
        for key, value in stock.state_dict().items():
            self.assertTrue(torch.equal(value, model.state_dict()[key]), key)

    @parameterized.expand(NAMES)
    def test_stock_checkpoint_starts_gan_training(self, name):
        """A stock checkpoint as ``load_from``: the runner's
        ``load_checkpoint(..., strict=False)`` (under the project's safe
        local loader, as ``SafeCheckpointLoadHook`` installs it) reports
        only the discriminators missing, nothing unexpected, and leaves
        them as initialised."""
        torch.manual_seed(1)
        stock = build_stock(name)
        stock.init_weights()
        path = osp.join(self._tmp_dir(), 'stock.pth')
        torch.save({'state_dict': stock.state_dict()}, path)
        model, _ = build_gan(name)
        disc_before = copy.deepcopy(model.discriminator.state_dict())
        messages = []
        handler = logging.Handler()
        handler.emit = lambda record: messages.append(record.getMessage())
        logger = MMLogger.get_current_instance()
        logger.addHandler(handler)
        try:
            with use_safe_local_loader():
                load_checkpoint(
                    model,
                    path,
                    map_location='cpu',
                    strict=False,
                    logger=logger)
        finally:
            logger.removeHandler(handler)
        text = '\n'.join(messages)
        self.assertNotIn('unexpected key', text)
        prefix = 'missing keys in source state_dict: '
        missing = [
            line[len(prefix):].split(', ') for line in text.splitlines()
            if line.startswith(prefix)
        ]
        self.assertEqual(len(missing), 1, text)
        # (MMEngine leaves the BN counters num_batches_tracked out)
        self.assertEqual(
            set(missing[0]), {
                'discriminator.' + k
                for k in model.discriminator.state_dict()
                if not k.endswith('num_batches_tracked')
            })
        for key, value in stock.state_dict().items():
            self.assertTrue(torch.equal(model.state_dict()[key], value), key)
        for key, value in model.discriminator.state_dict().items():
            self.assertTrue(torch.equal(value, disc_before[key]), key)

    def _tmp_dir(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        return tmp.name

    @parameterized.expand(NAMES)
    def test_mask_targets_are_computed_once(self, name):
        """One train step computes the judged mask head's targets as often
        as the stock detector's loss does: once (a cascade: once per stage,
        for each stage's own loss); the mask discriminator reuses them."""
        model, cfg = build_gan(name)
        mask_head = model.roi_head.mask_head
        if isinstance(mask_head, nn.ModuleList):  # a cascade's: one class
            mask_head = mask_head[-1]
        head_cls = type(mask_head)
        get_targets = head_cls.get_targets

        def count(run):
            with mock.patch.object(
                    head_cls,
                    'get_targets',
                    autospec=True,
                    side_effect=get_targets) as spy:
                run()
            return spy.call_count

        batch = demo_batch()  # the batch of preprocessed() below
        gan_count = count(lambda: model.train_step(
            copy.deepcopy(batch), build_optim_wrapper(model, cfg.optim_wrapper)
        ))
        stock = build_stock(name)
        stock_count = count(lambda: stock.loss(*preprocessed(stock)))
        self.assertEqual(stock_count, NUM_STAGES if name in CASCADES else 1)
        self.assertEqual(gan_count, stock_count)

    @parameterized.expand(NAMES)
    def test_resume_restores_both_players(self, name):
        """The model's and the OptimWrapperDict's state dicts, loaded into
        a fresh model and wrapper, give the next train step of the
        original."""
        model, cfg = build_gan(name)
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        batch = demo_batch()
        model.train_step(copy.deepcopy(batch), optim_wrapper)
        fresh, _ = build_gan(name)
        fresh_wrapper = build_optim_wrapper(fresh, cfg.optim_wrapper)
        fresh.load_state_dict(copy.deepcopy(model.state_dict()))
        fresh_wrapper.load_state_dict(
            copy.deepcopy(optim_wrapper.state_dict()))
        for player in ('generator', 'discriminator'):
            self.assertTrue(optim_wrapper[player].optimizer.state, player)
        torch.manual_seed(1)
        expected = model.train_step(copy.deepcopy(batch), optim_wrapper)
        torch.manual_seed(1)
        actual = fresh.train_step(copy.deepcopy(batch), fresh_wrapper)
        self.assertEqual(set(actual), set(expected))
        for key, value in expected.items():
            torch.testing.assert_close(actual[key], value, msg=key)
        after = params_of(fresh)
        for key, value in params_of(model).items():
            self.assertTrue(torch.equal(after[key], value), key)

    @parameterized.expand([(name, ) for name in CASCADES])
    def test_adv_stages(self, name):
        model, _ = build_gan(name, dict(adv_stages='all'))
        head = model.roi_head
        self.assertEqual(head.adv_stages, [0, 1, 2])
        self.assertEqual(head.adv_stage_weights, head.stage_loss_weights)
        _, samples = model.forward_generator(*preprocessed(model))
        for branch in ('box', 'mask'):
            self.assertEqual([(p.stage, p.weight) for p in samples[branch]],
                             list(enumerate(head.stage_loss_weights)), branch)
        # with every stage judged, every stage's regressor is reached
        loss = model.generator_adversarial_losses(
            samples.only('box'))['loss_adv_g_box']
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        for stage in range(NUM_STAGES):
            self.assertTrue(
                reached(grads, f'roi_head.bbox_head.{stage}.fc_reg.'), stage)

        model, _ = build_gan(name, dict(adv_stages='last'))
        _, samples = model.forward_generator(*preprocessed(model))
        for branch in ('box', 'mask'):
            self.assertEqual([(p.stage, p.weight) for p in samples[branch]],
                             [(NUM_STAGES - 1, 1.)], branch)
        for bad in ('first', [3], []):
            with pytest.raises(ValueError, match='adv_stages'):
                build_gan(name, dict(adv_stages=bad))
