"""Early, explained errors for detection data sets.

MMDetection skips most bad annotations on its own (images without
annotations, crowd-only images, boxes without area, polygons with fewer than
3 points, category ids outside the config). A few mistakes it does not
explain, or does not catch at all:

- an instance without ``segmentation`` when the pipeline loads masks fails
  in the middle of training, in a data loader worker, as ``KeyError: 'mask'``;
- ``metainfo.classes`` names that the annotation file does not have are
  dropped silently, and the remaining classes get shifted labels;
- a data set that is empty after filtering fails while it is built with
  ``ValueError: need at least one array to concatenate``.

:func:`check_detection_dataset` finds the first two on a built data set
(``DatasetCheckHook`` runs it before training); :func:`explain_dataset_error`
turns the third into a message naming the cause.
"""
import json
import os.path as osp
from typing import Iterator, List, Optional

#: Message of the error MMEngine's ``BaseDataset._serialize_data`` raises
#: when no image is left after filtering.
EMPTY_DATASET_MESSAGE = 'need at least one array to concatenate'


class DatasetCheckError(ValueError):
    """A data set that training cannot use, with the field and the fix."""


def base_datasets(dataset) -> Iterator:
    """The data sets inside MMEngine's / MMDetection's dataset wrappers
    (``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``,
    ``MultiImageMixDataset``), or ``dataset`` itself."""
    if hasattr(dataset, 'datasets'):
        for sub in dataset.datasets:
            yield from base_datasets(sub)
    elif hasattr(dataset, 'dataset'):
        yield from base_datasets(dataset.dataset)
    else:
        yield dataset


def pipeline_loads_masks(dataset) -> bool:
    """Whether ``dataset``'s pipeline has a ``LoadAnnotations`` with
    ``with_mask=True``."""
    pipeline = getattr(dataset, 'pipeline', None)
    transforms = getattr(pipeline, 'transforms', None) or []
    return any(getattr(t, 'with_mask', False) for t in transforms)


def _ann_file(dataset) -> str:
    return getattr(dataset, 'ann_file', None) or '<ann_file>'


def _category_names(ann_file: str) -> List[str]:
    with open(ann_file) as f:
        return [cat.get('name') for cat in json.load(f).get('categories', [])]


def check_classes(dataset) -> None:
    """``metainfo.classes`` must each be exactly one category name of the
    annotation file (COCO-style data sets, which keep ``cat_ids``; others
    are not checked). The file is read again only when they do not match.

    Raises:
        DatasetCheckError: some class names are missing from the file, or
            appear in it more than once.
    """
    cat_ids = getattr(dataset, 'cat_ids', None)
    classes = list(getattr(dataset, 'metainfo', {}).get('classes') or [])
    if cat_ids is None or not classes or len(cat_ids) == len(classes):
        return
    ann_file = _ann_file(dataset)
    names = _category_names(ann_file) if osp.isfile(ann_file) else []
    missing = [name for name in classes if name not in names]
    if missing:
        raise DatasetCheckError(
            f'metainfo.classes {missing} are not category names of '
            f'{ann_file} (it has {names}), so their annotations would be '
            'dropped and the other classes\' labels shifted: make '
            'metainfo.classes match the file\'s categories[].name')
    repeated = sorted({name for name in classes if names.count(name) > 1})
    raise DatasetCheckError(
        f'{ann_file} has several categories named {repeated}, so '
        'metainfo.classes no longer give the labels: give every category '
        'of the file its own name')


def check_masks(dataset) -> None:
    """Every instance has a mask when the pipeline loads masks.

    Raises:
        DatasetCheckError: the first instance without ``segmentation``,
            with its image.
    """
    if not pipeline_loads_masks(dataset):
        return
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        for inst in info.get('instances', []):
            if 'mask' not in inst:
                raise DatasetCheckError(
                    f'{_ann_file(dataset)}: an annotation of image '
                    f'{info.get("img_path", info.get("img_id"))} (bbox '
                    f'{inst.get("bbox")}) has no or an empty "segmentation",'
                    ' but the pipeline loads masks (LoadAnnotations '
                    'with_mask=True): give it a polygon or RLE '
                    'segmentation, or drop the annotation (or set its '
                    '"ignore": true)')


def check_detection_dataset(dataset) -> None:
    """Run the checks of this module on a built data set (wrappers are
    unwrapped). Costs one pass over the parsed annotations when the
    pipeline loads masks.

    Raises:
        DatasetCheckError: the first problem found.
    """
    for base in base_datasets(dataset):
        if len(base) == 0:
            raise DatasetCheckError(
                f'{_ann_file(base)}: the data set has no image left after '
                'filtering (filter_cfg): check the annotation file and '
                'metainfo.classes')
        check_classes(base)
        check_masks(base)


def _dataset_ann_file(dataset_cfg: dict) -> Optional[str]:
    ann_file = dataset_cfg.get('ann_file')
    if not ann_file:
        return None
    data_root = dataset_cfg.get('data_root') or ''
    return ann_file if osp.isabs(ann_file) else osp.join(data_root, ann_file)


def explain_empty_dataset(dataset_cfg: dict) -> str:
    """Why a COCO-style data set config gives no image (reads its
    annotation file: meant for the error path, not for every run).

    Args:
        dataset_cfg (dict): ``train_dataloader.dataset`` of a config.

    Returns:
        str: one sentence with the cause and what to set.
    """
    ann_file = _dataset_ann_file(dataset_cfg)
    classes = list((dataset_cfg.get('metainfo') or {}).get('classes') or [])
    if ann_file is None or not osp.isfile(ann_file):
        return (f'the data set has no image: its ann_file {ann_file!r} does '
                'not exist; set data_root and ann_file')
    with open(ann_file) as f:
        content = json.load(f)
    images = content.get('images') or []
    anns = content.get('annotations') or []
    names = [cat.get('name') for cat in content.get('categories') or []]
    if not images:
        return f'{ann_file} lists no images: fill its "images"'
    if classes and not set(classes) & set(names):
        return (f'none of metainfo.classes {classes} is a category name of '
                f'{ann_file} (it has {names}): make metainfo.classes match '
                'its categories[].name')
    if not anns:
        return (f'{ann_file} has no annotations and filter_cfg.'
                'filter_empty_gt=True drops images without any: add '
                'annotations, or set filter_cfg=dict(filter_empty_gt=False)')
    min_size = (dataset_cfg.get('filter_cfg') or {}).get('min_size', 0)
    return (f'no image of {ann_file} is left after filtering: images need '
            'an annotation of metainfo.classes (filter_cfg.filter_empty_gt)'
            f' and both sides >= filter_cfg.min_size ({min_size})')


def _raised_in(err: BaseException, function: str) -> bool:
    """Whether ``function`` is on ``err``'s traceback."""
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == function:
            return True
        tb = tb.tb_next
    return False


def explain_dataset_error(err: BaseException,
                          dataset_cfg: dict) -> Optional[DatasetCheckError]:
    """A :class:`DatasetCheckError` explaining ``err`` if it is MMEngine's
    empty-data-set error, else None.

    Use around building / training::

        try:
            runner.train()
        except ValueError as err:
            explained = explain_dataset_error(
                err, cfg.train_dataloader.dataset)
            if explained is None:
                raise
            raise explained from err
    """
    if not isinstance(err, ValueError) or EMPTY_DATASET_MESSAGE not in str(
            err) or not _raised_in(err, '_serialize_data'):
        return None
    return DatasetCheckError('The training data set is empty: ' +
                             explain_empty_dataset(dict(dataset_cfg)))


__all__: List[str] = [
    'DatasetCheckError', 'base_datasets', 'check_classes', 'check_masks',
    'check_detection_dataset', 'explain_dataset_error',
    'explain_empty_dataset', 'pipeline_loads_masks'
]
