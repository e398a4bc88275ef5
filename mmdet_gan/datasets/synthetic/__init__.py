# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Generator of a small synthetic COCO-format instance-segmentation
dataset (the demo data).

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

Modules: :mod:`.rendering` draws the images and masks, :mod:`.coco_writer`
writes a split's images and COCO annotations, :mod:`.manifest` records the
parameters and tells whether a folder is up to date, and :mod:`.demo`'s
:func:`create_demo_dataset` puts them together (the entry point of
``tools/dataset_converters/create_demo_dataset.py``). The data are read
with MMDetection's ``CocoDataset``; nothing here is a ``Dataset``.
"""
from .coco_writer import mask_to_annotation
from .config import DemoDatasetConfig
from .demo import create_demo_dataset
from .manifest import MANIFEST_NAME, is_up_to_date
from .rendering import DEMO_CLASSES, DEMO_PALETTE, generate_image

__all__ = [
    'DEMO_CLASSES', 'DEMO_PALETTE', 'DemoDatasetConfig', 'MANIFEST_NAME',
    'create_demo_dataset', 'generate_image', 'is_up_to_date',
    'mask_to_annotation'
]
