"""The adversarial samples for any of MMDetection's RoI heads: two mixins
that override a head's smallest training methods (``bbox_loss``,
``mask_loss``) with ``super()`` and add what the discriminators judge."""
import contextlib
import contextvars
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList, OptConfigType
from torch import Tensor, nn

from mmdet_gan.utils.profiling import (ADV_BOX_INPUTS, ADV_MASK_INPUTS,
                                       MASK_TARGETS, POOL_BOX, POOL_MASK,
                                       profile_range)
from .adversarial_samples import (AdversarialPair, AdversarialSamples,
                                  MaskedFeaturesPair, decode_positive_boxes,
                                  pool_real_fake, resize_masks)

#: ``(head, samples, deferred)`` while a head's training forward collects
#: adversarial samples (:meth:`AdversarialHeadMixin.collecting_adv_samples`),
#: else None; ``deferred`` is the list of the calls that make samples once
#: the head's losses are done. The samples travel here, scoped to the
#: ``with`` block and to the calling thread, not as state of the head nor in
#: the loss dict.
_COLLECTING: contextvars.ContextVar = contextvars.ContextVar(
    'mmdet_gan_adversarial_samples', default=None)


@contextlib.contextmanager
def recording_mask_targets(mask_head: nn.Module) -> Iterator[List[Tensor]]:
    """Record what ``mask_head.get_targets`` returns during the block.

    ``StandardRoIHead.mask_loss`` (and the heads built on it: Mask Scoring
    R-CNN's, PointRend's) compute the mask targets inside
    ``mask_head.loss_and_target`` and return only the loss; the targets
    are the real masks of the mask discriminator, and rasterising them
    again (CPU polygon rasterisation, the expensive part on COCO) would
    double their cost. The head's own ``get_targets`` runs unchanged (in a
    ``mask_targets`` profiler range); the instance attribute that wraps it
    is removed at the end of the block (an instance attribute that was
    there before, e.g. a test's patch, is put back).

    Yields:
        list[Tensor]: the targets of each call, (num_pos, S, S) each.
    """
    record: List[Tensor] = []
    get_targets = mask_head.get_targets
    missing = object()
    own = vars(mask_head).get('get_targets', missing)

    def recorded(*args, **kwargs):
        with profile_range(MASK_TARGETS):
            targets = get_targets(*args, **kwargs)
        record.append(targets)
        return targets

    mask_head.get_targets = recorded
    try:
        yield record
    finally:
        if own is missing:
            del mask_head.get_targets
        else:
            mask_head.get_targets = own


class AdversarialHeadMixin:
    """What the RoI heads of GAN detectors share: the discriminators'
    extractors, the choice of samples, and making the box and mask samples
    from a head's training outputs.

    The samples are collected during :meth:`collecting_adv_samples` (and
    :meth:`loss_and_adv_samples`) only: outside it, ``loss`` is the stock
    head's and nothing else is computed. Prediction is the stock head's,
    and the extractors have no parameters, so the state dict is a stock
    one.

    Args:
        adv_box_roi_extractor (dict, optional): RoI extractor of the box
            discriminator's inputs (Precise RoI Pooling, so the fake
            features stay differentiable w.r.t. the predicted box
            coordinates). ``None`` disables the box branch.
        adv_mask_roi_extractor (dict, optional): RoI extractor of the
            features the masks multiply. At an output size other than the
            mask head's (``train_cfg.rcnn.mask_size``) the predicted and
            target masks are resized to it (:func:`resize_masks`). ``None``
            disables the mask branch.
        num_adv_samples (int, optional): At most this many positives (drawn
            at random from the batch) feed each discriminator per head or
            stage; bounds the cost of the adversarial branch. ``None`` uses
            all positives.
        adv_exclude_gt_proposals (bool): Leave out of the adversarial
            samples the positives that are GT boxes added to the proposals
            (``train_cfg.rcnn.sampler.add_gt_as_proposals``): their box
            predictions start from the GT itself, so they are near-perfect
            fakes that a box discriminator cannot tell from the real ones.
            Defaults to False (the reference feeds every positive).
        adv_box_level (str): FPN level of each fake box with a single-level
            ``adv_box_roi_extractor`` (``RegistrySingleRoIExtractor``):
            ``'own'`` (default), the level its own scale maps to, or
            ``'gt'``, its GT box's level, so a predicted box and its GT box
            that straddle a level boundary are compared at one level (the
            multi-level max extractor pools every level anyway). On the
            demo and nuclei data every GT box maps to P2 (all are below
            112 px), so there the two are the same.
        **kwargs: Arguments of the stock RoI head.
    """

    def __init__(self,
                 *args,
                 adv_box_roi_extractor: OptConfigType = None,
                 adv_mask_roi_extractor: OptConfigType = None,
                 num_adv_samples: Optional[int] = None,
                 adv_exclude_gt_proposals: bool = False,
                 adv_box_level: str = 'own',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if adv_box_level not in ('own', 'gt'):
            raise ValueError(
                f"adv_box_level must be 'own' or 'gt', got {adv_box_level!r}")
        self.adv_box_level = adv_box_level
        if num_adv_samples is not None and num_adv_samples < 1:
            raise ValueError(
                f'num_adv_samples must be None (all positives) or >= 1, got '
                f'{num_adv_samples}')
        self.num_adv_samples = num_adv_samples
        self.adv_exclude_gt_proposals = adv_exclude_gt_proposals
        self.adv_box_roi_extractor = MODELS.build(
            adv_box_roi_extractor) if adv_box_roi_extractor else None
        self.adv_mask_roi_extractor = MODELS.build(
            adv_mask_roi_extractor) if adv_mask_roi_extractor else None
        if adv_box_level == 'gt' and self.adv_box_roi_extractor is not None \
                and not hasattr(self.adv_box_roi_extractor, 'map_roi_levels'):
            raise ValueError(
                "adv_box_level='gt' needs a single-level adv_box_roi_extractor"
                " (type='RegistrySingleRoIExtractor'); "
                f'{type(self.adv_box_roi_extractor).__name__} has no level '
                'mapping')
        if self.adv_mask_roi_extractor is not None and not self.with_mask:
            raise ValueError('adv_mask_roi_extractor needs a mask head: set '
                             'roi_head.mask_head or remove '
                             'adv_mask_roi_extractor')
        for name in ('adv_box_roi_extractor', 'adv_mask_roi_extractor'):
            extractor = getattr(self, name)
            if extractor is not None and any(True
                                             for _ in extractor.parameters()):
                raise ValueError(
                    f'{name} must have no learnable parameters (it pools '
                    'detached features for the discriminators and must not '
                    'change the generator state dict)')

    @property
    def with_adv_box(self) -> bool:
        """bool: whether the box discriminator's inputs are produced."""
        return self.adv_box_roi_extractor is not None

    @property
    def with_adv_mask(self) -> bool:
        """bool: whether the mask discriminator's inputs are produced."""
        return self.adv_mask_roi_extractor is not None

    # ------------------------------------------------------------------
    # the channel to the game
    # ------------------------------------------------------------------
    @contextlib.contextmanager
    def collecting_adv_samples(
            self, img_shapes: Sequence[tuple]) -> Iterator[AdversarialSamples]:
        """Collect the adversarial samples of the training forward passes
        run in the block.

        MMDetection's loss loops call ``bbox_loss`` / ``mask_loss`` with
        fixed signatures, so the samples object they fill reaches them
        through a context variable set for the block (the head stores
        nothing, and the detector's own ``loss``, e.g.
        ``TwoStageDetector.loss``, runs unchanged inside it).

        Args:
            img_shapes (list[tuple]): ``(h, w)`` of each image of the batch.

        Yields:
            AdversarialSamples: filled when the block ends (the box samples
            are pooled then: :meth:`add_box_samples`).
        """
        if _COLLECTING.get() is not None:
            raise RuntimeError('collecting_adv_samples does not nest')
        samples = AdversarialSamples([tuple(s[:2]) for s in img_shapes])
        deferred: List[Callable[[], None]] = []
        token = _COLLECTING.set((self, samples, deferred))
        try:
            yield samples
            for make_samples in deferred:
                make_samples()
        finally:
            _COLLECTING.reset(token)

    def loss_and_adv_samples(
            self, x: Tuple[Tensor], rpn_results_list: InstanceList,
            batch_data_samples: SampleList) -> Tuple[dict, AdversarialSamples]:
        """The stock head's losses and, as a separate value, the
        discriminators' samples of the same forward pass.

        Returns:
            tuple[dict, AdversarialSamples]: ``loss``'s dict (unchanged keys
            and values) and the samples.
        """
        with self.collecting_adv_samples([
                sample.metainfo['img_shape'] for sample in batch_data_samples
        ]) as samples:
            losses = self.loss(x, rpn_results_list, batch_data_samples)
        return losses, samples

    @property
    def _adv_samples(self) -> Optional[AdversarialSamples]:
        """The samples this head is collecting now, else None."""
        active = _COLLECTING.get()
        return active[1] if active is not None and active[0] is self \
            else None

    def _defer(self, make_samples: Callable[[], None]) -> None:
        """Run ``make_samples`` when the collecting block's losses are
        done, after the calls deferred before it."""
        _COLLECTING.get()[2].append(make_samples)

    @property
    def collecting(self) -> bool:
        """bool: whether a training forward is collecting samples now."""
        return self._adv_samples is not None

    # ------------------------------------------------------------------
    # making the samples
    # ------------------------------------------------------------------
    def _adv_sample_inds(self, sampling_results: List[SamplingResult],
                         device: torch.device) -> Tensor:
        """Indices of the positives that feed a discriminator: all of them,
        or without the GT boxes the sampler added as proposals
        (``adv_exclude_gt_proposals``), then at most ``num_adv_samples``
        drawn at random.

        Returns:
            Tensor: (num_samples, ) long indices into the batch's positives.
        """
        candidates = torch.arange(
            sum(res.pos_priors.size(0) for res in sampling_results),
            device=device)
        if self.adv_exclude_gt_proposals:
            is_gt = torch.cat([
                res.pos_is_gt.to(device=device, dtype=torch.bool)
                for res in sampling_results
            ])
            candidates = candidates[~is_gt]
        if self.num_adv_samples is None or \
                candidates.numel() <= self.num_adv_samples:
            return candidates
        order = torch.randperm(candidates.numel(), device=device)
        return candidates[order[:self.num_adv_samples]]

    def add_box_samples(self,
                        x: Tuple[Tensor],
                        sampling_results: List[SamplingResult],
                        bbox_pred: Tensor,
                        bbox_head: nn.Module,
                        weight: float = 1.,
                        stage: Optional[int] = None) -> None:
        """Real (GT) and fake (predicted) box features of the positives,
        added to the samples being collected.

        Both are pooled from the **detached** features with
        ``adv_box_roi_extractor``; the fake ones stay attached to
        ``bbox_pred`` through the box coordinates, the only path of the
        adversarial box gradient into the generator.

        The judged positives are drawn here (their draw keeps its place in
        the random stream), the boxes decoded and pooled when the head's
        losses are done: the mask loss that follows makes its targets from
        one full-image GT mask per positive (MMDetection's
        ``BitmapMasks.crop_and_resize``), the step's memory peak at COCO
        size, and the box samples are not alive then.

        Args:
            x (tuple[Tensor]): multi-level features, each (B, C, H, W).
            sampling_results (list[SamplingResult]): the head's samples.
            bbox_pred (Tensor): (num_rois, 4 * num_classes or 4) deltas.
            bbox_head (nn.Module): the box head that predicted them.
            weight (float): the pair's loss weight.
            stage (int, optional): the cascade stage.
        """
        keep = self._adv_sample_inds(sampling_results, bbox_pred.device)
        self._defer(lambda: self._add_box_samples(
            x, sampling_results, bbox_pred, bbox_head, keep, weight, stage))

    def _add_box_samples(self, x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         bbox_pred: Tensor, bbox_head: nn.Module, keep: Tensor,
                         weight: float, stage: Optional[int]) -> None:
        """:meth:`add_box_samples`'s decoding and pooling, of the positives
        ``keep`` ((num_samples, ) indices into the batch's positives)."""
        with profile_range(ADV_BOX_INPUTS):
            img_inds, pred_boxes, gt_boxes = decode_positive_boxes(
                bbox_head, sampling_results, bbox_pred,
                self._adv_samples.img_shapes)
            with profile_range(POOL_BOX):
                real, fake = pool_real_fake(
                    self.adv_box_roi_extractor,
                    x,
                    img_inds[keep],
                    gt_boxes[keep],
                    pred_boxes[keep],
                    fake_at_real_level=self.adv_box_level == 'gt')
        self._adv_samples.add('box', AdversarialPair(real, fake, weight,
                                                     stage))

    @staticmethod
    def judged_mask_targets(mask_results: dict, recorded: List[Tensor],
                            mask_head: nn.Module,
                            sampling_results: List[SamplingResult],
                            batch_gt_instances: InstanceList,
                            rcnn_train_cfg) -> Tensor:
        """The mask targets of the stock mask loss, for the real masks:
        those its results keep (cascades), else those it computed
        (``recorded`` by :func:`recording_mask_targets`), else, for a head
        whose loss did not ask for them, computed here.

        Returns:
            Tensor: (num_pos, S, S) targets.
        """
        targets = mask_results.get('mask_targets')
        if targets is not None:
            return targets
        if recorded:
            return recorded[0]
        with profile_range(MASK_TARGETS):
            return mask_head.get_targets(sampling_results, batch_gt_instances,
                                         rcnn_train_cfg)

    def add_mask_samples(self,
                         x: Tuple[Tensor],
                         sampling_results: List[SamplingResult],
                         mask_preds: Tensor,
                         mask_targets: Tensor,
                         class_agnostic: bool,
                         weight: float = 1.,
                         stage: Optional[int] = None) -> None:
        """Real (target) and fake (sigmoid prediction) masks of the
        positives, each multiplied with their detached RoI features (pooled
        with ``adv_mask_roi_extractor``), added to the samples being
        collected. The gradient reaches the mask head through the soft mask
        only.

        Args:
            x (tuple[Tensor]): multi-level features, each (B, C, H, W).
            sampling_results (list[SamplingResult]): the head's samples.
            mask_preds (Tensor): (num_pos, num_classes or 1, S, S) logits.
            mask_targets (Tensor): (num_pos, S, S) targets.
            class_agnostic (bool): whether ``mask_preds`` has one channel.
            weight (float): the pair's loss weight.
            stage (int, optional): the cascade stage.
        """
        with profile_range(ADV_MASK_INPUTS):
            num_pos = mask_preds.size(0)
            keep = self._adv_sample_inds(sampling_results, mask_preds.device)
            if class_agnostic:
                channel = mask_preds.new_zeros(num_pos, dtype=torch.long)
            else:
                channel = torch.cat(
                    [res.pos_gt_labels for res in sampling_results])
            fake_masks = mask_preds[keep, channel[keep]].sigmoid()
            real_masks = mask_targets[keep]
            pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
            extractor = self.adv_mask_roi_extractor
            with profile_range(POOL_MASK):
                feats = extractor(
                    tuple(lvl.detach() for lvl in x[:extractor.num_inputs]),
                    pos_rois[keep])
            # kept as factors: the products are made when the
            # discriminator runs (MaskedFeaturesPair)
            pair = MaskedFeaturesPair(
                feats=feats,
                real_masks=resize_masks(real_masks, feats.shape[-2:]),
                fake_masks=resize_masks(fake_masks, feats.shape[-2:]),
                weight=weight,
                stage=stage)
        self._adv_samples.add('mask', pair)


class AdversarialRoIHeadMixin(AdversarialHeadMixin):
    """Adversarial samples for single-stage RoI heads with
    ``StandardRoIHead``'s training methods: ``StandardRoIHead``,
    ``MaskScoringRoIHead``, ``PointRendRoIHead``.

    ``bbox_loss(x, sampling_results)`` adds the box samples from the
    returned ``bbox_pred``; ``mask_loss(x, sampling_results, bbox_feats,
    batch_gt_instances)`` adds the mask samples from the returned
    ``mask_preds`` and the targets its ``loss_and_target`` computed
    (recorded, not computed again: :func:`recording_mask_targets`).
    """

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """The stock ``bbox_loss``; while collecting, also the box
        samples."""
        bbox_results = super().bbox_loss(x, sampling_results)
        if self.collecting and self.with_adv_box:
            self.add_box_samples(x, sampling_results,
                                 bbox_results['bbox_pred'], self.bbox_head)
        return bbox_results

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  bbox_feats: Optional[Tensor],
                  batch_gt_instances: InstanceList) -> dict:
        """The stock ``mask_loss``; while collecting, also the mask
        samples. For PointRend the judged mask is the coarse head's (see
        :class:`AdversarialPointRendRoIHead`)."""
        if not (self.collecting and self.with_adv_mask):
            return super().mask_loss(x, sampling_results, bbox_feats,
                                     batch_gt_instances)
        with recording_mask_targets(self.mask_head) as record:
            mask_results = super().mask_loss(x, sampling_results, bbox_feats,
                                             batch_gt_instances)
        targets = self.judged_mask_targets(mask_results, record,
                                           self.mask_head, sampling_results,
                                           batch_gt_instances, self.train_cfg)
        self.add_mask_samples(x, sampling_results, mask_results['mask_preds'],
                              targets, self.mask_head.class_agnostic)
        return mask_results


class AdversarialCascadeRoIHeadMixin(AdversarialHeadMixin):
    """Adversarial samples for cascade RoI heads (``CascadeRoIHead``,
    ``HybridTaskCascadeRoIHead``): their ``bbox_loss(stage, x,
    sampling_results, ...)`` and ``mask_loss(stage, x, sampling_results,
    batch_gt_instances, ...)`` add the samples of the stages in
    ``adv_stages``, each pair weighted by its stage's ``adv_stage_weights``
    (the stage loss weights for ``'all'`` and lists, 1 for ``'last'``).

    Args:
        adv_stages (str | list[int]): Stages whose predictions the
            discriminators judge: ``'last'`` (default: the boxes and masks
            the detector outputs), ``'all'``, or a list of stage indices.
        adv_stage_weights (list[float], optional): Weight of each stage's
            adversarial losses (one per stage of the head). Defaults to the
            head's ``stage_loss_weights`` for ``'all'`` and lists, and 1
            for ``'last'``.
        **kwargs: Arguments of :class:`AdversarialHeadMixin` and of the
            stock head.
    """

    def __init__(self,
                 *args,
                 adv_stages: Union[str, Sequence[int]] = 'last',
                 adv_stage_weights: Optional[Sequence[float]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        num_stages = self.num_stages
        if adv_stages == 'last':
            stages = [num_stages - 1]
        elif adv_stages == 'all':
            stages = list(range(num_stages))
        elif isinstance(adv_stages, (list, tuple)) and adv_stages and all(
                isinstance(s, int) and 0 <= s < num_stages
                for s in adv_stages):
            stages = sorted(set(adv_stages))
        else:
            raise ValueError(
                f"adv_stages must be 'last', 'all' or a list of stage "
                f'indices in [0, {num_stages}), got {adv_stages!r}')
        if adv_stage_weights is None:
            adv_stage_weights = [1.] * num_stages if adv_stages == 'last' \
                else list(self.stage_loss_weights)
        if len(adv_stage_weights) != num_stages:
            raise ValueError(f'adv_stage_weights needs one weight per stage '
                             f'({num_stages}), got {list(adv_stage_weights)}')
        self.adv_stages = stages
        self.adv_stage_weights = [float(w) for w in adv_stage_weights]

    def bbox_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], **kwargs) -> dict:
        """The stock ``bbox_loss`` of ``stage``; while collecting, also the
        stage's box samples (if it is in ``adv_stages``)."""
        bbox_results = super().bbox_loss(stage, x, sampling_results, **kwargs)
        if self.collecting and self.with_adv_box and \
                stage in self.adv_stages:
            self.add_box_samples(x, sampling_results,
                                 bbox_results['bbox_pred'],
                                 self.bbox_head[stage],
                                 self.adv_stage_weights[stage], stage)
        return bbox_results

    def mask_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: InstanceList, **kwargs) -> dict:
        """The stock ``mask_loss`` of ``stage`` (its results keep the mask
        targets); while collecting, also the stage's mask samples."""
        mask_results = super().mask_loss(stage, x, sampling_results,
                                         batch_gt_instances, **kwargs)
        if self.collecting and self.with_adv_mask and \
                stage in self.adv_stages:
            mask_head = self.mask_head[stage]
            targets = self.judged_mask_targets(mask_results, [], mask_head,
                                               sampling_results,
                                               batch_gt_instances,
                                               self.train_cfg[stage])
            self.add_mask_samples(x, sampling_results,
                                  mask_results['mask_preds'], targets,
                                  mask_head.class_agnostic,
                                  self.adv_stage_weights[stage], stage)
        return mask_results
