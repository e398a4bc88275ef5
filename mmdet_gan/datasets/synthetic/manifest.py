# Copyright (c) mmdet-gan contributors. All rights reserved.
"""The manifest of a generated demo dataset: the parameters it was made
with, written last, so that an interrupted or stale dataset is redone."""
import json
import os.path as osp
from dataclasses import asdict
from typing import Dict, List, Optional

from .coco_writer import SPLITS, ann_file
from .config import DemoDatasetConfig
from .rendering import DEMO_CLASSES

MANIFEST_NAME = 'manifest.json'


def expected_files(out_dir: str, cfg: DemoDatasetConfig) -> List[str]:
    """The annotation files and images a dataset made with ``cfg`` has."""
    files = [ann_file(out_dir, split) for split in SPLITS]
    for split, num in zip(SPLITS, (cfg.num_train, cfg.num_val)):
        files += [osp.join(out_dir, split, f'{i:06d}.png') for i in range(num)]
    return files


def read_manifest(out_dir: str) -> Optional[Dict]:
    """The manifest of a generated dataset, or None if there is none."""
    path = osp.join(out_dir, MANIFEST_NAME)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_manifest(out_dir: str, cfg: DemoDatasetConfig) -> None:
    """Write the manifest of a dataset made with ``cfg`` (last, once every
    other file is written)."""
    with open(osp.join(out_dir, MANIFEST_NAME), 'w') as f:
        json.dump(
            dict(params=asdict(cfg), classes=list(DEMO_CLASSES)),
            f,
            indent=2,
            sort_keys=True)


def is_up_to_date(out_dir: str, cfg: DemoDatasetConfig) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with ``cfg``."""
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get('params') != asdict(cfg):
        return False
    return all(osp.isfile(p) for p in expected_files(out_dir, cfg))
