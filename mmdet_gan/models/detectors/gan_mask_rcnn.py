"""GAN Mask R-CNN (Le et al., arXiv 2010.13757)."""
import contextlib
import inspect
import logging
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import torch
from mmdet.models.detectors import MaskRCNN
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from mmdet_gan.utils.dist_utils import all_reduce_grads
from mmdet_gan.utils.players import DISCRIMINATOR, GENERATOR, PLAYERS
from mmdet_gan.utils.profiling import (BACKWARD_RANGES, D_BACKWARD, D_FORWARD,
                                       D_STEP, FORWARD, G_BACKWARD, G_STEP,
                                       STEP_RANGES, TRAIN_STEP, profile_range)
from ..roi_heads.adversarial_roi_head import ADV_INPUTS_PREFIX

BRANCHES = ('box', 'mask')
ORDERS = ('generator_first', 'discriminator_first')
NONFINITE_POLICIES = ('skip', 'stop')
REAL_FAKE_BATCHES = ('separate', 'joint')


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of ``module``'s parameters for the block,
    so a generator step puts no gradient into the discriminators."""
    flags = [(param, param.requires_grad) for param in module.parameters()]
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)


@MODELS.register_module()
class GANMaskRCNN(MaskRCNN):
    """Mask R-CNN trained as the generator of a GAN game against a box and a
    mask discriminator.

    The generator is a stock Mask R-CNN whose RoI head is an
    :class:`AdversarialRoIHead`; the discriminators live in
    ``self.discriminator`` (an ``nn.ModuleDict`` keyed ``box`` / ``mask``) and
    are used in training only: :meth:`predict` is Mask R-CNN's, and the
    state dict without the ``discriminator.`` keys is a stock ``MaskRCNN``
    one.

    :meth:`train_step` expects an ``OptimWrapperDict`` with ``generator`` and
    ``discriminator`` wrappers (see ``GANOptimWrapperConstructor``) and, per
    iteration, runs the generator forward once, then the generator step on
    ``L_rpn + L_cls + L_bbox + L_mask + w * (L_adv^Gb + L_adv^Gm)`` and
    ``disc_steps`` discriminator steps on ``L_adv^Db + L_adv^Dm`` computed on
    the detached samples of the same forward pass (order configurable).

    Args:
        discriminator (dict): ``dict(box=..., mask=...)`` configs of the
            discriminators; either may be left out to disable its branch.
            ``in_channels`` and ``roi_size`` left out (or None) are taken
            from the branch's extractor in ``roi_head``
            (``adv_<branch>_roi_extractor.out_channels`` and
            ``.roi_layer.output_size``).
        loss_adv (dict): ``dict(box=..., mask=...)`` adversarial loss configs
            (``GANLoss``, ``MultiScaleL1Loss``, ...) with their
            ``loss_weight``; one per discriminator.
        gan_cfg (dict, optional): the game's schedule:

            - ``order``: ``'generator_first'`` (reference) or
              ``'discriminator_first'``.
            - ``disc_steps``: discriminator steps per generator step (1).
            - ``disc_start_iter``: first iteration with discriminator steps.
            - ``adv_start_iter``: first iteration in which the adversarial
              terms enter the generator loss (0).
            - ``adv_warmup_iters``: their weight then ramps linearly from 0
              to 1 over this many iterations (0 = no ramp).
            - ``real_fake_batch``: ``'separate'`` (reference) runs each
              discriminator on the real and on the fake samples as two
              batches; ``'joint'`` runs it once on both concatenated, so
              its BatchNorm layers normalise them with the same statistics
              (two separate batches are each normalised to their own mean
              and variance, which hides from D any difference in the mean
              between real and fake features).
            - ``nonfinite_loss``: what a NaN/Inf loss of either player does:
              ``'skip'`` (default) logs it with the iteration and skips that
              player's step (no gradient reaches the weights), ``'stop'``
              raises ``FloatingPointError``.
        Other args: as :class:`mmdet.models.MaskRCNN`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: ConfigType,
                 test_cfg: ConfigType,
                 discriminator: ConfigType,
                 loss_adv: ConfigType,
                 gan_cfg: OptConfigType = None,
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        discriminator = dict(discriminator or {})
        loss_adv = dict(loss_adv or {})
        self._check_branches(discriminator, loss_adv)
        self.discriminator = nn.ModuleDict({
            branch:
            MODELS.build(self._discriminator_cfg(branch, cfg))
            for branch, cfg in discriminator.items() if cfg is not None
        })
        self._check_discriminator_inputs()
        self.loss_adv = nn.ModuleDict({
            branch: MODELS.build(loss_adv[branch])
            for branch in self.discriminator
        })
        gan_cfg = dict(gan_cfg or {})
        self.order = gan_cfg.pop('order', 'generator_first')
        self.disc_steps = int(gan_cfg.pop('disc_steps', 1))
        self.disc_start_iter = int(gan_cfg.pop('disc_start_iter', 0))
        self.adv_start_iter = int(gan_cfg.pop('adv_start_iter', 0))
        self.adv_warmup_iters = int(gan_cfg.pop('adv_warmup_iters', 0))
        self.nonfinite_loss = gan_cfg.pop('nonfinite_loss', 'skip')
        self.real_fake_batch = gan_cfg.pop('real_fake_batch', 'separate')
        if gan_cfg:
            raise ValueError(
                f'unknown gan_cfg keys {sorted(gan_cfg)}; allowed: order, '
                'disc_steps, disc_start_iter, adv_start_iter, '
                'adv_warmup_iters, nonfinite_loss, real_fake_batch')
        if self.real_fake_batch not in REAL_FAKE_BATCHES:
            raise ValueError(
                f'gan_cfg.real_fake_batch must be one of {REAL_FAKE_BATCHES}'
                f', got {self.real_fake_batch!r}')
        if self.nonfinite_loss not in NONFINITE_POLICIES:
            raise ValueError(
                f'gan_cfg.nonfinite_loss must be one of {NONFINITE_POLICIES}'
                f', got {self.nonfinite_loss!r}')
        if self.order not in ORDERS:
            raise ValueError(f'gan_cfg.order must be one of {ORDERS}, got '
                             f'{self.order!r}')
        if self.disc_steps < 1 or min(self.disc_start_iter,
                                      self.adv_start_iter,
                                      self.adv_warmup_iters) < 0:
            raise ValueError('gan_cfg.disc_steps must be >= 1 and the '
                             'start/warm-up iterations >= 0')

    def _check_branches(self, discriminator: dict, loss_adv: dict) -> None:
        """Fail at build time, in one sentence, on an inconsistent game."""
        enabled = [b for b, cfg in discriminator.items() if cfg is not None]
        unknown = set(discriminator) - set(BRANCHES)
        if unknown:
            raise ValueError(
                f'model.discriminator has unknown keys {sorted(unknown)}: '
                f'use {BRANCHES}')
        if not enabled:
            raise ValueError(
                'GANMaskRCNN needs at least one discriminator: set '
                'model.discriminator=dict(box=dict(type=\'BoxDiscriminator\')'
                ', mask=dict(type=\'MaskDiscriminator\')), or use MaskRCNN')
        if not hasattr(self.roi_head, 'with_adv_box'):
            raise ValueError(
                'GANMaskRCNN needs model.roi_head.type=\'AdversarialRoIHead\''
                f' (got {type(self.roi_head).__name__})')
        for branch in BRANCHES:
            has_d = branch in enabled
            has_inputs = getattr(self.roi_head, f'with_adv_{branch}')
            if has_d and branch not in loss_adv:
                raise ValueError(
                    f'model.discriminator.{branch} is set but '
                    f'model.loss_adv.{branch} is missing: set its '
                    'adversarial loss, e.g. dict(type=\'GANLoss\')')
            if has_d != has_inputs:
                raise ValueError(
                    f'model.discriminator.{branch} and '
                    f'model.roi_head.adv_{branch}_roi_extractor must be set '
                    'together (both or neither)')

    def _discriminator_cfg(self, branch: str, cfg: ConfigType) -> dict:
        """``cfg`` with ``in_channels`` and ``roi_size`` taken from the
        branch's RoI extractor where the config leaves them out.

        The extractor's ``out_channels`` and ``roi_layer.output_size`` are
        then the only place to change them (a child config that changes the
        RoI size changes the discriminator with it). Discriminator types
        without these arguments are built as configured.
        """
        cfg = dict(cfg)
        disc_cls = cfg['type'] if isinstance(cfg['type'], type) else \
            MODELS.get(cfg['type'])
        if disc_cls is None:
            return cfg  # MODELS.build raises the registry's own error
        params = inspect.signature(disc_cls.__init__).parameters
        extractor = getattr(self.roi_head, f'adv_{branch}_roi_extractor')
        if 'in_channels' in params and cfg.get('in_channels') is None:
            cfg['in_channels'] = extractor.out_channels
        out_size = _extractor_output_size(extractor)
        if 'roi_size' in params and cfg.get('roi_size') is None and \
                out_size is not None and out_size[0] == out_size[1]:
            cfg['roi_size'] = out_size[0]
        return cfg

    def _check_discriminator_inputs(self) -> None:
        """Each discriminator's ``roi_size`` / ``in_channels`` must match
        what its RoI extractor pools, or the first forward would fail."""
        for branch, disc in self.discriminator.items():
            extractor = getattr(self.roi_head, f'adv_{branch}_roi_extractor')
            out_size = _extractor_output_size(extractor)
            roi_size = getattr(disc, 'roi_size', None)
            if out_size is not None and roi_size is not None and \
                    out_size != (roi_size, roi_size):
                raise ValueError(
                    f'model.discriminator.{branch}.roi_size={roi_size} but '
                    f'model.roi_head.adv_{branch}_roi_extractor pools '
                    f'{out_size}: set both to the same size')
            in_channels = getattr(disc, 'in_channels', None)
            if in_channels is not None and \
                    in_channels != extractor.out_channels:
                raise ValueError(
                    f'model.discriminator.{branch}.in_channels={in_channels}'
                    f' but model.roi_head.adv_{branch}_roi_extractor has '
                    f'out_channels={extractor.out_channels}: set both to the '
                    'FPN channels')

    # ------------------------------------------------------------------
    # losses
    # ------------------------------------------------------------------
    def adv_weight(self, cur_iter: int) -> float:
        """Warm-up factor of the generator's adversarial terms."""
        if cur_iter < self.adv_start_iter:
            return 0.
        if self.adv_warmup_iters == 0:
            return 1.
        return min(1., (cur_iter - self.adv_start_iter + 1) /
                   self.adv_warmup_iters)

    def forward_generator(
        self, batch_inputs: Tensor, batch_data_samples: SampleList
    ) -> Tuple[Dict[str, Tensor], Dict[str, dict]]:
        """Mask R-CNN's training forward.

        Returns:
            tuple[dict, dict]: the stock losses, and the discriminators'
            inputs ``{branch: dict(real=Tensor, fake=Tensor)}``.
        """
        with profile_range(FORWARD):
            losses = super().loss(batch_inputs, batch_data_samples)
            adv_inputs = {
                key[len(ADV_INPUTS_PREFIX):]: losses.pop(key)
                for key in list(losses) if key.startswith(ADV_INPUTS_PREFIX)
            }
        return losses, adv_inputs

    def discriminate(self,
                     adv_inputs: Dict[str, dict],
                     detach: bool = False) -> Dict[str, tuple]:
        """Run each discriminator on its real and fake samples.

        Args:
            adv_inputs (dict): ``{branch: dict(real=Tensor, fake=Tensor)}``
                from :meth:`forward_generator`, each ``(n, C, S, S)`` (the
                mask branch's already multiplied with its masks).
            detach (bool): Cut the samples from the generator's graph
                (a discriminator-only step).

        Returns:
            dict[str, tuple]: ``{branch: (D(real), D(fake))}``, whatever the
            discriminator returns (a ``(n, 1)`` logit for the box one, the
            list of layer features for the mask one).
        """
        outputs = {}
        with profile_range(D_FORWARD):
            for branch, samples in adv_inputs.items():
                real, fake = samples['real'], samples['fake']
                if detach:
                    real, fake = real.detach(), fake.detach()
                disc = self.discriminator[branch]
                if self.real_fake_batch == 'joint':
                    both = disc(torch.cat([real, fake.to(real.dtype)]))
                    outputs[branch] = (both[:real.size(0)],
                                       both[real.size(0):])
                else:
                    outputs[branch] = (disc(real), disc(fake))
        return outputs

    def generator_adversarial_losses(self,
                                     adv_inputs: Dict[str, dict],
                                     weight: float = 1.) -> Dict[str, Tensor]:
        """``loss_adv_g_<branch>``: the generator's adversarial losses, with
        the discriminators frozen (they receive no gradient)."""
        with frozen(self.discriminator):
            return self.generator_losses_from_outputs(
                self.discriminate(adv_inputs), weight)

    def generator_losses_from_outputs(self,
                                      disc_outputs: Dict[str, tuple],
                                      weight: float = 1.) -> Dict[str, Tensor]:
        """``loss_adv_g_<branch>`` (times ``weight``) from the outputs of
        :meth:`discriminate`."""
        return {
            f'loss_adv_g_{branch}':
            self.loss_adv[branch](real, fake, is_disc=False) * weight
            for branch, (real, fake) in disc_outputs.items()
        }

    def discriminator_losses(self,
                             adv_inputs: Dict[str, dict]) -> Dict[str, Tensor]:
        """``loss_adv_d_<branch>`` on detached samples, plus the mean
        scores ``score_d_<branch>_real`` / ``_fake`` that the branch's loss
        reports (``GANLoss`` does; not summed into the loss)."""
        return self.discriminator_losses_from_outputs(
            self.discriminate(adv_inputs, detach=True))

    def discriminator_losses_from_outputs(
            self, disc_outputs: Dict[str, tuple]) -> Dict[str, Tensor]:
        """``loss_adv_d_<branch>`` and the ``score_d_*`` log variables from
        the outputs of :meth:`discriminate`."""
        losses = {}
        for branch, (real, fake) in disc_outputs.items():
            loss_adv = self.loss_adv[branch]
            losses[f'loss_adv_d_{branch}'] = loss_adv(real, fake, is_disc=True)
            for name, score in loss_adv.scores(real, fake).items():
                losses[f'score_d_{branch}_{name[len("score_"):]}'] = score
        return losses

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The generator's full loss dict (stock losses and
        ``loss_adv_g_*``), e.g. for validation-loss hooks."""
        losses, adv_inputs = self.forward_generator(batch_inputs,
                                                    batch_data_samples)
        losses.update(
            self.generator_adversarial_losses(adv_inputs,
                                              self.adv_weight(_cur_iter())))
        return losses

    # ------------------------------------------------------------------
    # training step
    # ------------------------------------------------------------------
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One iteration of the game: a generator step and ``disc_steps``
        discriminator steps from one generator forward pass.

        With ``order='generator_first'`` the generator step and the first
        discriminator step evaluate the discriminators at the same weights on
        the same samples, so they share one discriminator forward pass: both
        players' gradients are taken from it (each restricted to its own
        parameters), then both step. Further discriminator steps
        (``disc_steps > 1``) run their own forward on the detached samples.

        Args:
            data (dict | tuple | list): a batch from the dataloader.
            optim_wrapper (OptimWrapperDict): ``generator`` and
                ``discriminator`` wrappers.

        Returns:
            dict[str, Tensor]: log variables of both players; the pieces of
            the step run in ``torch.profiler`` ranges
            (``mmdet_gan.utils.profiling``).
        """
        with profile_range(TRAIN_STEP):
            gen_wrapper, disc_wrapper = self.check_optim_wrapper(optim_wrapper)
            cur_iter = _cur_iter()
            weight = self.adv_weight(cur_iter)
            disc_steps = self.disc_steps if cur_iter >= self.disc_start_iter \
                else 0
            data = self.data_preprocessor(data, True)
            with gen_wrapper.optim_context(self):
                losses, adv_inputs = self.forward_generator(
                    data['inputs'], data['data_samples'])
            disc_log_vars = {}
            if disc_steps and self.order == 'generator_first':
                gen_adv_losses, disc_losses = self._shared_adversarial_losses(
                    adv_inputs, disc_wrapper, weight)
                losses.update(gen_adv_losses)
                gen_log_vars, disc_log_vars = self._shared_step(
                    losses, disc_losses, gen_wrapper, disc_wrapper, cur_iter)
                disc_steps -= 1
            else:
                if disc_steps:  # discriminator_first
                    disc_log_vars = self._discriminator_steps(
                        adv_inputs, disc_wrapper, cur_iter, disc_steps)
                    disc_steps = 0
                with gen_wrapper.optim_context(self):
                    losses.update(
                        self.generator_adversarial_losses(adv_inputs, weight))
                gen_loss, gen_log_vars = self.parse_losses(losses)
                self._update_params(gen_wrapper, gen_loss,
                                    self._generator_params(), GENERATOR,
                                    cur_iter)
            if disc_steps:
                disc_log_vars = self._discriminator_steps(
                    adv_inputs, disc_wrapper, cur_iter, disc_steps)
            gen_log_vars['adv_weight'] = torch.tensor(weight)
            gen_log_vars.update(disc_log_vars)
        return gen_log_vars

    def _shared_adversarial_losses(
            self, adv_inputs: Dict[str, dict], disc_wrapper: OptimWrapper,
            weight: float) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Both players' adversarial losses from one discriminator forward.

        The discriminators' outputs are not returned: once both losses are
        built only their graph needs them, so they are freed as soon as the
        backward passes are done with them (the mask discriminator's are
        ``(n, D)`` feature vectors, about 7 MiB per side for 16 samples of
        128 x 28 x 28).

        Returns:
            tuple[dict, dict]: ``loss_adv_g_*`` (times ``weight``) and the
            discriminator's losses and scores.
        """
        with disc_wrapper.optim_context(self.discriminator):
            disc_outputs = self.discriminate(adv_inputs)
        return (self.generator_losses_from_outputs(disc_outputs, weight),
                self.discriminator_losses_from_outputs(disc_outputs))

    def _shared_step(self, gen_losses: Dict[str,
                                            Tensor], disc_losses: Dict[str,
                                                                       Tensor],
                     gen_wrapper: OptimWrapper, disc_wrapper: OptimWrapper,
                     cur_iter: int) -> Tuple[dict, dict]:
        """Both players' steps from one graph: the discriminator's gradient
        first (only into its parameters, keeping its part of the graph),
        then the generator's (only into its own, through the
        discriminators), then both updates."""
        gen_loss, gen_log_vars = self.parse_losses(gen_losses)
        disc_loss, disc_log_vars = self.parse_losses(disc_losses)
        disc_log_vars.pop('loss', None)
        disc_params = _trainable(self.discriminator.parameters())
        gen_params = _trainable(self._generator_params())
        with profile_range(D_BACKWARD):
            disc_ready = self._backward(
                disc_wrapper,
                disc_loss,
                DISCRIMINATOR,
                cur_iter,
                inputs=disc_params,
                retain_graph=True)
        with profile_range(G_BACKWARD):
            gen_ready = self._backward(
                gen_wrapper, gen_loss, GENERATOR, cur_iter, inputs=gen_params)
        if gen_ready:
            with profile_range(G_STEP):
                self._step(gen_wrapper, gen_params)
        if disc_ready:
            with profile_range(D_STEP):
                self._step(disc_wrapper, disc_params)
        return gen_log_vars, disc_log_vars

    def _discriminator_steps(self, adv_inputs: Dict[str, dict],
                             disc_wrapper: OptimWrapper, cur_iter: int,
                             num_steps: int) -> Dict[str, Tensor]:
        """``num_steps`` discriminator steps on the detached samples."""
        log_vars = {}
        for _ in range(num_steps):
            with disc_wrapper.optim_context(self.discriminator):
                losses = self.discriminator_losses(adv_inputs)
            parsed_loss, log_vars = self.parse_losses(losses)
            self._update_params(disc_wrapper, parsed_loss,
                                self.discriminator.parameters(), DISCRIMINATOR,
                                cur_iter)
        log_vars.pop('loss', None)
        return log_vars

    def _update_params(self, optim_wrapper: OptimWrapper, loss: Tensor,
                       params: Iterator[nn.Parameter], player: str,
                       cur_iter: int) -> None:
        """``OptimWrapper.update_params`` with the player's gradients
        averaged over processes before the step (distributed training), and
        the ``nonfinite_loss`` policy applied first."""
        with profile_range(BACKWARD_RANGES[player]):
            ready = self._backward(optim_wrapper, loss, player, cur_iter)
        if ready:
            with profile_range(STEP_RANGES[player]):
                self._step(optim_wrapper, params)

    def _backward(self, optim_wrapper: OptimWrapper, loss: Tensor, player: str,
                  cur_iter: int, **backward_kwargs) -> bool:
        """Back-propagate ``player``'s loss (``backward_kwargs`` go to
        ``Tensor.backward``, e.g. ``inputs`` / ``retain_graph``) unless it
        is not finite on some process: then apply the ``nonfinite_loss``
        policy (decided jointly by all processes, so none of them waits in a
        reduction the others skip) and return False."""
        if not _all_finite(loss):
            message = (f'{player} loss is {loss.item()} at iteration '
                       f'{cur_iter + 1}')
            if self.nonfinite_loss == 'stop':
                raise FloatingPointError(
                    f'{message}; set model.gan_cfg.nonfinite_loss=\'skip\' '
                    'to skip such steps, or lower the learning rate / '
                    'adversarial weights')
            print_log(
                f'{message}: skipped the {player} step (no gradient '
                'reached the weights)',
                logger='current',
                level=logging.WARNING)
            optim_wrapper.zero_grad()
            return False
        optim_wrapper.backward(
            optim_wrapper.scale_loss(loss), **backward_kwargs)
        return True

    @staticmethod
    def _step(optim_wrapper: OptimWrapper,
              params: Iterable[nn.Parameter]) -> None:
        """Average the gradients of ``params`` over processes and step, once
        the wrapper's accumulation window is full."""
        if optim_wrapper.should_update():
            all_reduce_grads(params)
            optim_wrapper.step()
            optim_wrapper.zero_grad()

    def _generator_params(self) -> Iterator[nn.Parameter]:
        for name, child in self.named_children():
            if name not in ('discriminator', 'loss_adv'):
                yield from child.parameters()

    @staticmethod
    def check_optim_wrapper(
            optim_wrapper: OptimWrapperDict
    ) -> Tuple[OptimWrapper, OptimWrapper]:
        """The ``generator`` and ``discriminator`` wrappers of
        ``optim_wrapper``; ``TypeError`` saying what to set otherwise."""
        if not isinstance(optim_wrapper, OptimWrapperDict) or any(
                key not in optim_wrapper for key in PLAYERS):
            raise TypeError(
                'GANMaskRCNN.train_step needs an OptimWrapperDict with '
                '"generator" and "discriminator" wrappers, got '
                f'{type(optim_wrapper).__name__}: set optim_wrapper=dict('
                '_delete_=True, constructor=\'GANOptimWrapperConstructor\', '
                'generator=dict(...), discriminator=dict(...)) in the config')
        return optim_wrapper[GENERATOR], optim_wrapper[DISCRIMINATOR]


def _extractor_output_size(extractor: nn.Module) -> Optional[tuple]:
    """``(h, w)`` an RoI extractor pools to, None if it does not say."""
    layers = getattr(extractor, 'roi_layers', None)
    if not layers or not hasattr(layers[0], 'output_size'):
        return None
    return tuple(_pair(layers[0].output_size))


def _trainable(params: Iterable[nn.Parameter]) -> List[nn.Parameter]:
    """The parameters that take gradients (``Tensor.backward(inputs=...)``
    refuses the others)."""
    return [param for param in params if param.requires_grad]


def _all_finite(loss: Tensor) -> bool:
    """Whether ``loss`` is finite on every process."""
    finite = torch.isfinite(loss.detach()).all().float().reshape(1)
    if get_world_size() > 1:
        all_reduce(finite, op='min')
    return bool(finite.item())


def _cur_iter() -> int:
    """The runner's current iteration (0 outside a runner)."""
    return int(MessageHub.get_current_instance().get_info('iter', 0))
