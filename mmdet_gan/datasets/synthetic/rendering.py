# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Drawing of the synthetic demo images: backgrounds, textures, the four
shape categories and their visible (occlusion-resolved) masks."""
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .config import DemoDatasetConfig

DEMO_CLASSES: Tuple[str, ...] = ('ellipse', 'ring', 'star', 'crescent')
"""Category names, in category-id order (ids start at 1)."""

DEMO_PALETTE: List[Tuple[int, int, int]] = [(220, 20, 60), (0, 130, 230),
                                            (250, 170, 30), (60, 180, 75)]
"""One RGB colour per category for visualisation."""

_MIN_CONTRAST = 60.0  # RGB distance between an object and what it covers
_MAX_TEXTURE_TRIES = 20


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
