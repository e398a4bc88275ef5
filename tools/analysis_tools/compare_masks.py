# Copyright (c) mmdet-gan contributors. All rights reserved.
"""Draw ground-truth masks next to the masks one or more models predict.

One row per validation image, one column for the ground truth and one per
model; masks are filled with their class colour, outlined, and labelled
(with the score for predictions).

Example:
    python tools/analysis_tools/compare_masks.py \
        --model configs/mask_rcnn/mask_rcnn_r18_fpn_demo.py \
            work_dirs/mask_rcnn_r18_fpn_demo/epoch_16.pth "Mask R-CNN" \
        --model configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py \
            work_dirs/gan_mask_rcnn_r18_fpn_demo/epoch_16.pth GAN-Mask-R-CNN \
        --out outputs/compare_masks.png --num-images 4 --score-thr 0.5

The images and ground truth come from the first model's
``val_dataloader.dataset`` (``data_root`` + ``ann_file`` and
``data_prefix.img``) unless ``--ann-file`` and ``--img-dir`` are given.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402

HEADER_PX = 28
"""Height in pixels of the strip holding the column titles."""


class ModelSpec:
    """A model to compare: its config, checkpoint and column label.

    Args:
        config (str): Config file.
        checkpoint (str): Checkpoint file.
        label (str, optional): Column title; the config's stem if None.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 label: Optional[str] = None) -> None:
        self.config = config
        self.checkpoint = checkpoint
        self.label = label or osp.splitext(osp.basename(config))[0]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line; ``--model`` is repeated, 2 or 3 values."""
    parser = argparse.ArgumentParser(
        description='Draw GT masks next to the predictions of one or more '
        'models, for a few validation images, into one PNG.')
    parser.add_argument(
        '--model',
        nargs='+',
        action='append',
        required=True,
        metavar='CONFIG CHECKPOINT [LABEL]',
        help='a model to compare (repeat for several)')
    parser.add_argument(
        '--out', default='outputs/compare_masks.png', help='output PNG')
    parser.add_argument(
        '--num-images', type=int, default=4, help='number of images (rows)')
    parser.add_argument(
        '--img-ids',
        type=int,
        nargs='+',
        help='COCO image ids to draw (default: the first --num-images)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.5,
        help='draw predictions with at least this score')
    parser.add_argument(
        '--ann-file', help='COCO annotation file (default: from the config)')
    parser.add_argument(
        '--img-dir', help='image folder (default: from the config)')
    parser.add_argument(
        '--panel-size',
        type=int,
        default=320,
        help='side of one image panel in pixels')
    parser.add_argument(
        '--unsafe-load-checkpoint',
        action='store_true',
        help='load checkpoints with weights_only=False (runs code from the '
        'file: only for files you trust)')
    parser.add_argument(
        '--device',
        default='cuda:0' if torch.cuda.is_available() else 'cpu',
        help='inference device')
    args = parser.parse_args(argv)
    specs = []
    for values in args.model:
        if len(values) not in (2, 3):
            parser.error('--model takes CONFIG CHECKPOINT [LABEL], got '
                         f'{len(values)} values: {values}')
        for path in values[:2]:
            if not osp.isfile(path):
                parser.error(f'--model: no such file: {path}')
        specs.append(ModelSpec(*values))
    args.model = specs
    if args.num_images < 1:
        parser.error(f'--num-images must be >= 1, got {args.num_images}')
    if not 0.0 <= args.score_thr <= 1.0:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    if args.panel_size < 32:
        parser.error(f'--panel-size must be >= 32, got {args.panel_size}')
    return args


def gt_source(config: str) -> Tuple[str, str]:
    """Annotation file and image folder of a config's validation set.

    Args:
        config (str): Config file.

    Returns:
        tuple[str, str]: ``(ann_file, img_dir)``.
    """
    dataset = Config.fromfile(config).val_dataloader.dataset
    data_root = dataset.get('data_root', '') or ''
    prefix = dataset.get('data_prefix', {}).get('img', '')
    return osp.join(data_root, dataset.ann_file), osp.join(data_root, prefix)


def class_colours(classes: Sequence[str],
                  palette: Optional[Sequence] = None) -> Dict[str, tuple]:
    """One RGB colour in [0, 1] per class name.

    Args:
        classes (Sequence[str]): Class names.
        palette (Sequence, optional): RGB 0-255 colours, one per class; the
            tab10 colour map when None or too short.

    Returns:
        dict[str, tuple]: Class name to (r, g, b).
    """
    if palette is None or len(palette) < len(classes):
        cmap = plt.get_cmap('tab10')
        return {c: tuple(cmap(i % 10)[:3]) for i, c in enumerate(classes)}
    return {
        c: tuple(v / 255 for v in palette[i][:3])
        for i, c in enumerate(classes)
    }


def draw_panel(ax: plt.Axes,
               img: np.ndarray,
               masks: Sequence[np.ndarray],
               labels: Sequence[str],
               colours: Dict[str, tuple],
               scores: Optional[Sequence[float]] = None,
               alpha: float = 0.45) -> None:
    """Draw an image with filled, outlined and labelled masks.

    Args:
        ax (plt.Axes): Axes to draw into.
        img (np.ndarray): (H, W, 3) uint8 RGB image.
        masks (Sequence[np.ndarray]): (H, W) binary masks.
        labels (Sequence[str]): Class name of each mask.
        colours (dict[str, tuple]): Class name to RGB in [0, 1].
        scores (Sequence[float], optional): Score of each mask, shown after
            the class name.
        alpha (float): Opacity of the mask fill. Defaults to 0.45.
    """
    canvas = img.astype(np.float32) / 255
    outlines = []
    for i, (mask, label) in enumerate(zip(masks, labels)):
        mask = mask.astype(bool)
        if not mask.any():
            continue
        colour = np.array(colours.get(label, (1.0, 1.0, 1.0)))
        canvas[mask] = (1 - alpha) * canvas[mask] + alpha * colour
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        ys, xs = np.nonzero(mask)
        text = label if scores is None else f'{label} {scores[i]:.2f}'
        outlines.append((contours, colour, text, xs.min(), ys.min()))
    ax.imshow(np.clip(canvas, 0, 1), interpolation='nearest')
    for contours, colour, text, x0, y0 in outlines:
        for contour in contours:
            pts = contour[:, 0, :]
            pts = np.concatenate([pts, pts[:1]], axis=0)
            # A dark halo keeps the outline visible on any texture.
            ax.plot(pts[:, 0], pts[:, 1], color='black', linewidth=2.0)
            ax.plot(pts[:, 0], pts[:, 1], color=colour, linewidth=1.0)
        ax.text(
            x0,
            y0,
            text,
            fontsize=6,
            color='white',
            va='bottom',
            ha='left',
            bbox=dict(facecolor=colour, alpha=0.8, pad=1, edgecolor='none'))
    ax.set_xlim(-0.5, img.shape[1] - 0.5)
    ax.set_ylim(img.shape[0] - 0.5, -0.5)
    ax.axis('off')


def predict(
        model: torch.nn.Module, img_path: str,
        score_thr: float) -> Tuple[List[np.ndarray], List[int], List[float]]:
    """Masks, labels and scores of one image's predictions above a score.

    Returns:
        tuple[list, list, list]: (H, W) bool masks, class indices and
        scores, highest score first.
    """
    from mmdet.apis import inference_detector
    pred = inference_detector(model, img_path).pred_instances
    keep = pred.scores >= score_thr
    pred = pred[keep]
    order = torch.argsort(pred.scores, descending=True)
    pred = pred[order]
    if 'masks' not in pred:
        raise KeyError('the model predicts no masks (pred_instances.masks); '
                       'is it an instance segmentation model?')
    masks = [m.cpu().numpy() for m in pred.masks]
    return masks, pred.labels.tolist(), pred.scores.tolist()


def compare_masks(specs: Sequence[ModelSpec],
                  out: str,
                  num_images: int = 4,
                  img_ids: Optional[Sequence[int]] = None,
                  score_thr: float = 0.5,
                  ann_file: Optional[str] = None,
                  img_dir: Optional[str] = None,
                  panel_size: int = 320,
                  device: str = 'cpu') -> Tuple[int, int]:
    """Draw the comparison PNG.

    Args:
        specs (Sequence[ModelSpec]): Models, one column each.
        out (str): Output PNG path.
        num_images (int): Rows, when ``img_ids`` is None. Defaults to 4.
        img_ids (Sequence[int], optional): COCO image ids to draw.
        score_thr (float): Smallest drawn prediction score. Defaults to 0.5.
        ann_file (str, optional): COCO annotation file; from the first
            model's config when None.
        img_dir (str, optional): Image folder; from the first model's config
            when None.
        panel_size (int): Side of one image panel in pixels. Defaults to 320.
        device (str): Inference device. Defaults to ``'cpu'``.

    Returns:
        tuple[int, int]: ``(height, width)`` of the written PNG.
    """
    from mmdet.apis import init_detector

    default_ann, default_dir = gt_source(specs[0].config)
    ann_file = ann_file or default_ann
    img_dir = img_dir or default_dir
    coco = COCO(ann_file)
    if img_ids is None:
        img_ids = sorted(coco.getImgIds())[:num_images]
    missing = [i for i in img_ids if i not in coco.imgs]
    if missing:
        raise KeyError(f'image ids {missing} are not in {ann_file}')
    cat_names = {c['id']: c['name'] for c in coco.loadCats(coco.getCatIds())}

    models = [
        init_detector(s.config, s.checkpoint, device=device) for s in specs
    ]
    meta = models[0].dataset_meta or {}
    classes = list(meta.get('classes', []))
    classes += [n for n in cat_names.values() if n not in classes]
    colours = class_colours(classes, meta.get('palette'))

    rows, cols = len(img_ids), 1 + len(models)
    dpi = 100
    height, width = HEADER_PX + rows * panel_size, cols * panel_size
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    titles = ['ground truth'] + [s.label for s in specs]
    for c, title in enumerate(titles):
        fig.text(
            (c + 0.5) / cols,
            1 - HEADER_PX / 2 / height,
            title,
            ha='center',
            va='center',
            fontsize=10)

    def panel(r: int, c: int) -> plt.Axes:
        top = HEADER_PX + r * panel_size
        return fig.add_axes([
            c / cols, 1 - (top + panel_size) / height, 1 / cols,
            panel_size / height
        ])

    for r, img_id in enumerate(img_ids):
        info = coco.imgs[img_id]
        img_path = osp.join(img_dir, info['file_name'])
        img = cv2.imread(img_path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'cannot read image {img_path}')
        img = img[..., ::-1]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=None))
        draw_panel(
            panel(r, 0), img, [coco.annToMask(a) for a in anns],
            [cat_names[a['category_id']] for a in anns], colours)
        for c, model in enumerate(models, start=1):
            model_classes = (model.dataset_meta or {}).get('classes', classes)
            masks, labels, scores = predict(model, img_path, score_thr)
            draw_panel(
                panel(r, c), img, masks, [model_classes[i] for i in labels],
                colours, scores)

    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return height, width


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    if args.unsafe_load_checkpoint:
        from mmdet_gan.utils.launch import allow_unsafe_checkpoint_load
        allow_unsafe_checkpoint_load()
    height, width = compare_masks(
        args.model,
        args.out,
        num_images=args.num_images,
        img_ids=args.img_ids,
        score_thr=args.score_thr,
        ann_file=args.ann_file,
        img_dir=args.img_dir,
        panel_size=args.panel_size,
        device=args.device)
    print(f'wrote {args.out} ({width}x{height})')
    return 0


if __name__ == '__main__':
    # imported here: importing this tool stays free of mmdet_gan
    from mmdet_gan.utils.warning_filters import \
        ignore_pkg_resources_deprecation
    ignore_pkg_resources_deprecation()
    sys.exit(main())
