"""The computed fields of a GV-B protocol's data: subset lists, layouts, recipe sizes.

The pipelines and dataset settings are written in the protocol templates
(``configs/gvb/_base_/{family}.py``); :func:`fill_data` puts in what depends on the run:

* the recipe's sizes (crop, resize and test scales; a detection ``RandomResize`` range
  from ``train_scales``; a depth ``Resize`` from ``img_scale``; the depth scale of the
  layout);
* the datasets: data root, the subset list of the training split (``<split>.txt``,
  ``<split>_<source>.txt`` per VOC source, ``<split>.json`` for COCO), the test files of
  the layout, class names, and for detection one ``XMLDataset`` / ``VOCDataset`` per VOC
  source (concatenated) or a ``CocoDataset``, repeated ``repeat`` times;
* batch sizes and workers.

Example:
    >>> cfg = load_template('cls', 'probe')   # doctest: +SKIP
    >>> fill_data(cfg, ctx)                    # doctest: +SKIP
    >>> cfg['train_dataloader']['dataset']['ann_file']  # doctest: +SKIP
    '/abs/subsets/cifar10/ratio0.1_seed0_val0.2/subset.txt'
"""
import copy
import os.path as osp
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:
    from .protocols import ProtocolContext

__all__ = ['fill_data', 'split_file', 'abs_path', 'set_cls_sizes']


def abs_path(root: str, path: str) -> str:
    """``path`` under ``root`` unless it is absolute."""
    return path if osp.isabs(path) else osp.join(root, path)


def split_file(ctx: 'ProtocolContext', split: str, name: str = '', ext: str = '.txt') -> str:
    """Absolute path of a subset list (``<subset_dir>/<split>[_<name>]<ext>``).

    Raises:
        FileNotFoundError: If it does not exist (unless ``ctx.check_files`` is False).
    """
    suffix = f'_{name}' if name else ''
    path = osp.abspath(osp.join(ctx.subset_dir, f'{split}{suffix}{ext}'))
    if ctx.check_files and not osp.isfile(path):
        raise FileNotFoundError(f'subset list {path} does not exist')
    return path


def _first(pipeline: List[dict], *types: str) -> dict:
    return next(t for t in pipeline if t['type'] in types)


# ----------------------------------------------------------------------------------------
# pipelines: the recipe's sizes
# ----------------------------------------------------------------------------------------
def set_cls_sizes(pipeline: List[dict], img_size: int,
                  resize_size: Optional[int] = None) -> List[dict]:
    """Put a classification recipe's sizes into a template pipeline (in place).

    Args:
        pipeline (list[dict]): A pipeline of ``configs/gvb/_base_/cls*.py``.
        img_size (int): Crop size (``CenterCrop``, ``RandomResizedCrop``).
        resize_size (int, optional): Short side of ``ResizeEdge`` (default ``img_size``).

    Returns:
        list[dict]: ``pipeline``.
    """
    for t in pipeline:
        if t['type'] == 'ResizeEdge':
            t['scale'] = resize_size or img_size
        elif t['type'] == 'CenterCrop':
            t['crop_size'] = img_size
        elif t['type'] == 'RandomResizedCrop':
            t['scale'] = img_size
    return pipeline


def _cls_pipelines(ctx: 'ProtocolContext', train: list, test: list) -> None:
    for pipeline in (train, test):
        set_cls_sizes(pipeline, ctx.recipe['img_size'], ctx.recipe.get('resize_size'))


def _det_pipelines(ctx: 'ProtocolContext', train: list, test: list) -> None:
    scale = tuple(ctx.recipe['img_scale'])
    scales = ctx.recipe.get('train_scales')
    resize = _first(train, 'Resize')
    if scales:
        # [(w_min, h_min), (w_max, h_max)]: multi-scale training (a random scale in that
        # range per image, as the CityPersons recipe of the release)
        train[train.index(resize)] = dict(type='RandomResize',
                                          scale=[tuple(s) for s in scales], keep_ratio=True)
    else:
        resize['scale'] = scale
    _first(test, 'Resize')['scale'] = scale


def _seg_pipelines(ctx: 'ProtocolContext', train: list, test: list) -> None:
    scale = tuple(ctx.recipe['img_scale'])
    _first(train, 'RandomResize')['scale'] = scale
    _first(train, 'RandomCrop')['crop_size'] = tuple(ctx.recipe['crop_size'])
    _first(test, 'Resize')['scale'] = scale


def _depth_pipelines(ctx: 'ProtocolContext', train: list, test: list) -> None:
    factor = 1.0 / float(ctx.layout.get('depth_scale', 1000.0))
    for pipeline in (train, test):
        _first(pipeline, 'LoadDepthAnnotation')['depth_rescale_factor'] = factor
    _first(train, 'RandomCrop')['crop_size'] = tuple(ctx.recipe['crop_size'])
    if ctx.recipe.get('img_scale'):
        resize = dict(type='Resize', scale=tuple(ctx.recipe['img_scale']), keep_ratio=True)
        train.insert(2, resize)
        test.insert(1, copy.deepcopy(resize))


# ----------------------------------------------------------------------------------------
# datasets: roots, subset lists, layouts
# ----------------------------------------------------------------------------------------
def _source(ctx: 'ProtocolContext', split: str):
    return ctx.layout['test'] if split == 'test' else ctx.layout['train']


def _ann_file(ctx: 'ProtocolContext', split: str, src: dict, ext: str = '.txt') -> str:
    """The layout's test file, or the subset list of a training / carved split."""
    if split == 'test':
        return abs_path(osp.abspath(ctx.data_root), src['ann_file'])
    return split_file(ctx, split, ext=ext)


def _cls_dataset(ctx: 'ProtocolContext', split: str, ds: dict) -> dict:
    ds['data_root'] = osp.abspath(ctx.data_root)
    src = _source(ctx, split)
    if split == 'test' and 'ann_file' not in src:  # an ImageFolder test split
        ds.update(ann_file='', data_prefix=src['img_dir'])
    else:
        ds['ann_file'] = _ann_file(ctx, split, src)
    classes = osp.join(ctx.subset_dir, 'classes.txt')
    if osp.isfile(classes):
        ds['classes'] = osp.abspath(classes)
    elif ctx.task.classes:
        ds['classes'] = list(ctx.task.classes)
    return ds


def _det_dataset(ctx: 'ProtocolContext', split: str, ds: dict) -> dict:
    """The task's COCO dataset, or one VOC dataset per source (concatenated), built from
    the template's leaf dataset (pipeline, filter) and repeated ``repeat`` times."""
    if ds['type'] == 'RepeatDataset':
        ds = ds['dataset']
    root = osp.abspath(ctx.data_root)
    fmt = ctx.layout['format']
    test_mode = split in ('test', 'val')
    leaf = dict(ds, data_root=root, metainfo=dict(classes=tuple(ctx.task.classes)),
                test_mode=test_mode)
    if test_mode:
        leaf.pop('filter_cfg', None)
    for key in ('type', 'ann_file', 'data_prefix'):
        leaf.pop(key, None)
    if fmt == 'voc':
        datasets = []
        for src in _source(ctx, split):
            ann = abs_path(root, src['ann_file']) if split == 'test' else split_file(
                ctx, split, src['name'])
            one = dict(copy.deepcopy(leaf), ann_file=ann,
                       type='VOCDataset' if 'VOC20' in src.get('sub_root', '') else
                       'XMLDataset', data_prefix=dict(sub_data_root=src.get('sub_root', '')),
                       img_subdir=src.get('img_subdir', 'JPEGImages'),
                       ann_subdir=src.get('ann_subdir', 'Annotations'))
            if 'filter_cfg' in one:
                one['filter_cfg'] = dict(one['filter_cfg'], bbox_min_size=8)
            datasets.append(one)
        dataset = datasets[0] if len(datasets) == 1 else dict(
            type='ConcatDataset', datasets=datasets, ignore_keys=['dataset_type'])
    elif fmt == 'coco':
        src = _source(ctx, split)
        dataset = dict(leaf, type='CocoDataset', ann_file=_ann_file(ctx, split, src, '.json'),
                       data_prefix=dict(img=src.get('img_prefix', '')))
    else:
        raise ValueError(f'detection task {ctx.task.name}: unsupported format {fmt}')
    if not test_mode and ctx.recipe.get('repeat', 1) > 1:
        dataset = dict(type='RepeatDataset', times=ctx.recipe['repeat'], dataset=dataset)
    return dataset


def _dense_dataset(ctx: 'ProtocolContext', split: str, ds: dict) -> dict:
    """Segmentation (``seg_dir``) and depth (``depth_dir``) datasets of a layout."""
    src = _source(ctx, split)
    seg = ctx.task.family == 'seg'
    ds.update(data_root=osp.abspath(ctx.data_root), ann_file=_ann_file(ctx, split, src),
              img_suffix=src.get('img_suffix', '.jpg'),
              test_mode=split != 'subset' and split != 'train')
    if seg:
        ds.update(data_prefix=dict(img_path=src['img_dir'], seg_map_path=src['seg_dir']),
                  seg_map_suffix=src.get('seg_suffix', '.png'),
                  metainfo=dict(classes=tuple(ctx.task.classes)))
    else:
        ds.update(data_prefix=dict(img_path=src['img_dir'], depth_map_path=src['depth_dir']),
                  depth_map_suffix=src.get('depth_suffix', '.png'))
    return ds


_PIPELINES = dict(cls=_cls_pipelines, det=_det_pipelines, seg=_seg_pipelines,
                  depth=_depth_pipelines)
_DATASETS = dict(cls=_cls_dataset, det=_det_dataset, seg=_dense_dataset,
                 depth=_dense_dataset)


def _leaf(ds: dict) -> dict:
    return ds['dataset'] if ds.get('type') == 'RepeatDataset' else ds


def fill_data(cfg: dict, ctx: 'ProtocolContext') -> Tuple[dict, dict]:
    """Fill a protocol template's ``train_dataloader`` / ``test_dataloader`` (in place):
    training on ``ctx.train_split`` (a subset list), evaluation on ``ctx.eval_split``.

    Args:
        cfg (dict): The template.
        ctx (ProtocolContext): The run.

    Returns:
        tuple[dict, dict]: ``(train_dataset, eval_dataset)``.
    """
    family = ctx.task.family
    train, test = cfg['train_dataloader'], cfg['test_dataloader']
    _PIPELINES[family](ctx, _leaf(train['dataset'])['pipeline'],
                       _leaf(test['dataset'])['pipeline'])
    train['dataset'] = _DATASETS[family](ctx, ctx.train_split, train['dataset'])
    test['dataset'] = _DATASETS[family](ctx, ctx.eval_split, test['dataset'])
    workers = ctx.num_workers
    train.update(batch_size=ctx.recipe['batch_size'], num_workers=workers,
                 persistent_workers=workers > 0)
    test.update(batch_size=ctx.recipe['test_batch_size'], num_workers=workers,
                persistent_workers=workers > 0)
    return train['dataset'], test['dataset']
