"""What the discriminators judge, and how an RoI head makes it: the real and
fake samples of the box and mask branches, gathered in one training forward
pass and handed to the game as a value of their own (not in the loss
dict)."""
import contextlib
import weakref
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.models.task_modules.samplers import SamplingResult
from torch import Tensor, nn

#: The two branches of the game, in the order their losses are logged.
BRANCHES = ('box', 'mask')


@dataclass
class AdversarialPair:
    """Real and fake samples of one branch from one head (one stage of a
    cascade).

    Attributes:
        real (Tensor): (n, C, S, S) samples of the ground truth.
        fake (Tensor): (n, C, S, S) samples of the generator's predictions,
            attached to its graph.
        weight (float): Weight of this pair's adversarial losses (a
            cascade's stage loss weight; 1 otherwise).
        stage (int, optional): The cascade stage that made it (None for a
            single-stage head).
    """
    real: Tensor
    fake: Tensor
    weight: float = 1.
    stage: Optional[int] = None

    @property
    def num_samples(self) -> int:
        """int: Samples of each side (``n``)."""
        return self.fake.size(0)

    def samples(self, detach: bool = False) -> Tuple[Tensor, Tensor]:
        """``(real, fake)``, cut from the generator's graph if ``detach``."""
        if detach:
            return self.real.detach(), self.fake.detach()
        return self.real, self.fake

    def saved_as_factors(self) -> contextlib.AbstractContextManager:
        """Nothing to factor: a no-op context (see
        :meth:`MaskedFeaturesPair.saved_as_factors`)."""
        return contextlib.nullcontext()


class _Product:
    """A product of features and masks that autograd saved as its factors
    (:meth:`MaskedFeaturesPair.saved_as_factors`)."""

    def __init__(self, feats: Tensor, masks: Tensor) -> None:
        self.feats, self.masks = feats, masks

    def make(self) -> Tensor:
        return _masked(self.feats, self.masks)


def _masked(feats: Tensor, masks: Tensor) -> Tensor:
    """(n, C, S, S) ``feats`` times (n, S, S) ``masks``, in the features'
    dtype (under autocast the masks may be float16/bfloat16 and the pooled
    features float32)."""
    return feats * masks.to(feats.dtype)[:, None]


@dataclass
class MaskedFeaturesPair:
    """The mask branch's pair of one head (one stage of a cascade): RoI
    features times the real masks and times the fake ones, kept as their
    factors.

    ``real`` and ``fake`` (and :meth:`samples`) make the products when the
    discriminator asks for them; a product made inside
    :meth:`saved_as_factors` that autograd saves (the discriminator's first
    conv keeps its input for its weight gradient) is saved as the features
    and the masks and made again when the backward pass needs it. So the
    features are kept once, not three times (0.8 MB per sample at 256 x 28
    x 28 in float32), for one elementwise product more per backward pass.
    A conv that saves something else keeps it as it is: with
    ``gan_cfg.real_fake_batch='joint'`` the concatenated batch, under
    autocast the float16/bfloat16 copy of the products (the values and the
    gradients are the same, only the memory is not saved).

    Attributes:
        feats (Tensor): (n, C, S, S) RoI features, detached.
        real_masks (Tensor): (n, S, S) ground-truth masks.
        fake_masks (Tensor): (n, S, S) predicted soft masks, attached to
            the generator's graph.
        weight (float): Weight of this pair's adversarial losses.
        stage (int, optional): The cascade stage that made it.
    """
    feats: Tensor
    real_masks: Tensor
    fake_masks: Tensor
    weight: float = 1.
    stage: Optional[int] = None
    _made: Dict[int, tuple] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def real(self) -> Tensor:
        """Tensor: (n, C, S, S) features times the real masks."""
        return self._product(self.real_masks)

    @property
    def fake(self) -> Tensor:
        """Tensor: (n, C, S, S) features times the fake masks, attached."""
        return self._product(self.fake_masks)

    @property
    def num_samples(self) -> int:
        """int: Samples of each side (``n``)."""
        return self.feats.size(0)

    def samples(self, detach: bool = False) -> Tuple[Tensor, Tensor]:
        """``(real, fake)``, the fake masks cut from the generator's graph
        if ``detach``."""
        if detach:
            feats, fake_masks = self.feats.detach(), self.fake_masks.detach()
            return (_masked(feats,
                            self.real_masks), _masked(feats, fake_masks))
        return self.real, self.fake

    def _product(self, masks: Tensor) -> Tensor:
        product = _masked(self.feats, masks)
        self._made = {
            key: entry
            for key, entry in self._made.items() if entry[0]() is not None
        }
        self._made[id(product)] = (weakref.ref(product), masks)
        return product

    @contextlib.contextmanager
    def saved_as_factors(self) -> Iterator[None]:
        """Within the block, autograd saves the products this pair made as
        their factors (``torch.autograd.graph.saved_tensors_hooks``) and
        makes them again when the backward pass unpacks them; every other
        saved tensor is kept as it is."""

        def pack(tensor: Tensor) -> Union[Tensor, _Product]:
            # neither return value may hold the saved tensor itself: an op
            # that saves its own output would make a reference cycle
            # (output -> its node -> saved output) that Python's garbage
            # collector cannot see, leaking every node the backward passes
            # do not run (torch's saved_tensors_hooks documentation)
            entry = self._made.get(id(tensor))
            if entry is not None and entry[0]() is tensor:
                return _Product(self.feats.detach(), entry[1].detach())
            return tensor.detach()

        def unpack(saved: Union[Tensor, _Product]) -> Tensor:
            return saved.make() if isinstance(saved, _Product) else saved

        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            yield


#: A pair of samples of either branch.
Pair = Union[AdversarialPair, MaskedFeaturesPair]


@dataclass
class AdversarialSamples:
    """The discriminators' inputs of one training forward pass.

    Made by :meth:`AdversarialRoIHeadMixin.collecting_adv_samples` with the
    batch's image shapes, filled by the RoI head's ``bbox_loss`` /
    ``mask_loss`` and returned next to the losses.

    Attributes:
        img_shapes (list[tuple]): ``(h, w)`` of each image of the batch (the
            predicted boxes are clipped to their image).
        pairs (dict[str, list[Pair]]): per branch (``'box'``, ``'mask'``),
            one pair per head or cascade stage that fed it.
    """
    img_shapes: List[tuple]
    pairs: Dict[str, List['Pair']] = field(default_factory=dict)

    def add(self, branch: str, pair: 'Pair') -> None:
        """Append ``pair`` to ``branch``'s samples."""
        if branch not in BRANCHES:
            raise ValueError(f'unknown branch {branch!r}: use {BRANCHES}')
        self.pairs.setdefault(branch, []).append(pair)

    def __getitem__(self, branch: str) -> List['Pair']:
        return self.pairs.get(branch, [])

    def __contains__(self, branch: str) -> bool:
        return bool(self.pairs.get(branch))

    def branches(self) -> Iterator[str]:
        """The branches with samples, in :data:`BRANCHES` order."""
        return (b for b in BRANCHES if b in self)

    def release(self) -> None:
        """Drop every pair (and so this object's references to the
        samples): what a discriminator forward saved stays in its graph,
        and the rest is freed as soon as nothing else refers to it."""
        self.pairs.clear()

    def only(self, *branches: str) -> 'AdversarialSamples':
        """The same samples restricted to ``branches``."""
        return AdversarialSamples(
            self.img_shapes, {b: list(self[b])
                              for b in branches if b in self})


def resize_masks(masks: Tensor, size: Tuple[int, int]) -> Tensor:
    """Masks at the size the mask discriminator judges.

    The mask head predicts (and its targets are) ``mask_size`` x
    ``mask_size`` (28; 7 for PointRend's coarse head); an
    ``adv_mask_roi_extractor`` that pools another size gets the masks
    resampled to it, bilinearly (the soft predictions stay differentiable;
    the binary targets become the same kind of soft masks, so neither side
    is told apart by its resampling).

    Args:
        masks (Tensor): (n, H, W) soft or binary masks.
        size (tuple[int, int]): ``(h, w)`` of the pooled RoI features.

    Returns:
        Tensor: (n, h, w) masks, ``masks`` itself when the sizes agree.
    """
    size = tuple(size)
    if tuple(masks.shape[-2:]) == size:
        return masks
    if masks.numel() == 0:
        empty = masks.new_zeros(masks.size(0), *size)
        # still attached to the predictions' graph (a zero gradient), so the
        # generator's adversarial loss is too, as with any other sample size
        return empty + masks.sum() * 0 if masks.requires_grad else empty
    return F.interpolate(
        masks[:, None].float(),
        size=size,
        mode='bilinear',
        align_corners=False)[:, 0].to(
            masks.dtype if masks.is_floating_point() else torch.float32)


def positive_rows(sampling_results: Sequence[SamplingResult],
                  device: torch.device) -> Tensor:
    """Rows of the positives in a batch's RoIs (``bbox2roi`` of the
    priors: each image's positives come first, then its negatives).

    Returns:
        Tensor: (num_pos, ) long indices.
    """
    rows, start = [], 0
    for res in sampling_results:
        num_pos = res.pos_priors.size(0)
        rows.append(torch.arange(start, start + num_pos, device=device))
        start += res.priors.size(0)
    return torch.cat(rows)


def decode_positive_boxes(
        bbox_head: nn.Module, sampling_results: Sequence[SamplingResult],
        bbox_pred: Tensor,
        img_shapes: Sequence[tuple]) -> Tuple[Tensor, Tensor, Tensor]:
    """Decoded box predictions of the sampled positives.

    Args:
        bbox_head (nn.Module): the box head that predicted ``bbox_pred``
            (its ``bbox_coder``, ``num_classes`` and ``reg_class_agnostic``).
        sampling_results (list[SamplingResult]): per-image samples; the
            positives come first within each image, as ``bbox_pred``'s
            rows do.
        bbox_pred (Tensor): (num_rois, 4 * num_classes) deltas, or
            (num_rois, 4) with ``reg_class_agnostic``.
        img_shapes (list[tuple]): ``(h, w)`` of each image.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``img_inds`` (num_pos, ) long,
        ``pred_boxes`` (num_pos, 4) as (x1, y1, x2, y2) at the matched GT
        class, clipped to the image, attached to ``bbox_pred``, and
        ``gt_boxes`` (num_pos, 4), their matched GT boxes. The boxes are
        decoded in float32 (float64 if ``bbox_pred`` is) also when
        ``bbox_pred`` is float16/bfloat16 (autocast).
    """
    device = bbox_pred.device
    # float16/bfloat16 under autocast: decode in float32 (the cast keeps
    # the gradient path to bbox_pred)
    dtype = torch.promote_types(bbox_pred.dtype, torch.float32)
    img_inds, max_xy = [], []
    for i, res in enumerate(sampling_results):
        num_pos = res.pos_priors.size(0)
        img_inds.append(torch.full((num_pos, ), i, device=device))
        height, width = img_shapes[i][:2]
        max_xy.append(
            bbox_pred.new_tensor([width, height],
                                 dtype=dtype).expand(num_pos, 2))
    rows = positive_rows(sampling_results, device)
    labels = torch.cat([res.pos_gt_labels for res in sampling_results])
    deltas = bbox_pred[rows].to(dtype)
    if not bbox_head.reg_class_agnostic:
        deltas = deltas.view(rows.numel(), bbox_head.num_classes,
                             4)[torch.arange(rows.numel()), labels]
    priors = torch.cat([res.pos_priors for res in sampling_results]).to(dtype)
    pred_boxes = bbox_head.bbox_coder.decode(priors, deltas)
    max_xy = torch.cat(max_xy).repeat(1, 2)
    pred_boxes = torch.minimum(pred_boxes.clamp(min=0), max_xy)
    gt_boxes = torch.cat([res.pos_gt_bboxes for res in sampling_results])
    return torch.cat(img_inds), pred_boxes, gt_boxes


def pool_distinct_rois(extractor: nn.Module, feats: Tuple[Tensor],
                       rois: Tensor) -> Tensor:
    """Pool RoIs without gradient, each distinct row once.

    Args:
        extractor: an RoI extractor.
        feats (tuple[Tensor]): multi-level features, each (B, C, H, W).
        rois (Tensor): (n, 5) RoIs as (img_ind, x1, y1, x2, y2); rows may
            repeat.

    Returns:
        Tensor: (n, C, S, S) features, row ``i`` that of ``rois[i]``.
    """
    with torch.no_grad():
        if rois.size(0) == 0:
            return extractor(feats, rois)
        distinct, inverse = torch.unique(rois, dim=0, return_inverse=True)
        return extractor(feats, distinct)[inverse]


def pool_real_fake(extractor: nn.Module,
                   x: Tuple[Tensor],
                   img_inds: Tensor,
                   real_boxes: Tensor,
                   fake_boxes: Tensor,
                   fake_at_real_level: bool = False) -> Tuple[Tensor, Tensor]:
    """Pool real and fake boxes from detached features.

    The real (GT) boxes need no gradient: they are pooled under
    ``torch.no_grad()``, so no backward state is kept for them (measured
    12% of a GAN step's CPU time on the demo config), and each distinct
    (image, GT box) is pooled once: every positive matched to a GT box
    judges the same real features (on COCO-size images about 4 positives
    per GT box; the pooled values are the same as pooling every row).

    Args:
        extractor: an RoI extractor.
        x (tuple[Tensor]): multi-level features, each (B, C, H, W).
        img_inds (Tensor): (n, ) image index of each box.
        real_boxes (Tensor): (n, 4) boxes as (x1, y1, x2, y2).
        fake_boxes (Tensor): (n, 4) boxes as (x1, y1, x2, y2); both are
            pooled in float32 (float64 if either is float64).
        fake_at_real_level (bool): Pool each fake box from the level its
            real box maps to (an extractor with ``map_roi_levels`` and a
            ``target_lvls`` argument, e.g. ``RegistrySingleRoIExtractor``),
            so a pair that straddles a level boundary is compared at one
            level.

    Returns:
        tuple[Tensor, Tensor]: real and fake features, each (n, C, S, S).
    """
    feats = tuple(lvl.detach() for lvl in x[:extractor.num_inputs])
    # float32 at least: the coordinates are the box branch's signal
    dtype = torch.promote_types(
        torch.promote_types(real_boxes.dtype, fake_boxes.dtype), torch.float32)
    inds = img_inds.to(dtype)[:, None]
    real_rois = torch.cat([inds, real_boxes.to(dtype)], dim=1)
    fake_rois = torch.cat([inds, fake_boxes.to(dtype)], dim=1)
    fake_kwargs = {}
    if fake_at_real_level:
        fake_kwargs = dict(
            target_lvls=extractor.map_roi_levels(real_rois, len(feats)))
    real = pool_distinct_rois(extractor, feats, real_rois)
    fake = extractor(feats, fake_rois, **fake_kwargs)
    if fake_rois.size(0) == 0:
        # Extractors return an empty tensor cut from the graph for no
        # RoIs (mmdet's SingleRoIExtractor does); keep the generator's
        # adversarial loss attached to the box predictions (a zero
        # gradient) so every process has the same graph.
        fake = fake + fake_rois.sum() * 0.
    return real, fake
