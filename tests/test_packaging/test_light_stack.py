"""Without mmcv's compiled ops (``mmcv._ext``), ``import mmdet_gan`` warns
and loads what needs only torch, MMEngine, ``mmcv.cnn`` and MMDetection's
registry: the op and the discriminators and losses (what the GPU check runs
on a machine where mmcv's CUDA ops cannot be built)."""
import os.path as osp
import subprocess
import sys
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

LIGHT_SCRIPT = textwrap.dedent('''
    import sys
    import warnings
    sys.modules['mmcv._ext'] = None  # mmcv without its compiled ops
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        import mmdet_gan
    messages = [str(w.message) for w in caught
                if 'mmdet_gan:' in str(w.message)]
    assert len(messages) == 1 and "mmcv._ext" in messages[0], messages
    import torch
    from mmdet_gan.models.discriminators import (BoxDiscriminator,
                                                 MaskDiscriminator)
    from mmdet_gan.models.losses import GANLoss, MultiScaleL1Loss
    from mmdet_gan.ops import multi_level_max_prroi_pool, prroi_pool
    feats = torch.rand(1, 8, 16, 16, requires_grad=True)
    rois = torch.tensor([[0., 1., 1., 9., 9.]], requires_grad=True)
    pooled = prroi_pool(feats, rois, 14, 1.)
    box = BoxDiscriminator(in_channels=8, roi_size=14, base_channels=4)
    mask = MaskDiscriminator(in_channels=8, roi_size=14, base_channels=4)
    real, fake = box(pooled.detach()), box(pooled)
    GANLoss()(real, fake, is_disc=False).backward()
    assert rois.grad is not None and rois.grad.abs().sum() > 0
    MultiScaleL1Loss()(mask(pooled.detach()), mask(pooled), is_disc=True)
    from mmdet.registry import MODELS
    # registered (MODELS.get would import mmdet.models: read the table)
    assert MODELS.module_dict['BoxDiscriminator'] is BoxDiscriminator
    assert 'GANMaskRCNN' not in MODELS.module_dict
    assert not hasattr(mmdet_gan, 'engine')
    print('light stack ok')
''')


def run(script):
    return subprocess.run([sys.executable, '-c', script],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_light_stack_loads_the_op_discriminators_and_losses():
    proc = run(LIGHT_SCRIPT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'light stack ok' in proc.stdout


def test_full_stack_import_does_not_warn():
    proc = run(
        textwrap.dedent('''
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            import mmdet_gan
        assert not [w for w in caught if 'mmdet_gan:' in str(w.message)]
        from mmdet.registry import MODELS
        assert MODELS.get('GANMaskRCNN') is not None
        assert MODELS.get('GANCascadeRCNN') is not None
        print('full stack ok')
        '''))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'full stack ok' in proc.stdout
