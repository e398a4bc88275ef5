# Copyright (c) mmdet-gan contributors. All rights reserved.
"""``create_demo_dataset``: generate the synthetic demo dataset into a
folder unless it is already there."""
import os
import os.path as osp
import shutil
import time
from typing import Optional

from .coco_writer import SPLITS, ann_file, write_ann_file, write_split
from .config import DemoDatasetConfig
from .manifest import (MANIFEST_NAME, is_up_to_date, read_manifest,
                       write_manifest)


def create_demo_dataset(out_dir: str = 'data/demo',
                        cfg: Optional[DemoDatasetConfig] = None,
                        force: bool = False,
                        verbose: bool = False) -> bool:
    """Generate the demo dataset into ``out_dir`` unless it is up to date.

    Layout: ``train/*.png``, ``val/*.png``,
    ``annotations/instances_{train,val}.json`` and ``manifest.json`` (the
    parameters; written last, so an interrupted run is redone).

    If ``out_dir`` holds a dataset made by this function with other
    parameters, its splits are deleted and regenerated. If it holds
    ``train/``, ``val/`` or ``annotations/`` without a manifest, nothing is
    deleted and a ``FileExistsError`` is raised unless ``force``.

    Args:
        out_dir (str): Output folder. Defaults to ``'data/demo'``.
        cfg (DemoDatasetConfig, optional): Parameters; defaults when None.
        force (bool): Regenerate even if up to date. Defaults to False.
        verbose (bool): Print what is done. Defaults to False.

    Returns:
        bool: True if the dataset was generated, False if it was skipped.
    """
    cfg = DemoDatasetConfig() if cfg is None else cfg
    cfg.validate()
    log = print if verbose else (lambda *args, **kwargs: None)

    if not force and is_up_to_date(out_dir, cfg):
        log(f'{out_dir} is up to date ({MANIFEST_NAME} matches), skipped; '
            'use --force to regenerate')
        return False

    ours = [osp.join(out_dir, d) for d in (*SPLITS, 'annotations')]
    if (not force and read_manifest(out_dir) is None
            and any(osp.exists(p) for p in ours)):
        raise FileExistsError(
            f'{out_dir} holds train/, val/ or annotations/ but no '
            f'{MANIFEST_NAME}, so it was not made by this tool; refusing to '
            'overwrite it (use --force, or another --out-dir)')

    start = time.perf_counter()
    manifest_path = osp.join(out_dir, MANIFEST_NAME)
    if osp.exists(manifest_path):
        os.remove(manifest_path)
    for path in ours:
        if osp.isdir(path):
            shutil.rmtree(path)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)

    counts = {}
    for split, num in zip(SPLITS, (cfg.num_train, cfg.num_val)):
        coco = write_split(split, num, cfg, out_dir)
        write_ann_file(coco, ann_file(out_dir, split))
        counts[split] = (len(coco['images']), len(coco['annotations']))

    write_manifest(out_dir, cfg)
    for split, (n_img, n_ann) in counts.items():
        log(f'{split}: {n_img} images, {n_ann} instances')
    log(f'wrote {out_dir} in {time.perf_counter() - start:.1f} s')
    return True
