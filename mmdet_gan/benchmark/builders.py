# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Models, optim wrappers and batches of a training benchmark."""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from torch import nn


def load_configs(
        gan_config: str,
        base_config: str,
        cfg_options: Optional[dict] = None,
        shared_cfg_options: Optional[dict] = None) -> Tuple[Config, Config]:
    """The GAN and the baseline configs with their overrides.

    Args:
        gan_config (str): path of the GAN config.
        base_config (str): path of the baseline (Mask R-CNN) config.
        cfg_options (dict, optional): merged into the GAN config only,
            after ``shared_cfg_options``.
        shared_cfg_options (dict, optional): merged into both.

    Returns:
        tuple[Config, Config]: the GAN and the baseline config.
    """
    gan_cfg = Config.fromfile(gan_config)
    base_cfg = Config.fromfile(base_config)
    if shared_cfg_options:
        gan_cfg.merge_from_dict(shared_cfg_options)
        base_cfg.merge_from_dict(shared_cfg_options)
    if cfg_options:
        gan_cfg.merge_from_dict(cfg_options)
    return gan_cfg, base_cfg


def build_model_and_optim(
        cfg: Config, seed: int,
        device: torch.device) -> Tuple[nn.Module, OptimWrapper]:
    """A model (``init_weights`` as the runner does) and its optim wrapper.

    Every RNG is seeded with ``seed`` before building and again before
    initialising, so a GAN model's generator and its baseline start from
    the same weights (the GAN model's discriminators draw random numbers
    after the generator is built; the generator is initialised first).

    Args:
        cfg (Config): with ``model`` and ``optim_wrapper``.
        seed (int): the seed.
        device (torch.device): where the model goes.

    Returns:
        tuple[nn.Module, OptimWrapper]: the model and its wrapper (an
        ``OptimWrapperDict`` for a GAN config).
    """
    from mmdet.registry import MODELS
    from mmengine.runner import set_random_seed
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    set_random_seed(seed)
    model.init_weights()
    model.to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


def same_generator_weights(gan: nn.Module, base: nn.Module) -> bool:
    """Whether the GAN model's generator starts where the baseline does.

    Args:
        gan (nn.Module): the GAN model.
        base (nn.Module): the baseline.

    Returns:
        bool: True if every tensor of the baseline's state dict equals the
        GAN model's tensor of the same name (shape and values).
    """
    gan_state = gan.state_dict()
    for name, value in base.state_dict().items():
        other = gan_state.get(name)
        if other is None or other.shape != value.shape or not torch.equal(
                other, value):
            return False
    return True


def num_classes_of(cfg: Config) -> int:
    """Number of classes of the config's box head (a cascade's last
    stage's)."""
    bbox_head = cfg.model.roi_head.bbox_head
    if isinstance(bbox_head, (list, tuple)):
        bbox_head = bbox_head[-1]
    return int(bbox_head.num_classes)


def image_size(img_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``(height, width)`` from one side or a height and a width."""
    if isinstance(img_size, int):
        return img_size, img_size
    sizes = [int(v) for v in img_size]
    if len(sizes) == 1:
        return sizes[0], sizes[0]
    if len(sizes) != 2:
        raise ValueError(f'img_size: one side or (height, width), got '
                         f'{img_size}')
    return sizes[0], sizes[1]


def objects_per_image(num_gts: Union[int, Sequence[int]]) -> List[int]:
    """``num_gts`` as the list of object counts cycled over the images."""
    counts = [num_gts] if isinstance(num_gts,
                                     int) else [int(n) for n in num_gts]
    if not counts:
        raise ValueError('num_gts: give at least one count')
    return counts


def demo_batches(num: int, batch_size: int, img_size: Union[int,
                                                            Sequence[int]],
                 num_gts: Union[int, Sequence[int]],
                 num_classes: int) -> List[dict]:
    """Distinct batches of ``mmdet.testing.demo_mm_inputs``.

    Args:
        num (int): batches.
        batch_size (int): images per batch.
        img_size (int | tuple[int, int]): side of the square images, or
            their ``(height, width)``, px.
        num_gts (int | list[int]): objects (with masks) per image; a list
            is cycled over the images (image ``i`` has
            ``num_gts[i % len(num_gts)]``).
        num_classes (int): classes of the labels.

    Returns:
        list[dict]: ``num`` dicts of ``inputs`` (``batch_size`` uint8
        ``(3, height, width)`` tensors) and ``data_samples``.
    """
    from mmdet.testing import demo_mm_inputs
    height, width = image_size(img_size)
    counts = objects_per_image(num_gts)
    data = demo_mm_inputs(
        batch_size=num * batch_size,
        image_shapes=(3, height, width),
        num_items=[counts[i % len(counts)] for i in range(num * batch_size)],
        num_classes=num_classes,
        with_mask=True)
    return [{
        key: value[i * batch_size:(i + 1) * batch_size]
        for key, value in data.items()
    } for i in range(num)]


def loader_batches(cfg: Config, data_root: str, num: int, batch_size: int,
                   seed: int) -> List[dict]:
    """The first batches of a config's ``train_dataloader``.

    Args:
        cfg (Config): with ``train_dataloader``.
        data_root (str): its dataset's ``data_root``.
        num (int): batches (the loader is restarted if it has fewer).
        batch_size (int): images per batch.
        seed (int): the loader's seed.

    Returns:
        list[dict]: ``num`` batches, loaded without workers.
    """
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.dataset.data_root = data_root
    loader_cfg.batch_size = batch_size
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    batches = []
    while len(batches) < num:
        size = len(batches)
        for batch in loader:
            batches.append(batch)
            if len(batches) == num:
                break
        if len(batches) == size:
            raise ValueError(f'the train_dataloader of {data_root} yields no '
                             'batch (empty dataset?)')
    return batches
