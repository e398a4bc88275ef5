"""One optimizer wrapper per player of the GAN game."""
import copy
from collections import OrderedDict
from typing import Dict, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS
from mmengine.optim import (AmpOptimWrapper, DefaultOptimWrapperConstructor,
                            OptimWrapperDict)
from torch import nn

from mmdet_gan.utils.players import DISCRIMINATOR, GENERATOR, PLAYERS

#: Wrapper keys that may sit next to the players as both players' default.
SHARED_WRAPPER_KEYS = ('type', 'loss_scale', 'dtype', 'clip_grad',
                       'accumulative_counts')
#: Shared defaults that only an ``AmpOptimWrapper`` accepts.
AMP_ONLY_KEYS = ('loss_scale', 'dtype')


def with_shared_defaults(player_cfg: dict, defaults: dict) -> dict:
    """A player's wrapper config with the shared ``defaults`` filled in.

    Keys the player sets win. ``loss_scale`` / ``dtype`` from the defaults
    are left out when the player's resulting ``type`` is not an
    ``AmpOptimWrapper`` (a player that keeps ``type='OptimWrapper'`` under
    ``--amp`` trains in full precision instead of failing).

    Args:
        player_cfg (dict): ``optim_wrapper.<player>``.
        defaults (dict): The shared keys found next to the players.

    Returns:
        dict: The merged config (``type`` defaults to ``'OptimWrapper'``).
    """
    merged = dict(defaults)
    merged.update(player_cfg)
    merged.setdefault('type', 'OptimWrapper')
    wrapper_type = merged['type']
    if isinstance(wrapper_type, str):
        wrapper_type = OPTIM_WRAPPERS.get(wrapper_type)
    is_amp = isinstance(wrapper_type, type) and issubclass(
        wrapper_type, AmpOptimWrapper)
    if not is_amp:
        for key in AMP_ONLY_KEYS:
            if key in defaults and key not in player_cfg:
                merged.pop(key)
    return merged


class _ModuleView(nn.Module):
    """A parameter-less module whose children are some of another module's
    children (shared, not copied), so a constructor sees their parameters
    under their usual names (``backbone.conv1.weight``, ...)."""

    def __init__(self, children: Dict[str, nn.Module]) -> None:
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class GANOptimWrapperConstructor:
    """Builds an ``OptimWrapperDict`` with a ``generator`` and a
    ``discriminator`` wrapper for :class:`GANMaskRCNN`.

    The discriminator wrapper owns the parameters of ``model.discriminator``;
    the generator wrapper owns everything else, so the generator's
    ``paramwise_cfg`` keys match the names of a stock detector
    (``backbone``, ``roi_head.bbox_head``, ...). Each player is built by
    MMEngine's ``DefaultOptimWrapperConstructor``, so each may have its own
    optimizer, ``paramwise_cfg``, ``clip_grad`` and wrapper type
    (``AmpOptimWrapper`` for mixed precision).

    A top-level ``type``, ``loss_scale``, ``dtype``, ``clip_grad`` or
    ``accumulative_counts`` next to ``generator`` / ``discriminator`` is the
    default of both players' wrappers; a key set inside a player wins for
    that player. This is what MMDetection's ``tools/train.py --amp`` relies
    on: it sets ``optim_wrapper.type='AmpOptimWrapper'`` and
    ``optim_wrapper.loss_scale='dynamic'``, so both players train with AMP,
    each with its own ``AmpOptimWrapper`` and GradScaler. The AMP-only
    defaults (``loss_scale``, ``dtype``) are not passed to a player whose
    own ``type`` is not an ``AmpOptimWrapper``.

    Example::

        optim_wrapper = dict(
            _delete_=True,
            constructor='GANOptimWrapperConstructor',
            type='OptimWrapper',  # default of both players
            generator=dict(
                optimizer=dict(type='SGD', lr=0.02, momentum=0.9,
                               weight_decay=1e-4)),
            discriminator=dict(
                optimizer=dict(type='SGD', momentum=0.9, weight_decay=1e-4),
                lr_factor=0.2,  # lr = generator lr / 5 (reference)
                paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.)))

    Args:
        optim_wrapper_cfg (dict): ``generator`` and ``discriminator``
            wrapper configs, and the shared defaults above. A player's
            ``lr_factor`` sets its lr to the generator's lr times the factor
            (instead of an explicit ``lr``).
        paramwise_cfg (dict, optional): must be None: put ``paramwise_cfg``
            inside each player's config.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError(
                'GANOptimWrapperConstructor takes paramwise_cfg per player: '
                'move it into optim_wrapper.generator / '
                'optim_wrapper.discriminator')
        cfg = copy.deepcopy(dict(optim_wrapper_cfg))
        cfg.pop('_scope_', None)
        missing = [key for key in PLAYERS if key not in cfg]
        if missing:
            raise ValueError(
                f'optim_wrapper has no {" and no ".join(missing)} wrapper: a '
                'GAN model needs optim_wrapper=dict(_delete_=True, '
                'constructor=\'GANOptimWrapperConstructor\', generator=dict('
                'optimizer=...), discriminator=dict(optimizer=...))')
        defaults = {
            key: cfg.pop(key)
            for key in SHARED_WRAPPER_KEYS if key in cfg
        }
        unknown = sorted(set(cfg) - set(PLAYERS))
        if unknown:
            raise ValueError(
                f'optim_wrapper has unexpected keys {unknown} next to the '
                'players (allowed there: the players\' shared defaults '
                f'{list(SHARED_WRAPPER_KEYS)}). An `optimizer` there usually '
                'comes from an inherited single-optimizer optim_wrapper: add '
                '_delete_=True to the GAN optim_wrapper; anything else goes '
                'inside optim_wrapper.generator / optim_wrapper.discriminator')
        generator_lr = cfg[GENERATOR].get('optimizer', {}).get('lr')
        self.constructors = OrderedDict()
        for player in PLAYERS:
            player_cfg = with_shared_defaults(dict(cfg[player]), defaults)
            if 'optimizer' not in player_cfg:
                raise ValueError(
                    f'optim_wrapper.{player} needs an optimizer, e.g. '
                    'optimizer=dict(type=\'SGD\', lr=0.02, momentum=0.9)')
            lr_factor = player_cfg.pop('lr_factor', None)
            if lr_factor is not None:
                optimizer = dict(player_cfg['optimizer'])
                if 'lr' in optimizer or generator_lr is None:
                    raise ValueError(
                        f'optim_wrapper.{player}: give either lr_factor '
                        '(relative to optim_wrapper.generator.optimizer.lr) '
                        'or optimizer.lr, not both')
                optimizer['lr'] = generator_lr * lr_factor
                player_cfg['optimizer'] = optimizer
            player_paramwise = player_cfg.pop('paramwise_cfg', None)
            self.constructors[player] = DefaultOptimWrapperConstructor(
                player_cfg, player_paramwise)

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if hasattr(model, 'module'):
            model = model.module
        discriminator = getattr(model, 'discriminator', None)
        if not isinstance(discriminator, nn.Module):
            raise ValueError(
                f'{type(model).__name__} has no `discriminator` submodule: '
                'GANOptimWrapperConstructor is for GAN models such as '
                'GANMaskRCNN; use the default constructor for other models')
        generator = _ModuleView({
            name: child
            for name, child in model.named_children()
            if child is not discriminator
        })
        disc_wrapper = self.constructors[DISCRIMINATOR](discriminator)
        if hasattr(disc_wrapper, 'grad_name'):
            # clip_grad logs the norm under `grad_name`: keep `grad_norm` the
            # generator's (as in a stock detector's log) and give D its own
            disc_wrapper.grad_name = (
                f'{DISCRIMINATOR}.{disc_wrapper.grad_name}')
        return OptimWrapperDict(
            **{
                GENERATOR: self.constructors[GENERATOR](generator),
                DISCRIMINATOR: disc_wrapper
            })
