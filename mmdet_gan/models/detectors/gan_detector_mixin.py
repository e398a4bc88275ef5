"""A two-stage detector as the generator of the GAN game: the mixin that
adds the discriminators, their losses and :class:`AdversarialGame` to any
of MMDetection's two-stage instance segmentation detectors."""
import inspect
from typing import Dict, Iterator, Optional, Tuple, Union

from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType
from mmengine.model import ModuleDict
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from mmdet_gan.utils.profiling import FORWARD, profile_range
from ..game.adversarial_game import (AdversarialGame, DiscOutputs,
                                     check_optim_wrapper, current_iter, frozen)
from ..roi_heads.adversarial_samples import BRANCHES, AdversarialSamples


class GANDetectorMixin:
    """Turns a two-stage detector (``MaskRCNN``, ``CascadeRCNN``,
    ``HybridTaskCascade``, ``MaskScoringRCNN``, ``PointRend``, ...) into the
    generator of the GAN game against a box and a mask discriminator.

    The detector stays the stock one, with an adversarial RoI head
    (:class:`~mmdet_gan.models.roi_heads.AdversarialHeadMixin`); the
    discriminators live in ``self.discriminator`` (MMEngine's ``ModuleDict``
    keyed ``box`` / ``mask``, so that the detector's ``init_weights``
    reaches their ``init_cfg``) and are used in training only: ``predict`` is
    the stock detector's, and the state dict without the
    ``discriminator.`` keys is a stock one. :meth:`train_step` is the
    game's (:class:`~mmdet_gan.models.game.AdversarialGame`); it expects an
    ``OptimWrapperDict`` with ``generator`` and ``discriminator`` wrappers
    (see ``GANOptimWrapperConstructor``).

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
        gan_cfg (dict, optional): the game's schedule, the arguments of
            :class:`~mmdet_gan.models.game.AdversarialGame` (``order``,
            ``disc_steps``, ``disc_start_iter``, ``adv_start_iter``,
            ``adv_warmup_iters``, ``real_fake_batch``, ``nonfinite_loss``).
        **kwargs: Arguments of the stock detector.
    """

    def __init__(self,
                 *args,
                 discriminator: ConfigType,
                 loss_adv: ConfigType,
                 gan_cfg: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        discriminator = dict(discriminator or {})
        loss_adv = dict(loss_adv or {})
        self._check_branches(discriminator, loss_adv)
        # MMEngine's ModuleDict, not torch's: BaseModule.init_weights only
        # descends into children that have init_weights, so with torch's the
        # runner's model.init_weights() never applied the discriminators'
        # init_cfg (their DCGAN initialisation). Built in BRANCHES order,
        # whatever the config's key order (a child config that adds the box
        # branch to a mask-only parent merges it after the mask): the order
        # in which they draw their initial weights stays the same.
        self.discriminator = ModuleDict({
            branch:
            MODELS.build(
                self._discriminator_cfg(branch, discriminator[branch]))
            for branch in BRANCHES if discriminator.get(branch) is not None
        })
        self._check_discriminator_inputs()
        self.loss_adv = nn.ModuleDict({
            branch: MODELS.build(loss_adv[branch])
            for branch in self.discriminator
        })
        self.game = AdversarialGame.from_cfg(gan_cfg)

    # ------------------------------------------------------------------
    # build-time checks
    # ------------------------------------------------------------------
    def _check_branches(self, discriminator: dict, loss_adv: dict) -> None:
        """Fail at build time, in one sentence, on an inconsistent game."""
        name = type(self).__name__
        enabled = [b for b, cfg in discriminator.items() if cfg is not None]
        unknown = set(discriminator) - set(BRANCHES)
        if unknown:
            raise ValueError(
                f'model.discriminator has unknown keys {sorted(unknown)}: '
                f'use {BRANCHES}')
        if not enabled:
            stock = type(self).__mro__[
                type(self).__mro__.index(GANDetectorMixin) + 1].__name__
            raise ValueError(
                f'{name} needs at least one discriminator: set '
                'model.discriminator=dict(box=dict(type=\'BoxDiscriminator\')'
                f', mask=dict(type=\'MaskDiscriminator\')), or use {stock}')
        if not hasattr(self.roi_head, 'with_adv_box'):
            raise ValueError(
                f'{name} needs an adversarial RoI head, e.g. '
                "model.roi_head.type='AdversarialRoIHead' for Mask R-CNN "
                "('AdversarialCascadeRoIHead', "
                "'AdversarialHybridTaskCascadeRoIHead', "
                "'AdversarialMaskScoringRoIHead', "
                "'AdversarialPointRendRoIHead' for the others; got "
                f'{type(self.roi_head).__name__})')
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
        out_size = extractor_output_size(extractor)
        if 'roi_size' in params and cfg.get('roi_size') is None and \
                out_size is not None and out_size[0] == out_size[1]:
            cfg['roi_size'] = out_size[0]
        return cfg

    def _check_discriminator_inputs(self) -> None:
        """Each discriminator's ``roi_size`` / ``in_channels`` must match
        what its RoI extractor pools, or the first forward would fail."""
        for branch, disc in self.discriminator.items():
            extractor = getattr(self.roi_head, f'adv_{branch}_roi_extractor')
            out_size = extractor_output_size(extractor)
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
    # what the game needs from the detector
    # ------------------------------------------------------------------
    def forward_generator(
        self, batch_inputs: Tensor, batch_data_samples: SampleList
    ) -> Tuple[Dict[str, Tensor], AdversarialSamples]:
        """The stock detector's training forward (its own ``loss``).

        Returns:
            tuple[dict, AdversarialSamples]: the stock losses, and the
            discriminators' samples of the same pass.
        """
        with profile_range(FORWARD):
            with self.roi_head.collecting_adv_samples([
                    sample.metainfo['img_shape']
                    for sample in batch_data_samples
            ]) as samples:
                losses = super().loss(batch_inputs, batch_data_samples)
        return losses, samples

    def generator_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the generator: every module but the
        discriminators."""
        for name, child in self.named_children():
            if name not in ('discriminator', 'loss_adv'):
                yield from child.parameters()

    def adv_weight(self, cur_iter: int) -> float:
        """Warm-up factor of the generator's adversarial terms."""
        return self.game.adv_weight(cur_iter)

    def discriminate(self,
                     samples: AdversarialSamples,
                     detach: bool = False) -> DiscOutputs:
        """The discriminators on ``samples``
        (:meth:`AdversarialGame.discriminate`)."""
        return self.game.discriminate(self.discriminator, samples, detach)

    def generator_adversarial_losses(self,
                                     samples: AdversarialSamples,
                                     weight: float = 1.) -> Dict[str, Tensor]:
        """``loss_adv_g_<branch>``: the generator's adversarial losses, with
        the discriminators frozen (they receive no gradient)."""
        with frozen(self.discriminator):
            return self.game.generator_losses(self.loss_adv,
                                              self.discriminate(samples),
                                              self.discriminator, weight)

    def discriminator_losses(self,
                             samples: AdversarialSamples) -> Dict[str, Tensor]:
        """``loss_adv_d_<branch>`` on detached samples, plus the mean
        scores ``score_d_<branch>_real`` / ``_fake``."""
        return self.game.discriminator_losses(
            self.loss_adv, self.discriminate(samples, detach=True),
            self.discriminator)

    # ------------------------------------------------------------------
    # the model interface
    # ------------------------------------------------------------------
    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """The generator's full loss dict (stock losses and
        ``loss_adv_g_*``), e.g. for validation-loss hooks."""
        losses, samples = self.forward_generator(batch_inputs,
                                                 batch_data_samples)
        losses.update(
            self.generator_adversarial_losses(samples,
                                              self.adv_weight(current_iter())))
        return losses

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One iteration of the game (:meth:`AdversarialGame.train_step`)."""
        return self.game.train_step(self, data, optim_wrapper)

    def check_optim_wrapper(
            self, optim_wrapper: OptimWrapperDict
    ) -> Tuple[OptimWrapper, OptimWrapper]:
        """The ``generator`` and ``discriminator`` wrappers of
        ``optim_wrapper``; ``TypeError`` saying what to set otherwise."""
        return check_optim_wrapper(optim_wrapper, type(self).__name__)


def extractor_output_size(extractor: nn.Module) -> Optional[tuple]:
    """``(h, w)`` an RoI extractor pools to, None if it does not say."""
    layers = getattr(extractor, 'roi_layers', None)
    if not layers or not hasattr(layers[0], 'output_size'):
        return None
    return tuple(_pair(layers[0].output_size))
