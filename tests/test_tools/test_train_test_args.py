import os.path as osp

import pytest
import torch

from mmdet_gan.engine import GANOptimWrapperConstructor
from .tool_loader import REPO_ROOT, load_tool

train_tool = load_tool('train.py')
test_tool = load_tool('test.py')

GAN_CFG = osp.join(REPO_ROOT, 'configs', 'gan_mask_rcnn',
                   'gan_mask_rcnn_r18_fpn_demo.py')
BASE_CFG = osp.join(REPO_ROOT, 'configs', 'mask_rcnn',
                    'mask_rcnn_r18_fpn_demo.py')


def train_cfg(*argv):
    return train_tool.build_train_config(train_tool.parse_args(list(argv)))


def test_work_dir_priority(tmp_path):
    cfg = train_cfg(GAN_CFG)
    assert cfg.work_dir == osp.join('./work_dirs',
                                    'gan_mask_rcnn_r18_fpn_demo')
    cfg = train_cfg(GAN_CFG, '--work-dir', str(tmp_path))
    assert cfg.work_dir == str(tmp_path)


def test_amp_is_set_as_mmdet_does_and_reaches_both_players():
    """--amp sets the top-level type / loss_scale, as MMDetection's tool;
    the constructor makes them both players' default."""
    cfg = train_cfg(GAN_CFG, '--amp')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    constructor = GANOptimWrapperConstructor({
        k: v
        for k, v in cfg.optim_wrapper.items() if k != 'constructor'
    })
    for player in ('generator', 'discriminator'):
        merged = constructor.constructors[player].optim_wrapper_cfg
        assert merged['type'] == 'AmpOptimWrapper'
        assert merged['loss_scale'] == 'dynamic'


def test_amp_on_single_optimizer_config_matches_mmdet():
    cfg = train_cfg(BASE_CFG, '--amp')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_cfg_options_and_resume(tmp_path):
    cfg = train_cfg(GAN_CFG, '--cfg-options', 'train_cfg.max_epochs=3',
                    'model.gan_cfg.disc_steps=2')
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.model.gan_cfg.disc_steps == 2
    cfg = train_cfg(GAN_CFG, '--resume')
    assert cfg.resume is True and cfg.load_from is None
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'')
    cfg = train_cfg(GAN_CFG, '--resume', str(ckpt))
    assert cfg.resume is True and cfg.load_from == str(ckpt)


def test_bad_arguments_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='config file'):
        train_cfg(str(tmp_path / 'missing.py'))
    with pytest.raises(FileNotFoundError, match='--resume'):
        train_cfg(GAN_CFG, '--resume', str(tmp_path / 'nope.pth'))
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        train_cfg(
            osp.join(REPO_ROOT, 'configs', '_base_', 'gan_default_runtime.py'),
            '--auto-scale-lr')
    with pytest.raises(SystemExit):
        train_tool.parse_args([GAN_CFG, '--launcher', 'nccl'])


def test_test_tool_arguments(tmp_path):
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': {}}, ckpt)

    def test_cfg(*argv):
        return test_tool.build_test_config(test_tool.parse_args(list(argv)))

    cfg = test_cfg(GAN_CFG, str(ckpt), '--work-dir', str(tmp_path))
    assert cfg.load_from == str(ckpt) and cfg.work_dir == str(tmp_path)
    with pytest.raises(ValueError, match='.pkl'):
        test_cfg(GAN_CFG, str(ckpt), '--out', 'results.json')
    with pytest.raises(FileNotFoundError, match='checkpoint file'):
        test_cfg(GAN_CFG, str(tmp_path / 'missing.pth'))
    cfg = test_cfg(BASE_CFG, str(ckpt), '--tta')
    assert cfg.model.type == 'DetTTAModel'
    assert cfg.model.module.type == 'MaskRCNN'
    cfg = test_cfg(BASE_CFG, str(ckpt), '--show-dir', 'vis')
    assert cfg.default_hooks.visualization.draw is True


def test_launcher_on_cpu_uses_gloo_and_no_device_ids(monkeypatch):
    from mmdet_gan.utils.launch import setup_cpu_distributed
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = train_cfg(GAN_CFG)
    setup_cpu_distributed(cfg, 'slurm')  # slurm: mmengine inits the group
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'GANDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    cfg = train_cfg(BASE_CFG)
    setup_cpu_distributed(cfg, 'slurm')
    assert cfg.model_wrapper_cfg['type'] == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg['device_ids'] is None
    cfg = train_cfg(BASE_CFG)
    setup_cpu_distributed(cfg, 'none')
    assert 'model_wrapper_cfg' not in cfg


def test_pytorch_launcher_on_cpu_keeps_the_configured_timeout(monkeypatch):
    """``--launcher pytorch`` on CPU initialises gloo itself: with the
    collectives' timeout of ``env_cfg.dist_cfg.timeout`` (seconds) where the
    config sets one, torch's default otherwise."""
    import datetime

    from mmdet_gan.utils import launch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(launch.torch_dist, 'is_initialized', lambda: False)
    calls = []
    monkeypatch.setattr(launch.torch_dist, 'init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    cfg = train_cfg(GAN_CFG)
    cfg.env_cfg.dist_cfg = dict(backend='nccl', timeout=240)
    launch.setup_cpu_distributed(cfg, 'pytorch')
    assert calls == [
        dict(backend='gloo', timeout=datetime.timedelta(seconds=240))
    ]
    cfg = train_cfg(GAN_CFG)
    launch.setup_cpu_distributed(cfg, 'pytorch')
    assert calls[1] == dict(backend='gloo')


def test_release_distributed_destroys_the_default_group(tmp_path):
    """After a run the tools destroy the process group (a one-process gloo
    group here); without one it does nothing."""
    import torch.distributed as dist

    from mmdet_gan.utils.launch import release_distributed
    release_distributed()  # no group: nothing to do, no error
    dist.init_process_group(
        backend='gloo',
        init_method=f'file://{tmp_path / "store"}',
        rank=0,
        world_size=1)
    try:
        assert dist.is_initialized()
        release_distributed()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_tools_release_the_process_group_after_the_run(tool):
    """Both tools call release_distributed after the runner returns."""
    source = open(osp.join(REPO_ROOT, 'tools', tool)).read()
    main = source[source.index('def main('):]
    run = 'runner.train()' if tool == 'train.py' else 'runner.test()'
    assert main.index(run) < main.index('release_distributed()')
