"""mmdet-gan as another MMDetection project uses it: a built wheel installed
into an environment that has the stack but not this checkout, a config that
inherits ours with the README's one line, and MMDetection's own
``tools/train.py`` (plain, resumed, ``--amp``) and ``tools/test.py``.

The project's config and commands are read from the README ("Use it from
your MMDetection project"), so the README shows exactly what runs here.
"""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README = osp.join(REPO_ROOT, 'README.md')
CLASSES = ('cell', 'nucleus', 'debris')
CONFIG_NAME = 'gan_mask_rcnn_r50_fpn_1x_mydata.py'
#: Not part of the wheel's inputs (environments, builds, outputs).
COPY_IGNORE = shutil.ignore_patterns('.git', '.venv*', 'build', 'dist',
                                     'work_dirs', 'data', '*.egg-info',
                                     '__pycache__', '*.so', '*.stamp',
                                     '.pytest_cache')
#: What a CPU machine without network needs on top of the README's config:
#: no pretrained backbone (torchvision://resnet50 is not reachable), small
#: images, few proposals, in-process data loading.
CPU_OPTIONS = [
    'model.backbone.init_cfg=None',
    'model.train_cfg.rpn_proposal.max_per_img=200',
    'model.train_cfg.rcnn.sampler.num=64',
    'train_dataloader.dataset.pipeline.2.scale=(128,128)',
    'val_dataloader.dataset.pipeline.1.scale=(128,128)',
    'test_dataloader.dataset.pipeline.1.scale=(128,128)',
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
]


def readme_block(name: str) -> str:
    """The fenced code between ``<!-- user-project-NAME: begin/end -->``."""
    with open(README) as f:
        text = f.read()
    match = re.search(
        rf'<!-- user-project-{name}: begin -->\s*```\w*\n(.*?)```\s*'
        rf'<!-- user-project-{name}: end -->', text, re.S)
    assert match, f'README has no user-project-{name} block'
    return match.group(1)


def readme_commands() -> list:
    """The README's train / resume / test commands, as argument lists after
    ``python $MMDET_TOOLS/<tool>``."""
    commands = []
    for line in readme_block('commands').splitlines():
        if line.startswith('python $MMDET_TOOLS/'):
            commands.append(line[len('python $MMDET_TOOLS/'):].split())
    assert [c[0] for c in commands] == ['train.py', 'train.py', 'test.py']
    return commands


def run(cmd: list,
        cwd: str,
        timeout: int = 900) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items() if key != 'PYTHONPATH'
    }
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def check(proc: subprocess.CompletedProcess) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


def build_wheel(tmp_path) -> str:
    """``pip wheel --no-build-isolation --no-deps`` on a copy of the
    checkout's sources (so the build leaves nothing in the checkout)."""
    src = str(tmp_path / 'src')
    shutil.copytree(REPO_ROOT, src, ignore=COPY_IGNORE)
    dist = str(tmp_path / 'dist')
    check(
        run([
            sys.executable, '-m', 'pip', 'wheel', '--no-build-isolation',
            '--no-deps', '--no-index', '-q', src, '-w', dist
        ],
            cwd=str(tmp_path)))
    (wheel, ) = [f for f in os.listdir(dist) if f.endswith('.whl')]
    return osp.join(dist, wheel)


def make_user_env(tmp_path, wheel: str) -> str:
    """A fresh virtual environment that sees this environment's packages
    (the stack, pip included) but not this checkout, with the wheel
    pip-installed into it offline (so pip checks the wheel's dependency
    bounds against the stack). Returns its python."""
    site = sysconfig.get_paths()['purelib']
    stack = tmp_path / 'stack'
    stack.mkdir()
    for entry in os.listdir(site):
        if entry.startswith(('mmdet_gan', '__editable__')) or \
                entry.endswith('.pth'):
            continue
        os.symlink(osp.join(site, entry), stack / entry)
    env_dir = str(tmp_path / 'user_env')
    # without its own pip and setuptools: the stack's (torch needs
    # setuptools >= 77, newer than what ensurepip brings)
    check(
        run([sys._base_executable, '-m', 'venv', '--without-pip', env_dir],
            cwd=str(tmp_path)))
    python = osp.join(env_dir, 'bin', 'python')
    env_site = run([
        python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
        '["purelib"])'
    ],
                   cwd=str(tmp_path)).stdout.strip()
    with open(osp.join(env_site, '_the_stack.pth'), 'w') as f:
        f.write(str(stack) + '\n')
    check(
        run([python, '-m', 'pip', 'install', '--no-index', '-q', wheel],
            cwd=str(tmp_path)))
    return python


def write_coco(root: str, split: str, num_images: int, seed: int) -> None:
    """``num_images`` 128x128 images with 2-3 filled polygons each (one
    shape per class) and their COCO instance annotations."""
    import cv2
    rng = np.random.RandomState(seed)
    os.makedirs(osp.join(root, split))
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = np.full((128, 128, 3), 30, np.uint8)
        for _ in range(rng.randint(2, 4)):
            label = rng.randint(len(CLASSES))
            cx, cy = rng.randint(30, 98, size=2)
            radius = rng.randint(12, 26)
            corners = 3 + label  # triangle, square, pentagon
            angles = np.linspace(0, 2 * np.pi, corners, endpoint=False)
            poly = np.stack(
                [cx + radius * np.cos(angles), cy + radius * np.sin(angles)],
                1).round()
            cv2.fillPoly(img, [poly.astype(np.int32)],
                         tuple(int(c) for c in rng.randint(90, 255, 3)))
            x1, y1 = poly.min(0)
            x2, y2 = poly.max(0)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=label + 1,
                    segmentation=[poly.flatten().tolist()],
                    bbox=[
                        float(x1),
                        float(y1),
                        float(x2 - x1),
                        float(y2 - y1)
                    ],
                    area=float((x2 - x1) * (y2 - y1)) / 2,
                    iscrowd=0))
        file_name = f'{img_id:04d}.png'
        cv2.imwrite(osp.join(root, split, file_name), img)
        images.append(
            dict(id=img_id, file_name=file_name, width=128, height=128))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
        json.dump(
            dict(
                images=images,
                annotations=annotations,
                categories=[
                    dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)
                ]), f)


def test_installed_wheel_trains_resumes_and_tests_with_mmdet_tools(tmp_path):
    wheel = build_wheel(tmp_path)
    python = make_user_env(tmp_path, wheel)

    # the package comes from the wheel, with its configs and tools
    where = check(
        run([
            python, '-c', 'import mmdet_gan, mmdet_gan._ext, os.path as p; '
            'print(p.dirname(mmdet_gan.__file__)); '
            'print(mmdet_gan.config_paths.config_dir())'
        ],
            cwd=str(tmp_path))).split()
    assert where[0].startswith(str(tmp_path / 'user_env'))
    assert where[1] == osp.join(where[0], '.mim', 'configs')
    for tool in ('train.py', 'test.py', 'model_converters/gan2mmdet.py'):
        assert osp.isfile(osp.join(where[0], '.mim', 'tools', tool)), tool

    # the user's project: the README's config and generated data
    project = tmp_path / 'my_project'
    (project / 'configs').mkdir(parents=True)
    (project / 'configs' / CONFIG_NAME).write_text(readme_block('config'))
    write_coco(str(project / 'data' / 'mydata'), 'train', 4, seed=0)
    write_coco(str(project / 'data' / 'mydata'), 'val', 2, seed=1)
    mmdet_tools = check(
        run([
            python, '-c', 'import mmdet, os.path as p; '
            'print(p.join(p.dirname(mmdet.__file__), ".mim", "tools"))'
        ],
            cwd=str(project))).strip()

    train, resume, test = readme_commands()
    # 1. train one epoch
    out = check(
        run([
            python,
            osp.join(mmdet_tools, train[0]), *train[1:], '--cfg-options',
            *CPU_OPTIONS, 'train_cfg.max_epochs=1'
        ],
            cwd=str(project)))
    work_dir = project / 'work_dirs' / 'mydata'
    assert (work_dir / 'epoch_1.pth').is_file(), out[-3000:]
    assert 'loss_adv_g_box' in out and 'loss_adv_d_mask' in out
    # 2. resume it for a second epoch
    out = check(
        run([
            python,
            osp.join(mmdet_tools, resume[0]), *resume[1:], '--cfg-options',
            *CPU_OPTIONS, 'train_cfg.max_epochs=2'
        ],
            cwd=str(project)))
    assert 'resumed epoch: 1' in out, out[-3000:]
    assert 'Loads checkpoint by local_safe backend' in out
    assert (work_dir / 'epoch_2.pth').is_file()
    assert not [f for f in os.listdir(work_dir) if f.endswith('.tmp')]

    # the trained model is the user's: 3 classes, 14x14 discriminator inputs
    shapes = json.loads(
        check(
            run([
                python, '-c', 'import json, torch; import mmdet_gan; '
                'sd = torch.load("work_dirs/mydata/epoch_2.pth", '
                'weights_only=True)["state_dict"]; '
                'print(json.dumps({k: list(v.shape) for k, v in sd.items()}))'
            ],
                cwd=str(project))).strip().splitlines()[-1])
    assert shapes['roi_head.bbox_head.fc_cls.weight'][0] == len(CLASSES) + 1
    assert shapes['roi_head.mask_head.conv_logits.weight'][0] == len(CLASSES)
    # first conv of each discriminator: 256 input channels (FPN)
    assert shapes['discriminator.box.convs.0.conv.weight'][1] == 256
    box_convs = sorted(
        k for k in shapes if k.startswith('discriminator.box.convs.')
        and k.endswith('conv.weight'))
    # the last conv's kernel is what remains of 14 px after the strides
    assert shapes[box_convs[-1]][-1] == 1

    # 3. test it
    test_args = [
        arg.replace('epoch_12.pth', 'epoch_2.pth') for arg in test[1:]
    ]
    out = check(
        run([
            python,
            osp.join(mmdet_tools, test[0]), *test_args, '--cfg-options',
            *CPU_OPTIONS
        ],
            cwd=str(project)))
    assert 'coco/segm_mAP' in out and 'coco/bbox_mAP' in out

    # 4. --amp goes through our optim wrapper constructor to MMEngine's
    # AmpOptimWrapper for both players, which refuses to run on a CPU
    out = run([
        python,
        osp.join(mmdet_tools, train[0]), *train[1:], '--amp', '--work-dir',
        'work_dirs/amp', '--cfg-options', *CPU_OPTIONS
    ],
              cwd=str(project))
    output = out.stdout + out.stderr
    assert out.returncode != 0
    assert 'only available training on gpu' in output, output[-3000:]
    assert 'unexpected keys' not in output
