import pytest
import torch

from mmdet_gan.models.roi_heads.adversarial_samples import resize_masks


def test_resize_masks_to_the_discriminator_size():
    """28 -> 14: bilinear at half resolution averages pixel pairs, so a
    block mask stays a block mask (hand-computed), and the soft prediction
    keeps its gradient."""
    target = torch.zeros(2, 28, 28)
    target[0, :, :14] = 1  # left half
    target[1, 4:12, 8:20] = 1
    out = resize_masks(target, (14, 14))
    expected = torch.zeros(2, 14, 14)
    expected[0, :, :7] = 1
    expected[1, 2:6, 4:10] = 1
    torch.testing.assert_close(out, expected)

    pred = torch.rand(3, 28, 28, requires_grad=True)
    resized = resize_masks(pred, (14, 14))
    resized.sum().backward()
    torch.testing.assert_close(pred.grad, torch.full_like(pred, 0.25))
    # same size: unchanged; no masks: empty at the new size
    assert resize_masks(pred, (28, 28)) is pred
    assert resize_masks(torch.zeros(0, 28, 28), (14, 14)).shape == (0, 14, 14)
    # ... still attached to an empty prediction's graph (PointRend's 7x7
    # coarse masks on a batch without positives)
    empty = torch.zeros(0, 7, 7, requires_grad=True)
    assert resize_masks(empty, (28, 28)).requires_grad


def two_player_demo_head_and_inputs():
    """The RoI head of the two-player demo model, a preprocessed batch of 2
    images (3 and 2 objects), its features and the RPN's proposals."""
    import os.path as osp

    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config
    root = osp.dirname(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    cfg = Config.fromfile(
        osp.join(root, 'configs', 'gan_mask_rcnn',
                 'gan_mask_rcnn_r18_fpn_box-d_demo.py'))
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(
        demo_mm_inputs(
            2, [[3, 128, 128]] * 2,
            num_items=[3, 2],
            num_classes=4,
            with_mask=True), True)
    x = model.extract_feat(data['inputs'])
    proposals = model.rpn_head.predict(x, data['data_samples'])
    return model.roi_head, data, x, proposals


def test_samples_are_returned_not_stored_on_the_head():
    """``loss_and_adv_samples`` returns the stock losses and the samples as
    two values; the head's attributes are the same before, during and after
    the call, and a plain ``loss`` collects nothing."""
    from mmdet_gan.models.roi_heads import AdversarialSamples
    head, data, x, proposals = two_player_demo_head_and_inputs()
    seen = []
    add_box_samples = head.add_box_samples

    def spy(*args, **kwargs):
        seen.append(dict(vars(head)))
        return add_box_samples(*args, **kwargs)

    head.add_box_samples = spy
    before = dict(vars(head))
    losses, samples = head.loss_and_adv_samples(x,
                                                [p.clone() for p in proposals],
                                                data['data_samples'])
    assert len(seen) == 1 and seen[0].keys() == before.keys()
    assert all(seen[0][k] is v for k, v in before.items())
    del head.add_box_samples
    assert isinstance(samples, AdversarialSamples)
    assert samples['box'][0].fake.shape[1:] == (128, 28, 28)
    assert samples['mask'][0].real.shape[1:] == (128, 28, 28)
    assert samples.img_shapes == [(128, 128), (128, 128)]
    assert set(losses) == {'loss_cls', 'acc', 'loss_bbox', 'loss_mask'}
    # outside the block the head is the stock one
    assert not head.collecting
    head.add_box_samples = lambda *a, **k: pytest.fail('collected')
    head.loss(x, [p.clone() for p in proposals], data['data_samples'])


def test_box_samples_are_pooled_after_the_mask_loss():
    """The mask loss's targets (one full-image GT mask per positive) are
    made while no box sample is alive; the box samples are pooled when the
    head's losses are done, from the positives drawn in ``bbox_loss``."""
    head, data, x, proposals = two_player_demo_head_and_inputs()
    branches_at_mask_targets = []
    get_targets = head.mask_head.get_targets

    def spy(*args, **kwargs):
        branches_at_mask_targets.append(list(head._adv_samples.branches()))
        return get_targets(*args, **kwargs)

    head.mask_head.get_targets = spy
    _, samples = head.loss_and_adv_samples(x, proposals, data['data_samples'])
    del head.mask_head.get_targets
    assert branches_at_mask_targets == [[]]
    assert list(samples.branches()) == ['box', 'mask']
    assert len(samples['box']) == 1
    assert samples['box'][0].fake.shape[0] == samples['mask'][0].real.shape[0]


def test_recording_mask_targets_records_and_restores_the_head():
    """The targets of each get_targets call are recorded; afterwards the
    head has exactly the get_targets it had before: the class's method, or
    an instance attribute that was already there (e.g. a test's patch)."""
    from mmdet_gan.models.roi_heads.adversarial_roi_head_mixin import \
        recording_mask_targets

    class Head(torch.nn.Module):

        def get_targets(self, n):
            return torch.full((n, 2, 2), float(n))

    head = Head()
    with recording_mask_targets(head) as record:
        head.get_targets(1)
        head.get_targets(3)
    assert [t.shape[0] for t in record] == [1, 3]
    assert 'get_targets' not in vars(head)

    def patched(n):
        return torch.zeros(n, 2, 2)

    head.get_targets = patched
    with recording_mask_targets(head) as record:
        head.get_targets(2)
    assert torch.equal(record[0], torch.zeros(2, 2, 2))
    assert head.get_targets is patched
