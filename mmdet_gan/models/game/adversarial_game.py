"""The adversarial game of the GAN detectors, in one place: who the players
are, the step order, the shared discriminator forward, the warm-up, the
non-finite policy and each player's gradient averaging over processes.

The split of roles follows mmagic's ``BaseGAN`` and MMEngine's
``OptimWrapperDict``: the model holds the players' modules (the detector is
the generator, ``model.discriminator`` the discriminators), the optim
wrapper dict holds one wrapper per player, and :class:`AdversarialGame`
decides what runs when. Any detector that provides the small interface of
:class:`~mmdet_gan.models.detectors.GANDetectorMixin` can be trained by it.
"""
import contextlib
import logging
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, Tuple, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor, nn

from mmdet_gan.utils.dist_utils import GradientAverager
from mmdet_gan.utils.players import DISCRIMINATOR, GENERATOR, PLAYERS
from mmdet_gan.utils.profiling import (BACKWARD_RANGES, D_BACKWARD, D_FORWARD,
                                       D_STEP, G_BACKWARD, G_STEP, STEP_RANGES,
                                       TRAIN_STEP, profile_range)
from ..roi_heads.adversarial_samples import AdversarialSamples

if TYPE_CHECKING:
    from ..detectors.gan_detector_mixin import GANDetectorMixin

ORDERS = ('generator_first', 'discriminator_first')
NONFINITE_POLICIES = ('skip', 'stop')
REAL_FAKE_BATCHES = ('separate', 'joint')

#: What a discriminator returns: a (n, 1) logit (the box one), or per-layer
#: (n, D_l) features (the mask one with ``return_features=True``).
DiscOutput = Union[Tensor, Tuple[Tensor, ...]]
#: Per branch, ``(D(real), D(fake), weight)`` for each pair of samples.
DiscOutputs = Dict[str, List[Tuple[DiscOutput, DiscOutput, float]]]


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


class AdversarialGame:
    """The schedule and the steps of the GAN game (``model.gan_cfg``).

    Args:
        order (str): ``'generator_first'`` (reference) or
            ``'discriminator_first'``.
        disc_steps (int): Discriminator steps per generator step.
        disc_start_iter (int): First iteration with discriminator steps.
        adv_start_iter (int): First iteration in which the adversarial terms
            enter the generator loss.
        adv_warmup_iters (int): Their weight then ramps linearly up to 1
            over this many iterations: ``k / adv_warmup_iters`` in the
            ``k``-th iteration from ``adv_start_iter`` on (k = 1, 2, ...;
            0 = no ramp).
        real_fake_batch (str): ``'separate'`` (reference) runs each
            discriminator on the real and on the fake samples as two
            batches; ``'joint'`` runs it once on both concatenated, so its
            BatchNorm layers normalise them with the same statistics (two
            separate batches are each normalised to their own mean and
            variance, which hides from D any difference in the mean between
            real and fake features). The demo configs use ``'joint'``:
            measured better on the demo and nuclei data (README, "Why the
            box discriminator sat at 0.5").
        nonfinite_loss (str): What a NaN/Inf loss of either player does:
            ``'skip'`` (default) logs it with the iteration and skips that
            player's step (no gradient of that batch reaches the weights;
            with gradient accumulation the batch counts as one that adds
            nothing, and the window's other batches still step), ``'stop'``
            raises ``FloatingPointError``.
    """

    def __init__(self,
                 order: str = 'generator_first',
                 disc_steps: int = 1,
                 disc_start_iter: int = 0,
                 adv_start_iter: int = 0,
                 adv_warmup_iters: int = 0,
                 real_fake_batch: str = 'separate',
                 nonfinite_loss: str = 'skip') -> None:
        if real_fake_batch not in REAL_FAKE_BATCHES:
            raise ValueError(
                f'gan_cfg.real_fake_batch must be one of {REAL_FAKE_BATCHES}'
                f', got {real_fake_batch!r}')
        if nonfinite_loss not in NONFINITE_POLICIES:
            raise ValueError(
                f'gan_cfg.nonfinite_loss must be one of {NONFINITE_POLICIES}'
                f', got {nonfinite_loss!r}')
        if order not in ORDERS:
            raise ValueError(f'gan_cfg.order must be one of {ORDERS}, got '
                             f'{order!r}')
        self.order = order
        self.disc_steps = int(disc_steps)
        self.disc_start_iter = int(disc_start_iter)
        self.adv_start_iter = int(adv_start_iter)
        self.adv_warmup_iters = int(adv_warmup_iters)
        self.real_fake_batch = real_fake_batch
        self.nonfinite_loss = nonfinite_loss
        #: per player, the gradient averager of distributed training
        self._grad_averagers: Dict[str, GradientAverager] = {}
        if self.disc_steps < 1 or min(self.disc_start_iter,
                                      self.adv_start_iter,
                                      self.adv_warmup_iters) < 0:
            raise ValueError('gan_cfg.disc_steps must be >= 1 and the '
                             'start/warm-up iterations >= 0')

    def __getstate__(self) -> dict:
        """A copy (e.g. an EMA model's ``deepcopy``) starts without the
        gradient averagers: they refer to this model's parameters and hold
        buffers as large as its gradients."""
        state = self.__dict__.copy()
        state['_grad_averagers'] = {}
        return state

    @classmethod
    def from_cfg(cls, gan_cfg: Union[dict, None]) -> 'AdversarialGame':
        """Build from ``model.gan_cfg``; unknown keys are an error naming
        the allowed ones."""
        gan_cfg = dict(gan_cfg or {})
        allowed = ('order', 'disc_steps', 'disc_start_iter', 'adv_start_iter',
                   'adv_warmup_iters', 'nonfinite_loss', 'real_fake_batch')
        unknown = sorted(set(gan_cfg) - set(allowed))
        if unknown:
            raise ValueError(f'unknown gan_cfg keys {unknown}; allowed: ' +
                             ', '.join(allowed))
        return cls(**gan_cfg)

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

    def discriminate(self,
                     discriminators: nn.ModuleDict,
                     samples: AdversarialSamples,
                     detach: bool = False) -> DiscOutputs:
        """Run each discriminator on its real and fake samples.

        Args:
            discriminators (nn.ModuleDict): ``{branch: discriminator}``.
            samples (AdversarialSamples): the generator forward's samples,
                each (n, C, S, S).
            detach (bool): Cut the samples from the generator's graph
                (a discriminator-only step).

        Returns:
            dict: ``{branch: [(D(real), D(fake), weight), ...]}``, one
            entry per pair of samples, whatever the discriminator returns
            (a ``(n, 1)`` logit for the box one, the per-layer ``(n, D_l)``
            multi-scale features for the mask one).
        """
        outputs = {}
        with profile_range(D_FORWARD):
            for branch in discriminators:
                disc = discriminators[branch]
                outputs[branch] = []
                for pair in samples[branch]:
                    # the mask pairs' products are saved as their factors
                    with pair.saved_as_factors():
                        real, fake = pair.samples(detach)
                        if self.real_fake_batch == 'joint':
                            scores = _joint_forward(disc, real, fake)
                        else:
                            scores = (disc(real), disc(fake))
                    outputs[branch].append((*scores, pair.weight))
        return outputs

    @staticmethod
    def generator_losses(loss_adv: nn.ModuleDict,
                         disc_outputs: DiscOutputs,
                         discriminators: nn.ModuleDict,
                         weight: float = 1.) -> Dict[str, Tensor]:
        """``loss_adv_g_<branch>`` (times ``weight``): the weighted sum over
        the branch's pairs."""
        return {
            f'loss_adv_g_{branch}':
            _weighted_sum([(loss_adv[branch](real, fake, is_disc=False), w)
                           for real, fake, w in outputs],
                          discriminators[branch]) * weight
            for branch, outputs in disc_outputs.items()
        }

    @staticmethod
    def discriminator_losses(
            loss_adv: nn.ModuleDict, disc_outputs: DiscOutputs,
            discriminators: nn.ModuleDict) -> Dict[str, Tensor]:
        """``loss_adv_d_<branch>`` (the weighted sum over the branch's
        pairs) and the mean scores ``score_d_<branch>_real`` / ``_fake``
        that the branch's loss reports (``GANLoss`` does; averaged over the
        pairs, not summed into the loss)."""
        losses = {}
        for branch, outputs in disc_outputs.items():
            loss_adv_b = loss_adv[branch]
            losses[f'loss_adv_d_{branch}'] = _weighted_sum(
                [(loss_adv_b(real, fake, is_disc=True), w)
                 for real, fake, w in outputs], discriminators[branch])
            losses.update(
                AdversarialGame.branch_scores(branch, loss_adv_b, outputs))
        return losses

    @staticmethod
    def branch_scores(
            branch: str, loss_adv: nn.Module,
            outputs: List[Tuple[object, object, float]]) -> Dict[str, Tensor]:
        """``score_d_<branch>_real`` / ``_fake``: the mean scores that the
        branch's loss reports (``GANLoss`` does), averaged over the pairs."""
        scores: Dict[str, List[Tensor]] = {}
        for real, fake, _ in outputs:
            for name, score in loss_adv.scores(real, fake).items():
                scores.setdefault(name, []).append(score)
        return {
            f'score_d_{branch}_{name[len("score_"):]}':
            torch.stack(values).mean()
            for name, values in scores.items()
        }

    # ------------------------------------------------------------------
    # training step
    # ------------------------------------------------------------------
    def train_step(self, model: 'GANDetectorMixin', data: Union[dict, tuple,
                                                                list],
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
            model (GANDetectorMixin): the detector with its discriminators.
            data (dict | tuple | list): a batch from the dataloader.
            optim_wrapper (OptimWrapperDict): ``generator`` and
                ``discriminator`` wrappers.

        Returns:
            dict[str, Tensor]: log variables of both players; the pieces of
            the step run in ``torch.profiler`` ranges
            (``mmdet_gan.utils.profiling``).
        """
        with profile_range(TRAIN_STEP):
            gen_wrapper, disc_wrapper = check_optim_wrapper(
                optim_wrapper,
                type(model).__name__)
            cur_iter = current_iter()
            self._align_discriminator_counts(model, disc_wrapper)
            weight = self.adv_weight(cur_iter)
            disc_steps = self.disc_steps if cur_iter >= self.disc_start_iter \
                else 0
            data = model.data_preprocessor(data, True)
            with gen_wrapper.optim_context(model):
                losses, samples = model.forward_generator(
                    data['inputs'], data['data_samples'])
            disc_log_vars = {}
            if disc_steps and self.order == 'generator_first':
                gen_log_vars, disc_log_vars = self._shared_step(
                    model,
                    losses,
                    samples,
                    gen_wrapper,
                    disc_wrapper,
                    weight,
                    cur_iter,
                    keep_samples=disc_steps > 1)
                disc_steps -= 1
            else:
                if disc_steps:  # discriminator_first
                    disc_log_vars = self._discriminator_steps(
                        model, samples, disc_wrapper, cur_iter, disc_steps)
                    disc_steps = 0
                # the discriminators compute in their own precision (their
                # wrapper's autocast), as in the shared forward
                with disc_wrapper.optim_context(model.discriminator):
                    losses.update(
                        model.generator_adversarial_losses(samples, weight))
                gen_loss, gen_log_vars = model.parse_losses(losses)
                self._update_params(gen_wrapper, gen_loss,
                                    model.generator_parameters(), GENERATOR,
                                    cur_iter)
            if disc_steps:
                disc_log_vars = self._discriminator_steps(
                    model, samples, disc_wrapper, cur_iter, disc_steps)
            gen_log_vars['adv_weight'] = torch.tensor(weight)
            gen_log_vars.update(disc_log_vars)
        return gen_log_vars

    def _shared_adversarial_losses(
            self, model: 'GANDetectorMixin', samples: AdversarialSamples,
            disc_wrapper: OptimWrapper,
            weight: float) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Both players' adversarial losses from one discriminator forward.

        The discriminators' outputs are not returned: once both losses are
        built only their graph needs them, so they are freed as soon as the
        backward passes are done with them (the mask discriminator's
        per-layer features include its input, 0.8 MB per sample of 256 x
        28 x 28). A loss with ``game_losses`` (``MultiScaleL1Loss``) gives
        both players' losses from one evaluation.

        Returns:
            tuple[dict, dict]: ``loss_adv_g_*`` (times ``weight``) and the
            discriminator's losses and scores.
        """
        discs = model.discriminator
        with disc_wrapper.optim_context(discs):
            disc_outputs = self.discriminate(discs, samples)
        gen_losses, disc_losses = {}, {}
        for branch, outputs in disc_outputs.items():
            loss_adv = model.loss_adv[branch]
            both = getattr(loss_adv, 'game_losses', None)
            if both is None:  # a loss without it: two evaluations
                pairs = [((loss_adv(real, fake, is_disc=False),
                           loss_adv(real, fake, is_disc=True)), w)
                         for real, fake, w in outputs]
            else:
                pairs = [(both(real, fake), w) for real, fake, w in outputs]
            gen_losses[f'loss_adv_g_{branch}'] = _weighted_sum(
                [(g, w) for (g, _), w in pairs], discs[branch]) * weight
            disc_losses[f'loss_adv_d_{branch}'] = _weighted_sum(
                [(d, w) for (_, d), w in pairs], discs[branch])
            disc_losses.update(self.branch_scores(branch, loss_adv, outputs))
        return gen_losses, disc_losses

    def _shared_step(self, model: 'GANDetectorMixin', losses: Dict[str,
                                                                   Tensor],
                     samples: AdversarialSamples, gen_wrapper: OptimWrapper,
                     disc_wrapper: OptimWrapper, weight: float, cur_iter: int,
                     keep_samples: bool) -> Tuple[dict, dict]:
        """Both players' steps from one discriminator forward: the
        discriminator's gradient first (only into its parameters, keeping
        the graph), then the generator's (only into its own, through the
        discriminators), then both updates.

        Between the two backward passes nothing but the graph refers to the
        discriminator's part of it: the log variables are detached and,
        unless ``keep_samples`` (later discriminator steps reuse them), the
        samples are released (``samples`` is empty afterwards). So what only
        the discriminator's gradient needed is freed before the generator's
        backward pass, the peak of the step: the real box samples and D's
        activations on them (a loss that compares real and fake features,
        as the mask branch's multi-scale L1, still needs its real side).

        Args:
            losses (dict): the generator's losses from its forward pass
                (the adversarial ones are added here).
            samples (AdversarialSamples): that forward's samples.
            weight (float): the warm-up factor of the generator's
                adversarial terms.
            keep_samples (bool): keep ``samples`` for further
                discriminator steps.
        """
        gen_adv_losses, disc_losses = self._shared_adversarial_losses(
            model, samples, disc_wrapper, weight)
        if not keep_samples:
            samples.release()
        gen_loss, gen_log_vars = model.parse_losses({
            **losses,
            **gen_adv_losses
        })
        disc_loss, disc_log_vars = model.parse_losses(disc_losses)
        # its losses and scores refer to D's part of the graph
        del disc_losses
        disc_log_vars = _detached(disc_log_vars)
        disc_log_vars.pop('loss', None)
        disc_params = _trainable(model.discriminator.parameters())
        gen_params = _trainable(model.generator_parameters())
        with profile_range(D_BACKWARD):
            disc_ready = self._backward(
                disc_wrapper,
                disc_loss,
                DISCRIMINATOR,
                cur_iter,
                disc_params,
                inputs=disc_params,
                retain_graph=True)
        del disc_loss  # the graph's discriminator-only part goes with it
        with profile_range(G_BACKWARD):
            gen_ready = self._backward(
                gen_wrapper,
                gen_loss,
                GENERATOR,
                cur_iter,
                gen_params,
                inputs=gen_params)
        if gen_ready:
            with profile_range(G_STEP):
                self._step(gen_wrapper, GENERATOR, gen_params)
        if disc_ready:
            with profile_range(D_STEP):
                self._step(disc_wrapper, DISCRIMINATOR, disc_params)
        return gen_log_vars, disc_log_vars

    def _discriminator_steps(self, model: 'GANDetectorMixin',
                             samples: AdversarialSamples,
                             disc_wrapper: OptimWrapper, cur_iter: int,
                             num_steps: int) -> Dict[str, Tensor]:
        """``num_steps`` discriminator steps on the detached samples."""
        log_vars = {}
        for _ in range(num_steps):
            with disc_wrapper.optim_context(model.discriminator):
                losses = model.discriminator_losses(samples)
            parsed_loss, log_vars = model.parse_losses(losses)
            self._update_params(disc_wrapper, parsed_loss,
                                model.discriminator.parameters(),
                                DISCRIMINATOR, cur_iter)
        log_vars.pop('loss', None)
        return log_vars

    def _update_params(self, optim_wrapper: OptimWrapper, loss: Tensor,
                       params: Iterable[nn.Parameter], player: str,
                       cur_iter: int) -> None:
        """``OptimWrapper.update_params`` with the player's gradients
        averaged over processes before the step (distributed training), and
        the ``nonfinite_loss`` policy applied first."""
        params = list(params)
        with profile_range(BACKWARD_RANGES[player]):
            ready = self._backward(optim_wrapper, loss, player, cur_iter,
                                   params)
        if ready:
            with profile_range(STEP_RANGES[player]):
                self._step(optim_wrapper, player, params)

    def _backward(self, optim_wrapper: OptimWrapper, loss: Tensor, player: str,
                  cur_iter: int, params: List[nn.Parameter],
                  **backward_kwargs) -> bool:
        """Back-propagate ``player``'s loss into ``params``
        (``backward_kwargs`` go to ``Tensor.backward``, e.g. ``inputs`` /
        ``retain_graph``) unless it is not finite on some process: then
        apply the ``nonfinite_loss`` policy (decided jointly by all
        processes, so none of them waits in a reduction the others skip) and
        return False.

        Without gradient accumulation, each step follows its backward pass,
        so the gradients are averaged over the processes during it (each
        bucket's all-reduce overlaps the rest of the pass, as in torch's
        DDP: :class:`GradientAverager`); with accumulation, the window's
        last step averages them (:meth:`_step`)."""
        if not _all_finite(loss):
            message = (f'{player} loss is {loss.item()} at iteration '
                       f'{cur_iter + 1}')
            if self.nonfinite_loss == 'stop':
                raise FloatingPointError(
                    f'{message}; set model.gan_cfg.nonfinite_loss=\'skip\' '
                    'to skip such steps, or lower the learning rate / '
                    'adversarial weights')
            print_log(
                f'{message}: skipped the {player} step (no gradient of this '
                'batch reached the weights)',
                logger='current',
                level=logging.WARNING)
            if _accumulative_counts(optim_wrapper) == 1:
                optim_wrapper.zero_grad()
                return False
            # accumulating: keep the window's earlier gradients and count
            # this batch as one that adds nothing, so the window still
            # closes (and steps) where the other player's does
            optim_wrapper._inner_count += 1
            return True
        if _accumulative_counts(optim_wrapper) > 1:
            optim_wrapper.backward(
                optim_wrapper.scale_loss(loss), **backward_kwargs)
            return True
        averager = self._grad_averager(player, params)
        with averager.overlapping():
            optim_wrapper.backward(
                optim_wrapper.scale_loss(loss), **backward_kwargs)
        averager.finish()
        return True

    def _grad_averager(self, player: str,
                       params: List[nn.Parameter]) -> GradientAverager:
        """``player``'s :class:`GradientAverager` for ``params``, kept from
        step to step (its buckets' buffers are reused) while the player's
        trainable parameters stay the same."""
        averager = self._grad_averagers.get(player)
        if averager is None or not averager.matches(params):
            averager = GradientAverager(params)
            self._grad_averagers[player] = averager
        return averager

    def _step(self, optim_wrapper: OptimWrapper, player: str,
              params: Iterable[nn.Parameter]) -> None:
        """Step once the wrapper's accumulation window is full, with the
        gradients of ``params`` averaged over the processes (here when
        accumulating; otherwise :meth:`_backward` did it)."""
        if optim_wrapper.should_update():
            params = list(params)
            if _accumulative_counts(optim_wrapper) > 1:
                self._grad_averager(player, params).finish()
            # a window whose every batch was skipped (non-finite) has no
            # gradient: nothing to step (a GradScaler would refuse to)
            if any(param.grad is not None for param in params):
                optim_wrapper.step()
            optim_wrapper.zero_grad()

    def _align_discriminator_counts(self, model: nn.Module,
                                    disc_wrapper: OptimWrapper) -> None:
        """Make the discriminator's gradient-accumulation window count its
        own backward passes.

        The runner starts every wrapper's count at the current iteration
        with the run's ``max_iters`` as its end. The discriminator does no
        backward pass before ``disc_start_iter``, so its count is moved back
        by that many (once per ``initialize_count_status``); otherwise its
        last, partial window would never step.

        Raises:
            ValueError: ``disc_steps > 1`` with an accumulating
                discriminator: its extra steps reuse one batch's samples, so
                they cannot be accumulated over batches.
        """
        if _accumulative_counts(disc_wrapper) == 1:
            return
        if self.disc_steps > 1:
            raise ValueError(
                f'gan_cfg.disc_steps={self.disc_steps} cannot be combined '
                'with gradient accumulation of the discriminator '
                '(optim_wrapper.discriminator.accumulative_counts='
                f'{_accumulative_counts(disc_wrapper)}): its extra steps '
                'reuse one batch. Set gan_cfg.disc_steps=1, or '
                'optim_wrapper.discriminator.accumulative_counts=1.')
        max_counts = disc_wrapper._max_counts
        if (self.disc_start_iter == 0
                or max_counts < 0 or max_counts == getattr(
                    disc_wrapper, '_gan_aligned_max_counts', None)):
            return
        disc_wrapper.initialize_count_status(
            model, max(0, disc_wrapper._inner_count - self.disc_start_iter),
            max(1, max_counts - self.disc_start_iter))
        disc_wrapper._gan_aligned_max_counts = disc_wrapper._max_counts


def check_optim_wrapper(
        optim_wrapper: OptimWrapperDict,
        model_name: str = 'the GAN detector'
) -> Tuple[OptimWrapper, OptimWrapper]:
    """The ``generator`` and ``discriminator`` wrappers of
    ``optim_wrapper``; ``TypeError`` saying what to set otherwise."""
    if not isinstance(optim_wrapper, OptimWrapperDict) or any(
            key not in optim_wrapper for key in PLAYERS):
        raise TypeError(
            f'{model_name}.train_step needs an OptimWrapperDict with '
            '"generator" and "discriminator" wrappers, got '
            f'{type(optim_wrapper).__name__}: set optim_wrapper=dict('
            '_delete_=True, constructor=\'GANOptimWrapperConstructor\', '
            'generator=dict(...), discriminator=dict(...)) in the config')
    return optim_wrapper[GENERATOR], optim_wrapper[DISCRIMINATOR]


def _weighted_sum(terms: List[Tuple[Tensor, float]],
                  discriminator: nn.Module) -> Tensor:
    """``sum(w * loss)``; with no terms (a cascade that stopped before the
    judged stage), a zero attached to the discriminator's parameters, so
    the loss keys and the graph are those of any other iteration."""
    if not terms:
        params = list(discriminator.parameters())
        return sum((p.sum() * 0. for p in params), params[0].new_zeros(()))
    total = terms[0][0] * terms[0][1]
    for loss, w in terms[1:]:
        total = total + loss * w
    return total


def _joint_forward(disc: nn.Module, real: Tensor,
                   fake: Tensor) -> Tuple[object, object]:
    """``disc``'s outputs for real and fake samples run as one batch: its
    ``forward_joint`` where it has one (the discriminators of this package:
    it joins the two sides only where a norm layer needs it), else its
    forward of their concatenation, split."""
    fake = fake.to(real.dtype)
    forward_joint = getattr(disc, 'forward_joint', None)
    if forward_joint is not None:
        return forward_joint(real, fake)
    return _split_rows(disc(torch.cat([real, fake])), real.size(0))


def _split_rows(out: Union[Tensor, Tuple[Tensor, ...]],
                num_rows: int) -> Tuple[object, object]:
    """A joint batch's discriminator output split into its first
    ``num_rows`` rows and the rest (per tensor for per-layer features)."""
    if isinstance(out, Tensor):
        return out[:num_rows], out[num_rows:]
    return (tuple(t[:num_rows] for t in out), tuple(t[num_rows:] for t in out))


def _detached(log_vars: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """``log_vars`` with its tensors cut from the graph (a logged value
    that refers to the graph keeps all of it alive)."""
    return {
        name: value.detach() if isinstance(value, Tensor) else value
        for name, value in log_vars.items()
    }


def _accumulative_counts(optim_wrapper: OptimWrapper) -> int:
    """How many batches ``optim_wrapper`` accumulates per step."""
    return getattr(optim_wrapper, '_accumulative_counts', 1)


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


def current_iter() -> int:
    """The runner's current iteration (0 outside a runner)."""
    return int(MessageHub.get_current_instance().get_info('iter', 0))
