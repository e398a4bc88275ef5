"""RoI head of GAN Mask R-CNN: a stock ``StandardRoIHead`` that also hands
out what the box and mask discriminators judge."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList, OptConfigType
from torch import Tensor

from mmdet_gan.utils.profiling import (ADV_BOX_INPUTS, ADV_MASK_INPUTS,
                                       MASK_TARGETS, POOL_BOX, POOL_MASK,
                                       profile_range)

#: Prefix of the entries of the loss dict that carry discriminator inputs
#: (``adv_inputs_box``, ``adv_inputs_mask``) instead of losses. The detector
#: pops them before ``parse_losses``.
ADV_INPUTS_PREFIX = 'adv_inputs_'


def resize_masks(masks: Tensor, size: Tuple[int, int]) -> Tensor:
    """Masks at the size the mask discriminator judges.

    The mask head predicts (and its targets are) ``mask_size`` x
    ``mask_size`` (28); an ``adv_mask_roi_extractor`` that pools another size
    gets the masks resampled to it, bilinearly (the soft predictions stay
    differentiable; the binary targets become the same kind of soft
    masks, so neither side is told apart by its resampling).

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
        return masks.new_zeros(masks.size(0), *size)
    return F.interpolate(
        masks[:, None].float(),
        size=size,
        mode='bilinear',
        align_corners=False)[:, 0].to(
            masks.dtype if masks.is_floating_point() else torch.float32)


@MODELS.register_module()
class AdversarialRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose training pass also returns the real and
    fake samples of GAN Mask R-CNN's two discriminators.

    For the sampled positives of each image it gathers:

    - box branch: the box head's decoded prediction (at the matched GT
      class, clipped to the image) as *fake* and the matched GT box as
      *real*, both pooled from the **detached** FPN features with
      ``adv_box_roi_extractor`` (Precise RoI Pooling, so the fake features
      stay differentiable w.r.t. the predicted box coordinates: that is the
      only path of the adversarial box gradient into the generator);
    - mask branch: the sigmoid mask prediction (at the GT class) as *fake*
      and the mask target as *real*, each multiplied element-wise with the
      positives' RoI features pooled from the detached FPN features with
      ``adv_mask_roi_extractor`` (the gradient reaches the mask head through
      the soft mask only).

    They leave :meth:`loss` as ``adv_inputs_box`` / ``adv_inputs_mask``
    entries, each ``dict(real=Tensor, fake=Tensor)`` of shape
    ``(num_samples, C, S, S)``. Prediction is exactly ``StandardRoIHead``'s,
    and the extractors have no parameters, so the state dict is a stock one.

    Args:
        adv_box_roi_extractor (dict, optional): RoI extractor for the box
            discriminator's inputs. ``None`` disables the box branch.
        adv_mask_roi_extractor (dict, optional): RoI extractor for the mask
            discriminator's inputs. At an output size other than the mask
            head's (``train_cfg.rcnn.mask_size``, 28) the predicted and
            target masks are resized to it (:func:`resize_masks`). ``None``
            disables the mask branch.
        num_adv_samples (int, optional): At most this many positives (drawn
            at random from the batch) feed each discriminator; bounds the
            cost of the adversarial branch. ``None`` uses all positives.
        adv_exclude_gt_proposals (bool): Leave out of the adversarial
            samples the positives that are GT boxes added to the proposals
            (``train_cfg.rcnn.sampler.add_gt_as_proposals``): their box
            predictions start from the GT itself, so they are near-perfect
            fakes that a box discriminator cannot tell from the real ones.
            Defaults to False (the reference feeds every positive).
        **kwargs: Arguments of :class:`StandardRoIHead`.
    """

    def __init__(self,
                 adv_box_roi_extractor: OptConfigType = None,
                 adv_mask_roi_extractor: OptConfigType = None,
                 num_adv_samples: Optional[int] = None,
                 adv_exclude_gt_proposals: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if num_adv_samples is not None and num_adv_samples < 1:
            raise ValueError(
                f'num_adv_samples must be None (all positives) or >= 1, got '
                f'{num_adv_samples}')
        self.num_adv_samples = num_adv_samples
        self.adv_exclude_gt_proposals = adv_exclude_gt_proposals
        self._batch_img_shapes: Optional[list] = None
        self.adv_box_roi_extractor = MODELS.build(
            adv_box_roi_extractor) if adv_box_roi_extractor else None
        self.adv_mask_roi_extractor = MODELS.build(
            adv_mask_roi_extractor) if adv_mask_roi_extractor else None
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

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """Stock RoI-head losses plus the discriminators' inputs
        (``adv_inputs_box`` / ``adv_inputs_mask``, see the class docstring).

        The image shapes are kept for the duration of the call so that the
        predicted boxes can be clipped to their image.
        """
        self._batch_img_shapes = [
            sample.metainfo['img_shape'] for sample in batch_data_samples
        ]
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._batch_img_shapes = None

    @staticmethod
    def _pool_real_fake(extractor, x: Tuple[Tensor], img_inds: Tensor,
                        real_boxes: Tensor,
                        fake_boxes: Tensor) -> Tuple[Tensor, Tensor]:
        """Pool real and fake boxes from detached features.

        The real (GT) boxes need no gradient: they are pooled under
        ``torch.no_grad()``, so no backward state is kept for them (measured
        12% of a GAN step's CPU time on the demo config).

        Args:
            extractor: an RoI extractor.
            x (tuple[Tensor]): multi-level features, each (B, C, H, W).
            img_inds (Tensor): (n, ) image index of each box.
            real_boxes (Tensor): (n, 4) boxes as (x1, y1, x2, y2).
            fake_boxes (Tensor): (n, 4) boxes as (x1, y1, x2, y2); both are
                pooled in float32 (float64 if either is float64).

        Returns:
            tuple[Tensor, Tensor]: real and fake features, each (n, C, S, S).
        """
        feats = tuple(lvl.detach() for lvl in x[:extractor.num_inputs])
        # float32 at least: the coordinates are the box branch's signal
        dtype = torch.promote_types(
            torch.promote_types(real_boxes.dtype, fake_boxes.dtype),
            torch.float32)
        inds = img_inds.to(dtype)[:, None]
        with torch.no_grad():
            real = extractor(feats,
                             torch.cat([inds, real_boxes.to(dtype)], dim=1))
        fake_rois = torch.cat([inds, fake_boxes.to(dtype)], dim=1)
        fake = extractor(feats, fake_rois)
        if fake_rois.size(0) == 0:
            # Extractors return an empty tensor cut from the graph for no
            # RoIs (mmdet's SingleRoIExtractor does); keep the generator's
            # adversarial loss attached to the box predictions (a zero
            # gradient) so every process has the same graph.
            fake = fake + fake_rois.sum() * 0.
        return real, fake

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Stock bbox loss, plus the box discriminator's inputs.

        Returns:
            dict: the keys of :meth:`StandardRoIHead.bbox_loss`; with the box
            branch enabled ``loss_bbox`` also holds ``adv_inputs_box``:
            ``dict(real=Tensor, fake=Tensor)``, each (n, C, S, S), the fake
            one attached to ``bbox_pred`` through the box coordinates.
        """
        bbox_results = super().bbox_loss(x, sampling_results)
        if self.with_adv_box:
            bbox_results['loss_bbox'][ADV_INPUTS_PREFIX + 'box'] = \
                self.box_adversarial_inputs(x, sampling_results,
                                            bbox_results['bbox_pred'])
        return bbox_results

    def decode_positive_boxes(
            self, sampling_results: List[SamplingResult],
            bbox_pred: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Decoded box predictions of the sampled positives.

        Args:
            sampling_results (list[SamplingResult]): per-image samples; the
                positives come first within each image, as ``bbox_pred``'s
                rows do.
            bbox_pred (Tensor): (num_rois, 4 * num_classes) deltas, or
                (num_rois, 4) with ``reg_class_agnostic``.

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
        rows, img_inds, max_xy = [], [], []
        start = 0
        for i, res in enumerate(sampling_results):
            num_pos = res.pos_priors.size(0)
            rows.append(torch.arange(start, start + num_pos, device=device))
            img_inds.append(torch.full((num_pos, ), i, device=device))
            height, width = self._batch_img_shapes[i][:2]
            max_xy.append(
                bbox_pred.new_tensor([width, height],
                                     dtype=dtype).expand(num_pos, 2))
            start += res.priors.size(0)
        rows = torch.cat(rows)
        labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        deltas = bbox_pred[rows].to(dtype)
        if not self.bbox_head.reg_class_agnostic:
            deltas = deltas.view(rows.numel(), self.bbox_head.num_classes,
                                 4)[torch.arange(rows.numel()), labels]
        priors = torch.cat([res.pos_priors
                            for res in sampling_results]).to(dtype)
        pred_boxes = self.bbox_head.bbox_coder.decode(priors, deltas)
        max_xy = torch.cat(max_xy).repeat(1, 2)
        pred_boxes = torch.minimum(pred_boxes.clamp(min=0), max_xy)
        gt_boxes = torch.cat([res.pos_gt_bboxes for res in sampling_results])
        return torch.cat(img_inds), pred_boxes, gt_boxes

    def box_adversarial_inputs(self, x: Tuple[Tensor],
                               sampling_results: List[SamplingResult],
                               bbox_pred: Tensor) -> dict:
        """Real (GT) and fake (predicted) box features for the box
        discriminator.

        Returns:
            dict: ``real`` and ``fake``, each (n, C, S, S).
        """
        with profile_range(ADV_BOX_INPUTS):
            img_inds, pred_boxes, gt_boxes = self.decode_positive_boxes(
                sampling_results, bbox_pred)
            keep = self._adv_sample_inds(sampling_results, pred_boxes.device)
            with profile_range(POOL_BOX):
                real, fake = self._pool_real_fake(self.adv_box_roi_extractor,
                                                  x, img_inds[keep],
                                                  gt_boxes[keep],
                                                  pred_boxes[keep])
        return dict(real=real, fake=fake)

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """Stock mask loss, plus the mask discriminator's inputs.

        Returns:
            dict: the keys of :meth:`StandardRoIHead.mask_loss`; with the
            mask branch enabled ``loss_mask`` also holds ``adv_inputs_mask``:
            ``dict(real=Tensor, fake=Tensor)``, each (n, C, S, S).
        """
        mask_results = super().mask_loss(x, sampling_results, bbox_feats,
                                         batch_gt_instances)
        if self.with_adv_mask:
            mask_results['loss_mask'][ADV_INPUTS_PREFIX + 'mask'] = \
                self.mask_adversarial_inputs(x, sampling_results,
                                             mask_results['mask_preds'],
                                             batch_gt_instances)
        return mask_results

    def mask_adversarial_inputs(self, x: Tuple[Tensor],
                                sampling_results: List[SamplingResult],
                                mask_preds: Tensor,
                                batch_gt_instances: InstanceList) -> dict:
        """Real (target) and fake (sigmoid prediction) masks, each multiplied
        with the positives' detached RoI features.

        Args:
            mask_preds (Tensor): (num_pos, num_classes or 1, S, S) logits.

        Returns:
            dict: ``real`` and ``fake``, each (n, C, S, S).
        """
        with profile_range(ADV_MASK_INPUTS):
            with profile_range(MASK_TARGETS):
                mask_targets = self.mask_head.get_targets(
                    sampling_results, batch_gt_instances, self.train_cfg)
            num_pos = mask_preds.size(0)
            keep = self._adv_sample_inds(sampling_results, mask_preds.device)
            if self.mask_head.class_agnostic:
                channel = mask_preds.new_zeros(num_pos, dtype=torch.long)
            else:
                channel = torch.cat(
                    [res.pos_gt_labels for res in sampling_results])
            fake_masks = mask_preds[keep, channel[keep]].sigmoid()
            real_masks = mask_targets[keep]
            pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
            with profile_range(POOL_MASK):
                feats = self.adv_mask_roi_extractor(
                    tuple(
                        lvl.detach()
                        for lvl in x[:self.adv_mask_roi_extractor.num_inputs]),
                    pos_rois[keep])
            real_masks = resize_masks(real_masks, feats.shape[-2:])
            fake_masks = resize_masks(fake_masks, feats.shape[-2:])
            # one dtype for the products (under autocast the masks may be
            # float16/bfloat16 and the pooled features float32)
            return dict(
                real=feats * real_masks.to(feats.dtype)[:, None],
                fake=feats * fake_masks.to(feats.dtype)[:, None])
