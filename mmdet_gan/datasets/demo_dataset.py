# Copyright (c) mmdet-gan contributors. All rights reserved.
"""A small synthetic COCO-format instance-segmentation dataset.

The demo dataset lets the whole pipeline (train, test, compare baseline and
GAN masks) run on a laptop CPU in minutes, with no download. Every image is
drawn from a seeded random generator, so the same parameters give the same
bytes on every run and machine (given the same OpenCV build).

What makes it a segmentation problem rather than a box problem:

- four categories whose masks are far from their boxes: ``ellipse`` (rotated,
  elongated), ``ring`` (an annulus with a hole), ``star`` (a concave rotated
  polygon) and ``crescent`` (a thin concave sliver);
- sizes from about 12 px to half the image;
- colour and texture (flat, stripes, checker, noise) drawn independently of
  the category, so the shape is the only cue;
- textured, noisy backgrounds with clutter strokes;
- partial occlusion: objects are stacked, masks are the *visible* parts (so
  masks never overlap) and objects that end up mostly hidden are dropped
  before drawing (no unlabelled visible object).

Masks are stored as compressed RLE (exact, and rings keep their holes, which
COCO polygons cannot express); ``area`` and ``bbox`` are computed from the
same mask, so ``pycocotools`` round-trips them exactly.
"""
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

DEMO_CLASSES: Tuple[str, ...] = ('ellipse', 'ring', 'star', 'crescent')
"""Category names, in category-id order (ids start at 1)."""

DEMO_PALETTE: List[Tuple[int, int, int]] = [(220, 20, 60), (0, 130, 230),
                                            (250, 170, 30), (60, 180, 75)]
"""One RGB colour per category for visualisation."""

GENERATOR_VERSION = 1
"""Bump when the drawing code changes, so stale data gets regenerated."""

MANIFEST_NAME = 'manifest.json'
SPLITS = ('train', 'val')
_SPLIT_SEED = {'train': 0, 'val': 1}
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]
_MIN_CONTRAST = 60.0  # RGB distance between an object and what it covers
_MAX_TEXTURE_TRIES = 20


@dataclass
class DemoDatasetConfig:
    """Parameters of the demo dataset; saved in the manifest.

    Args:
        num_train (int): Number of training images. Defaults to 240.
        num_val (int): Number of validation images. Defaults to 60.
        img_size (int): Side of the square images in pixels. Defaults to
            192.
        min_objects (int): Fewest objects drawn per image (before dropping
            the mostly occluded ones). Defaults to 2.
        max_objects (int): Most objects drawn per image. Defaults to 6.
        min_visible (float): An object is kept only if at least this
            fraction of its full shape stays visible. Defaults to 0.5.
        seed (int): Seed of the random generator. Defaults to 0.
    """

    num_train: int = 240
    num_val: int = 60
    img_size: int = 192
    min_objects: int = 2
    max_objects: int = 6
    min_visible: float = 0.5
    seed: int = 0
    version: int = field(default=GENERATOR_VERSION)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid parameter."""
        for name in ('num_train', 'num_val', 'img_size', 'min_objects',
                     'max_objects', 'seed'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    f'{name} must be an int, got {type(value).__name__}')
        if self.num_train < 1:
            raise ValueError(f'num_train must be >= 1, got {self.num_train}')
        if self.num_val < 1:
            raise ValueError(f'num_val must be >= 1, got {self.num_val}')
        if not 64 <= self.img_size <= 1024:
            raise ValueError(
                f'img_size must be in [64, 1024], got {self.img_size}')
        if self.min_objects < 1:
            raise ValueError(
                f'min_objects must be >= 1, got {self.min_objects}')
        if self.max_objects < self.min_objects:
            raise ValueError(f'max_objects ({self.max_objects}) must be >= '
                             f'min_objects ({self.min_objects})')
        if not 0.0 < self.min_visible <= 1.0:
            raise ValueError(
                f'min_visible must be in (0, 1], got {self.min_visible}')
        if self.seed < 0:
            raise ValueError(f'seed must be >= 0, got {self.seed}')


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, size: int, cells: int,
                  channels: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a random grid upsampled bicubically.

    Returns:
        np.ndarray: (size, size, channels) float32.
    """
    grid = rng.random((cells, cells, channels), dtype=np.float32)
    noise = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    noise = noise.reshape(size, size, channels)
    return np.clip(noise, 0.0, 1.0)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour (float32, 0-255), saturated or grey-ish."""
    hsv = np.array(
        [[[rng.uniform(0, 180),
           rng.uniform(30, 255),
           rng.uniform(60, 255)]]],
        dtype=np.float32)
    hsv = hsv.astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _draw_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Textured background with clutter strokes.

    Returns:
        np.ndarray: (size, size, 3) float32 RGB in [0, 255].
    """
    c0, c1 = _random_colour(rng), _random_colour(rng)
    mix = _smooth_noise(rng, size, int(rng.integers(3, 8)), 1)
    img = c0 * mix + c1 * (1.0 - mix)
    img += (_smooth_noise(rng, size, size // 8, 3) - 0.5) * 40.0
    # Clutter: lines and arcs that are not objects.
    for _ in range(int(rng.integers(1, 5))):
        colour = tuple(float(v) for v in _random_colour(rng))
        thickness = int(rng.integers(1, 4))
        if rng.random() < 0.5:
            p1 = tuple(int(v) for v in rng.integers(0, size, 2))
            p2 = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, p1, p2, colour, thickness, cv2.LINE_AA)
        else:
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            axes = tuple(
                int(v) for v in rng.integers(size // 10, size // 2, 2))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), start,
                        start + float(rng.uniform(40, 160)), colour, thickness,
                        cv2.LINE_AA)
    return img


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """An object texture: flat, stripes, checker or blotches.

    Returns:
        np.ndarray: (size, size, 3) float32 RGB in [0, 255].
    """
    c0 = _random_colour(rng)
    kind = int(rng.integers(0, 4))
    if kind == 0:  # flat with a little shading
        shade = _smooth_noise(rng, size, 4, 1)
        return c0 * (0.8 + 0.4 * shade)
    c1 = _random_colour(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == 1:  # stripes
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(4, 14)
        proj = xx * np.cos(theta) + yy * np.sin(theta)
        mix = (np.sin(2 * np.pi * proj / period) > 0).astype(np.float32)
    elif kind == 2:  # checker
        period = rng.uniform(4, 12)
        mix = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(
            np.float32)
    else:  # blotches
        mix = (_smooth_noise(rng, size, size // 10, 1)[..., 0]
               > 0.5).astype(np.float32)
    mix = mix[..., None]
    return c0 * mix + c1 * (1.0 - mix)


def _shape_mask(rng: np.random.Generator, category: int, canvas: int,
                centre: Tuple[float, float], radius: float) -> np.ndarray:
    """Draw one shape on an empty canvas.

    Args:
        rng (np.random.Generator): Random generator.
        category (int): 0-based index into :data:`DEMO_CLASSES`.
        canvas (int): Side of the (padded) canvas.
        centre (tuple[float, float]): Centre (x, y) on the canvas.
        radius (float): Outer radius of the shape in pixels.

    Returns:
        np.ndarray: (canvas, canvas) uint8 mask in {0, 1}.
    """
    mask = np.zeros((canvas, canvas), np.uint8)
    cx, cy = centre
    angle = float(rng.uniform(0, 360))
    shift = 4  # sub-pixel precision for cv2 drawing
    scale = 1 << shift

    def pt(x: float, y: float) -> Tuple[int, int]:
        return int(round(x * scale)), int(round(y * scale))

    def axes(a: float, b: float) -> Tuple[int, int]:
        return max(1, int(round(a * scale))), max(1, int(round(b * scale)))

    name = DEMO_CLASSES[category]
    if name == 'ellipse':
        minor = radius * rng.uniform(0.3, 0.75)
        cv2.ellipse(mask, pt(cx, cy), axes(radius, minor), angle, 0, 360, 1,
                    -1, cv2.LINE_8, shift)
    elif name == 'ring':
        minor_ratio = rng.uniform(0.7, 1.0)
        inner = rng.uniform(0.45, 0.7)
        cv2.ellipse(mask, pt(cx, cy), axes(radius, radius * minor_ratio),
                    angle, 0, 360, 1, -1, cv2.LINE_8, shift)
        cv2.ellipse(mask, pt(cx, cy),
                    axes(radius * inner, radius * minor_ratio * inner), angle,
                    0, 360, 0, -1, cv2.LINE_8, shift)
    elif name == 'star':
        points = int(rng.integers(4, 8))
        inner = rng.uniform(0.35, 0.55)
        theta0 = np.deg2rad(angle)
        thetas = theta0 + np.arange(2 * points) * np.pi / points
        radii = np.where(
            np.arange(2 * points) % 2 == 0, radius, radius * inner)
        radii = radii * rng.uniform(0.85, 1.15, 2 * points)
        poly = np.stack(
            [cx + radii * np.cos(thetas), cy + radii * np.sin(thetas)], axis=1)
        poly = np.round(poly * scale).astype(np.int32)
        cv2.fillPoly(mask, [poly], 1, cv2.LINE_8, shift)
    elif name == 'crescent':
        cv2.circle(mask, pt(cx, cy),
                   axes(radius, 0)[0], 1, -1, cv2.LINE_8, shift)
        bite = radius * rng.uniform(0.8, 1.0)
        offset = radius * rng.uniform(0.3, 0.55)
        theta = np.deg2rad(angle)
        cv2.circle(
            mask, pt(cx + offset * np.cos(theta), cy + offset * np.sin(theta)),
            axes(bite, 0)[0], 0, -1, cv2.LINE_8, shift)
    else:  # pragma: no cover - DEMO_CLASSES and this switch go together
        raise KeyError(name)
    return mask


def generate_image(rng: np.random.Generator,
                   cfg: DemoDatasetConfig) -> Tuple[np.ndarray, List[Dict]]:
    """Draw one image and its instances.

    Args:
        rng (np.random.Generator): Random generator (consumed).
        cfg (DemoDatasetConfig): Dataset parameters.

    Returns:
        tuple[np.ndarray, list[dict]]: The (H, W, 3) uint8 RGB image and one
        dict per kept instance, bottom to top, with keys ``category``
        (0-based int) and ``mask`` ((H, W) uint8 visible mask). Masks do not
        overlap.
    """
    size = cfg.img_size
    pad = size // 2
    canvas = size + 2 * pad
    min_radius = max(6.0, size / 32)
    max_radius = size / 4

    # 1. Sample the stack of shapes (bottom to top) on a padded canvas, so
    #    the full area of shapes cut by the border is known.
    num = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    shapes = []
    for _ in range(num):
        category = int(rng.integers(0, len(DEMO_CLASSES)))
        radius = float(
            np.exp(rng.uniform(np.log(min_radius), np.log(max_radius))))
        centre = (pad + float(rng.uniform(0.08, 0.92)) * size,
                  pad + float(rng.uniform(0.08, 0.92)) * size)
        full = _shape_mask(rng, category, canvas, centre, radius)
        shapes.append((category, full))

    # 2. Top-down: keep a shape only if enough of it stays visible under
    #    the shapes kept above it and inside the image.
    above = np.zeros((size, size), bool)
    kept = []
    for category, full in reversed(shapes):
        full_area = int(full.sum())
        inside = full[pad:pad + size, pad:pad + size].astype(bool)
        visible = inside & ~above
        area = int(visible.sum())
        if full_area == 0 or area < max(20, cfg.min_visible * full_area):
            continue
        kept.append((category, inside, visible))
        above |= inside
    kept.reverse()

    # 3. Render bottom to top. An object whose mean colour is too close to
    #    what it covers would be invisible (label noise): redraw its texture.
    img = _draw_background(rng, size)
    for _, inside, _ in kept:
        under = img[inside].mean(axis=0)
        for _ in range(_MAX_TEXTURE_TRIES):
            tex = _texture(rng, size)
            if np.linalg.norm(tex[inside].mean(axis=0) - under) >= \
                    _MIN_CONTRAST:
                break
        img[inside] = tex[inside]
    img = cv2.GaussianBlur(img, (3, 3), 0.7)
    img += rng.normal(0.0, 6.0, img.shape).astype(np.float32)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)

    instances = [
        dict(category=category, mask=visible.astype(np.uint8))
        for category, _, visible in kept
    ]
    return img, instances


# ---------------------------------------------------------------------------
# COCO writing
# ---------------------------------------------------------------------------


def mask_to_annotation(mask: np.ndarray) -> Dict:
    """COCO ``segmentation`` (compressed RLE), ``area`` and ``bbox``.

    Args:
        mask (np.ndarray): (H, W) binary mask, not empty.

    Returns:
        dict: ``segmentation`` ({'size': [H, W], 'counts': str}), ``area``
        (int, pixel count) and ``bbox`` ([x, y, w, h] of the mask's pixels,
        as pycocotools' ``toBbox`` computes it).
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [
        float(x0),
        float(y0),
        float(xs.max() - x0 + 1),
        float(ys.max() - y0 + 1)
    ]
    return dict(
        segmentation=dict(
            size=[int(v) for v in rle['size']],
            counts=rle['counts'].decode('ascii')),
        area=int(mask.sum()),
        bbox=bbox)


def _coco_categories() -> List[Dict]:
    return [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(DEMO_CLASSES)
    ]


def _generate_split(split: str, num_images: int, cfg: DemoDatasetConfig,
                    out_dir: str) -> Dict:
    """Write one split's images and return its COCO dict."""
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for idx in range(num_images):
        # One independent stream per image: image i is the same whatever
        # the number of images, and generation order does not matter.
        rng = np.random.default_rng([cfg.seed, _SPLIT_SEED[split], idx])
        img, instances = generate_image(rng, cfg)
        file_name = f'{idx:06d}.png'
        ok, buf = cv2.imencode('.png', img[..., ::-1], _PNG_PARAMS)
        if not ok:  # pragma: no cover
            raise RuntimeError(f'cv2 failed to encode {file_name}')
        with open(osp.join(img_dir, file_name), 'wb') as f:
            f.write(buf.tobytes())
        image_id = idx + 1
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=cfg.img_size,
                height=cfg.img_size))
        for inst in instances:
            ann = mask_to_annotation(inst['mask'])
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=inst['category'] + 1,
                    iscrowd=0,
                    **ann))
    return dict(
        info=dict(
            description=f'mmdet-gan synthetic demo dataset ({split})',
            version=str(cfg.version)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=_coco_categories())


def ann_file(out_dir: str, split: str) -> str:
    """Path of a split's COCO annotation file."""
    return osp.join(out_dir, 'annotations', f'instances_{split}.json')


def _expected_files(out_dir: str, cfg: DemoDatasetConfig) -> List[str]:
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


def is_up_to_date(out_dir: str, cfg: DemoDatasetConfig) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with ``cfg``."""
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get('params') != asdict(cfg):
        return False
    return all(osp.isfile(p) for p in _expected_files(out_dir, cfg))


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
        coco = _generate_split(split, num, cfg, out_dir)
        with open(ann_file(out_dir, split), 'w') as f:
            json.dump(coco, f, separators=(',', ':'))
        counts[split] = (len(coco['images']), len(coco['annotations']))

    with open(manifest_path, 'w') as f:
        json.dump(
            dict(params=asdict(cfg), classes=list(DEMO_CLASSES)),
            f,
            indent=2,
            sort_keys=True)
    for split, (n_img, n_ann) in counts.items():
        log(f'{split}: {n_img} images, {n_ann} instances')
    log(f'wrote {out_dir} in {time.perf_counter() - start:.1f} s')
    return True
