"""Adversarial losses of GAN Mask R-CNN.

Every loss here has the same interface, so a detector can use any of them
in either branch::

    loss = loss_module(real, fake, is_disc)

``real`` and ``fake`` are the discriminator's outputs on real and fake
samples, (N, D) each (:class:`MultiScaleL1Loss` also takes per-layer
sequences of (N, D_l) tensors); the result is a scalar already multiplied by
``loss_weight``. ``is_disc=True`` gives the discriminator's loss,
``is_disc=False`` the generator's. With no samples (N = 0) the result is a
zero still attached to the inputs' graph, so ``backward()`` works and no
NaN appears.

``loss_module.game_losses(real, fake)`` gives both players' losses from
one call (``(generator's, discriminator's)``), which the game uses when both
step from one discriminator forward; a loss without it is called twice.

``loss_module.scores(real, fake)`` gives the discriminator's mean score on
real and fake samples for logging, as a dict whose keys do not contain
``loss`` (so ``parse_losses`` logs them without summing them).
"""
import functools
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor


def zero_loss(real: Optional[Tensor], fake: Tensor) -> Tensor:
    """A zero attached to the graph of ``real`` and ``fake``.

    Args:
        real (Tensor, optional): Discriminator outputs on real samples.
        fake (Tensor): Discriminator outputs on fake samples.

    Returns:
        Tensor: A scalar 0 with the dtype and device of ``fake``; it
        requires grad if either input does.
    """
    zero = fake.sum() * 0
    if real is not None:
        zero = zero + real.sum() * 0
    return zero


def reduction_dtype(*tensors: Tensor) -> torch.dtype:
    """The dtype the losses reduce in: float32, or float64 if an input is.

    Under autocast the discriminators' outputs can be float16/bfloat16,
    whose means and sums over thousands of elements lose precision.

    Args:
        *tensors (Tensor): The loss inputs, any shapes.

    Returns:
        torch.dtype: float32 or float64.
    """
    return functools.reduce(torch.promote_types, [t.dtype for t in tensors],
                            torch.float32)


def discriminator_scores(real: Tensor,
                         fake: Tensor,
                         use_sigmoid: bool = True) -> Tuple[Tensor, Tensor]:
    """Mean discriminator score on real and fake samples, for logging.

    Args:
        real (Tensor): (N, D) discriminator outputs on real samples, N > 0.
        fake (Tensor): (M, D) discriminator outputs on fake samples, M > 0.
        use_sigmoid (bool): Map the outputs through a sigmoid first (for
            logits, giving the mean probability of "real"). Defaults to
            True.

    Returns:
        tuple[Tensor, Tensor]: Detached scalars ``(score_real,
        score_fake)``.

    Raises:
        ValueError: If either input is empty (its mean would be NaN).
    """
    if real.numel() == 0 or fake.numel() == 0:
        raise ValueError(
            'discriminator_scores needs non-empty real and fake outputs, got '
            f'shapes {tuple(real.shape)} and {tuple(fake.shape)}.')
    real, fake = real.detach().float(), fake.detach().float()
    if use_sigmoid:
        real, fake = real.sigmoid(), fake.sigmoid()
    return real.mean(), fake.mean()


#: Elements of the float temporaries that :func:`sum_abs_diff` makes at a
#: time (4 MiB in float32): a loss over the mask discriminator's inputs
#: (200,704 values per sample) never holds a float copy of all of them.
SUM_ABS_DIFF_CHUNK = 2**20


class _SumAbsDiff(torch.autograd.Function):
    """``sum(|a - b|)`` that keeps only the sign of ``a - b`` (int8) for
    the backward pass, instead of the float difference ``torch.abs`` keeps
    (a quarter of the memory), and computes it over row chunks of
    :data:`SUM_ABS_DIFF_CHUNK` elements, so no float temporary of the
    inputs' size exists at any time (the inputs of the multi-scale L1 loss
    are the largest tensors of the adversarial branch, 0.8 MB per sample
    of 256 x 28 x 28).

    The difference and the sum are computed in :func:`reduction_dtype`
    (float32 for float16/bfloat16 inputs); each input's gradient is in its
    own dtype."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        dtype = reduction_dtype(a, b)
        flat_a, flat_b = _rows(a), _rows(b)
        sign = torch.empty(flat_a.shape, dtype=torch.int8, device=a.device)
        total = torch.zeros((), dtype=dtype, device=a.device)
        rows = max(1, SUM_ABS_DIFF_CHUNK // max(1, flat_a.size(1)))
        for start in range(0, flat_a.size(0), rows):
            diff = flat_a[start:start + rows].to(dtype) - \
                flat_b[start:start + rows].to(dtype)
            sign[start:start + rows] = diff.sign()
            total += diff.abs_().sum()
        ctx.save_for_backward(sign)
        ctx.shape = a.shape
        ctx.dtypes = (a.dtype, b.dtype)
        return total

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        sign, = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        # one float tensor of the inputs' size, scaled in place
        grad = sign.to(grad_out.dtype).mul_(grad_out).view(ctx.shape)
        dtype_a, dtype_b = ctx.dtypes
        grad_a = grad_b = None
        if need_a:
            grad_a = grad.to(dtype_a)
        if need_b:  # a new tensor if grad_a is grad, else in place
            grad_b = (-grad if need_a else grad.neg_()).to(dtype_b)
        return grad_a, grad_b


def _rows(t: Tensor) -> Tensor:
    """``t`` as (N, rest) (a scalar as (1, 1)), a view where possible."""
    if t.dim() == 0:
        return t.reshape(1, 1)
    return t.reshape(t.size(0), math.prod(t.shape[1:]))


def sum_abs_diff(a: Tensor, b: Tensor) -> Tensor:
    """``sum(|a - b|)`` over all elements, with the gradient of
    ``torch.abs(a - b).sum()`` (0 where ``a == b``) but an int8 sign as its
    only saved tensor, and no float temporary larger than
    :data:`SUM_ABS_DIFF_CHUNK` elements.

    Args:
        a (Tensor): (N, ...) any shape with a leading dimension.
        b (Tensor): The shape of ``a``.

    Returns:
        Tensor: A scalar in :func:`reduction_dtype` (float32 for
        float16/bfloat16 inputs).
    """
    return _SumAbsDiff.apply(a, b)


def mean_abs_diff(a: Tensor, b: Tensor) -> Tensor:
    """``mean(|a - b|)`` over all elements: :func:`sum_abs_diff` divided by
    the number of elements (the gradient of ``torch.abs(a - b).mean()``,
    a quarter of its saved memory).

    Args:
        a (Tensor): (N, ...) non-empty.
        b (Tensor): The shape of ``a``.

    Returns:
        Tensor: A scalar in :func:`reduction_dtype`.
    """
    return sum_abs_diff(a, b) / a.numel()


@MODELS.register_module()
class GANLoss(nn.Module):
    """Classification GAN loss: vanilla (BCE), LSGAN (MSE) or hinge.

    Discriminator loss (``is_disc=True``): the loss of ``real`` towards
    ``real_label`` plus the loss of ``fake`` towards ``fake_label``, each
    averaged over its elements and the two **summed**, as in the reference
    implementation (``BCE(D(real), 1) + BCE(D(fake), 0)``):

    - vanilla: ``BCE(real, real_label) + BCE(fake, fake_label)`` on logits.
    - lsgan: ``mean((real - real_label)^2) + mean((fake - fake_label)^2)``.
    - hinge: ``mean(relu(1 - real)) + mean(relu(1 + fake))``.

    Generator loss (``is_disc=False``, ``real`` is ignored):

    - vanilla: ``BCE(fake, real_label)``.
    - lsgan: ``mean((fake - real_label)^2)``.
    - hinge: ``-mean(fake)``.

    The hinge loss has margins at -1 and +1 and ignores the labels.

    Args:
        gan_type (str): 'vanilla', 'lsgan' or 'hinge'.
            Defaults to 'vanilla'.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        real_label (float): Target for real samples. Defaults to 1.0.
        fake_label (float): Target for fake samples. Defaults to 0.0.
    """

    gan_types = ('vanilla', 'lsgan', 'hinge')

    def __init__(self,
                 gan_type: str = 'vanilla',
                 loss_weight: float = 1.0,
                 real_label: float = 1.0,
                 fake_label: float = 0.0) -> None:
        super().__init__()
        if gan_type not in self.gan_types:
            raise ValueError(f'GANLoss: gan_type must be one of '
                             f'{self.gan_types}, got {gan_type!r}.')
        self.gan_type = gan_type
        self.loss_weight = loss_weight
        self.real_label = real_label
        self.fake_label = fake_label

    def _target_loss(self, pred: Tensor, label: float) -> Tensor:
        """Mean loss of ``pred`` towards ``label`` (vanilla / lsgan)."""
        target = torch.full_like(pred, label)
        if self.gan_type == 'vanilla':
            return F.binary_cross_entropy_with_logits(pred, target)
        return F.mse_loss(pred, target)

    def forward(self, real: Tensor, fake: Tensor, is_disc: bool) -> Tensor:
        """Compute the loss.

        Args:
            real (Tensor): (N, D) discriminator outputs on real samples;
                ignored by the generator loss.
            fake (Tensor): (N, D) discriminator outputs on fake samples.
            is_disc (bool): Discriminator loss (True) or generator loss
                (False).

        Returns:
            Tensor: Scalar loss multiplied by ``loss_weight``, float32
            (float64 for float64 inputs) whatever the inputs' dtype; a zero
            attached to the inputs' graph when there are no samples.
        """
        for name, value in (('real', real), ('fake', fake)):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f'GANLoss needs the discriminator\'s logits as one '
                    f'(N, D) tensor, got {type(value).__name__} for {name} '
                    '(multi-scale features, e.g. MaskDiscriminator with '
                    'return_features=True): use MultiScaleL1Loss for them, '
                    'or set the discriminator\'s return_features=False')
        # reduce in float32 also under autocast (float16/bfloat16 logits)
        fake = fake.to(reduction_dtype(fake))
        if real is not None:
            real = real.to(reduction_dtype(real))
        if fake.numel() == 0 or (is_disc and real.numel() == 0):
            return zero_loss(real, fake)
        if is_disc:
            if self.gan_type == 'hinge':
                loss = F.relu(1 - real).mean() + F.relu(1 + fake).mean()
            else:
                loss = (
                    self._target_loss(real, self.real_label) +
                    self._target_loss(fake, self.fake_label))
        elif self.gan_type == 'hinge':
            loss = -fake.mean()
        else:
            loss = self._target_loss(fake, self.real_label)
        return self.loss_weight * loss

    def game_losses(self, real: Tensor, fake: Tensor) -> Tuple[Tensor, Tensor]:
        """The generator's and the discriminator's losses on one
        discriminator forward (``forward(real, fake, False)`` and
        ``forward(real, fake, True)``: their targets differ, so they are
        two evaluations).

        Returns:
            tuple[Tensor, Tensor]: the generator's and the discriminator's
            loss.
        """
        return self(real, fake, is_disc=False), self(real, fake, is_disc=True)

    def scores(self, real: Tensor, fake: Tensor) -> Dict[str, Tensor]:
        """Mean discriminator score on real and fake samples, for logging.

        For 'vanilla' the scores are mean sigmoid probabilities of "real";
        for 'lsgan' and 'hinge' they are the mean raw outputs (to compare
        with the labels, or with the margins -1 and +1).

        Args:
            real (Tensor): (N, D) discriminator outputs on real samples.
            fake (Tensor): (N, D) discriminator outputs on fake samples.

        Returns:
            dict[str, Tensor]: Detached scalars ``score_real`` and
            ``score_fake``; empty when there are no samples.
        """
        if real.numel() == 0 or fake.numel() == 0:
            return dict()
        score_real, score_fake = discriminator_scores(
            real, fake, use_sigmoid=self.gan_type == 'vanilla')
        return dict(score_real=score_real, score_fake=score_fake)

    def extra_repr(self) -> str:
        return (f'gan_type={self.gan_type!r}, loss_weight={self.loss_weight}, '
                f'real_label={self.real_label}, '
                f'fake_label={self.fake_label}')


#: What a multi-scale discriminator returns: one (N, D) tensor, or one
#: (N, D_l) tensor per layer (the concatenation along dim 1 is the (N, D)
#: vector).
MultiScaleFeatures = Union[Tensor, Sequence[Tensor]]


def _as_layers(feats: MultiScaleFeatures) -> Tuple[Tensor, ...]:
    """``feats`` as a tuple of per-layer tensors."""
    return (feats, ) if isinstance(feats, Tensor) else tuple(feats)


@MODELS.register_module()
class MultiScaleL1Loss(nn.Module):
    """SegAN's multi-scale L1 loss (Xue et al., 2018).

    ``real`` and ``fake`` are multi-scale discriminator features, e.g. the
    output of :class:`MaskDiscriminator` with ``return_features=True``: one
    (N, D) tensor, or a sequence of per-layer (N, D_l) tensors whose
    concatenation along dim 1 is that vector (what
    :class:`MaskDiscriminator` returns: no copy of its inputs is made). In
    both cases ``l = mean(|real - fake|)`` over all N * D elements,
    computed layer by layer without a float temporary of the features'
    size (:func:`sum_abs_diff`). The generator minimises ``l`` (loss
    ``loss_weight * l``); the discriminator maximises it (loss
    ``-loss_weight * l``).

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def distance(self, real: MultiScaleFeatures,
                 fake: MultiScaleFeatures) -> Tensor:
        """``l = mean(|real - fake|)`` over all elements of all layers.

        Args:
            real (Tensor | Sequence[Tensor]): (N, D) features of real
                samples, or per-layer (N, D_l) ones.
            fake (Tensor | Sequence[Tensor]): the same for fake samples, of
                the same shapes.

        Returns:
            Tensor: Scalar, float32 (float64 for float64 inputs) whatever
            the inputs' dtype; a zero attached to the inputs' graph when
            there are no samples.
        """
        real, fake = _as_layers(real), _as_layers(fake)
        shapes = [tuple(t.shape) for t in real], [tuple(t.shape) for t in fake]
        if shapes[0] != shapes[1] or not real:
            raise ValueError(
                'MultiScaleL1Loss needs real and fake of the same shape (or '
                'the same number of layers of the same shapes), got '
                f'{shapes[0]} and {shapes[1]}.')
        dtype = reduction_dtype(*real, *fake)
        numel = sum(t.numel() for t in fake)
        if numel == 0:
            return sum((zero_loss(r, f) for r, f in zip(real, fake)),
                       torch.zeros((), dtype=dtype,
                                   device=fake[0].device)).to(dtype)
        total = sum_abs_diff(real[0], fake[0])
        for r, f in zip(real[1:], fake[1:]):
            total = total + sum_abs_diff(r, f)
        return (total / numel).to(dtype)

    def forward(self, real: MultiScaleFeatures, fake: MultiScaleFeatures,
                is_disc: bool) -> Tensor:
        """Compute the loss.

        Args:
            real (Tensor | Sequence[Tensor]): (N, D) discriminator features
                of real samples, or per-layer (N, D_l) ones.
            fake (Tensor | Sequence[Tensor]): the same for fake samples.
            is_disc (bool): Discriminator loss (True, ``-l``) or generator
                loss (False, ``l``).

        Returns:
            Tensor: Scalar loss multiplied by ``loss_weight``, float32
            (float64 for float64 inputs) whatever the inputs' dtype; a zero
            attached to the inputs' graph when there are no samples.
        """
        sign = -1.0 if is_disc else 1.0
        return sign * self.loss_weight * self.distance(real, fake)

    def game_losses(self, real: MultiScaleFeatures,
                    fake: MultiScaleFeatures) -> Tuple[Tensor, Tensor]:
        """The generator's and the discriminator's losses from one
        evaluation of ``l`` (they are ``loss_weight * l`` and its negative:
        computing ``l`` once halves the loss's time and saved memory when
        both players step from one discriminator forward).

        Returns:
            tuple[Tensor, Tensor]: ``forward(real, fake, False)`` and
            ``forward(real, fake, True)``, sharing one graph.
        """
        distance = self.distance(real, fake)
        return self.loss_weight * distance, -self.loss_weight * distance

    def scores(self, real: MultiScaleFeatures,
               fake: MultiScaleFeatures) -> Dict[str, Tensor]:
        """No scores: the features are not per-sample real/fake scores.

        The L1 distance between them is the loss itself (logged as the
        loss), so there is nothing else to log.

        Args:
            real (Tensor | Sequence[Tensor]): features of real samples.
            fake (Tensor | Sequence[Tensor]): features of fake samples.

        Returns:
            dict[str, Tensor]: Always empty.
        """
        return dict()

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'
