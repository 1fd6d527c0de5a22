"""Validate the datasets of a config before a long run: files, decoding, annotations, classes.

Works on any mmengine config (stock mmpretrain / mmdet / mmseg or intern_mm): each
split's dataset is built the way the Runner builds it (same registry scope), wrappers
(``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``, ``MultiSourceDataset``,
...) are opened down to their leaf datasets, and for every leaf

* the annotations are parsed (the dataset's own ``load_data_list``; a broken VOC XML is
  named by file),
* every image (and segmentation map) exists, and with ``decode=True`` decodes with the
  loader the pipeline uses (its ``LoadImageFromFile`` with the configured backend, so a
  truncated JPEG that PIL or ``cv2.imread`` still open but mmcv refuses is caught),
* every configured class occurs in the annotations and no annotation names a class the
  config lacks (VOC XML object names, COCO categories, classification labels, mask
  values with ``decode=True``).

Each problem is one line naming the file. :func:`check_config_datasets` returns them;
:func:`check_class_names` is the one place that words a class-name mismatch (used by the
datasets that refuse one, e.g. :class:`~intern_mm.datasets.MultiSourceDataset`).

Example:
    >>> from mmengine.config import Config
    >>> cfg = Config.fromfile('configs/metanet/metanet-tiny_faster-rcnn_fpn_20e_raccoon.py')
    >>> report = check_config_datasets(cfg, splits=('train', ), decode=True)
    >>> report['train'].problems
    []
"""
import copy
import os.path as osp
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from intern_mm.datasets.gvb.annotations import (coco_categories, label_name, load_coco,
                                                voc_object_names)

__all__ = [
    'ClassNameMismatchError', 'DataCheckError', 'SplitReport', 'class_mismatch_message',
    'check_class_names', 'annotated_class_names', 'check_dataset_cfg', 'check_config_datasets',
    'SPLITS'
]

#: Dataloader splits of an mmengine config: ``<split>_dataloader.dataset``.
SPLITS = ('train', 'val', 'test')
#: Keys of dataset wrappers that hold the wrapped dataset config(s).
_WRAPPED_KEYS = ('datasets', 'dataset')
#: How many examples a repeated problem lists before counting the rest.
_MAX_EXAMPLES = 3


class ClassNameMismatchError(ValueError):
    """A dataset's configured class names do not match the names its annotations use."""


class DataCheckError(ValueError):
    """Data problems found before a run; ``problems`` holds one line per problem.

    Args:
        problems (Sequence[str]): The problem lines.
        hint (str): A last line saying what to do. Defaults to ``''``.
    """

    def __init__(self, problems: Sequence[str], hint: str = '') -> None:
        self.problems = list(problems)
        lines = [f'{len(self.problems)} data problem(s):'] + [f'  {p}' for p in problems]
        if hint:
            lines.append(hint)
        super().__init__('\n'.join(lines))


@dataclass
class SplitReport:
    """What :func:`check_dataset_cfg` found for one split.

    Attributes:
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        problems (list[str]): One line per problem, naming the file.
        num_samples (int): Samples of the leaf datasets (before wrappers repeat them).
        num_decoded (int): Files decoded (0 without ``decode``).
        classes (dict): ``leaf description -> Counter(class name -> occurrences)``.
    """
    split: str
    problems: List[str] = field(default_factory=list)
    num_samples: int = 0
    num_decoded: int = 0
    classes: Dict[str, Counter] = field(default_factory=dict)


def class_mismatch_message(classes: Sequence[str], found: Sequence[str],
                           where: str) -> Optional[str]:
    """Word a mismatch between configured and annotated class names, or None if none.

    Args:
        classes (Sequence[str]): Configured class names.
        found (Sequence[str]): Class names the annotations use (any order, repeats ok).
        where (str): The file or source the annotations come from.

    Returns:
        str | None: ``"<where>: class names do not match: unknown class names
        (annotated, not configured): [...]; unused class names (configured, never
        annotated): [...]"`` with a case hint, or None when both lists are empty.

    Example:
        >>> class_mismatch_message(['Person'], ['person'], 'ann/1.xml')
        "ann/1.xml: class names do not match: unknown class names (annotated, not \
configured): ['person']; unused class names (configured, never annotated): ['Person'] \
(case differs: 'person' vs 'Person')"
    """
    configured = [str(c) for c in classes]
    seen = {str(c) for c in found}
    unknown = sorted(seen - set(configured))
    unused = [c for c in configured if c not in seen]
    if not unknown and not unused:
        return None
    parts = []
    if unknown:
        parts.append(f'unknown class names (annotated, not configured): {unknown}')
    if unused:
        parts.append(f'unused class names (configured, never annotated): {unused}')
    lower = {c.lower(): c for c in unused}
    cases = [f'{u!r} vs {lower[u.lower()]!r}' for u in unknown if u.lower() in lower]
    hint = f' (case differs: {", ".join(cases)})' if cases else ''
    return f'{where}: class names do not match: {"; ".join(parts)}{hint}'


def check_class_names(classes: Sequence[str],
                      found: Sequence[str],
                      where: str,
                      allow_unused: bool = False) -> None:
    """Raise :class:`ClassNameMismatchError` if annotations and config disagree.

    Args:
        classes (Sequence[str]): Configured class names.
        found (Sequence[str]): Class names the annotations use.
        where (str): The file or source the annotations come from.
        allow_unused (bool): Accept configured classes that are never annotated (only
            unknown names fail). Defaults to False.

    Raises:
        ClassNameMismatchError: Listing the unknown and the unused names.

    Example:
        >>> check_class_names(['cat', 'dog'], ['cat', 'dog', 'dog'], 'train.txt')
        >>> check_class_names(['cat'], ['Cat'], 'train.txt')  # doctest: +SKIP
        ClassNameMismatchError: train.txt: class names do not match: ...
    """
    seen = list(found)
    if allow_unused:
        seen = seen + [c for c in classes]
    message = class_mismatch_message(classes, seen, where)
    if message:
        raise ClassNameMismatchError(message)


# ----------------------------------------------------------------------------------------
# Building datasets the way the Runner does
# ----------------------------------------------------------------------------------------
def _registries():
    from mmengine.registry import DATASETS, TRANSFORMS
    return DATASETS, TRANSFORMS


def _type_name(cfg: dict) -> str:
    t = cfg.get('type', '')
    return t if isinstance(t, str) else getattr(t, '__name__', str(t))


def _is_wrapper(cfg: dict) -> bool:
    return any(isinstance(cfg.get(k), (dict, list, tuple)) and k in cfg
               for k in _WRAPPED_KEYS) and 'ann_file' not in cfg


def _leaves(cfg: dict, data_root: Optional[str] = None) -> List[dict]:
    """Leaf dataset configs of a (possibly wrapped) dataset config."""
    cfg = copy.deepcopy(dict(cfg))
    if data_root is not None and not _is_wrapper(cfg):
        cfg['data_root'] = data_root
    if not _is_wrapper(cfg):
        return [cfg]
    if 'MultiSource' in _type_name(cfg) and cfg.get('data_root') is not None:
        data_root = cfg['data_root']
    out = []
    for key in _WRAPPED_KEYS:
        inner = cfg.get(key)
        if isinstance(inner, dict):
            out.extend(_leaves(inner, data_root))
        elif isinstance(inner, (list, tuple)):
            for item in inner:
                if isinstance(item, dict):
                    out.extend(_leaves(item, data_root))
    return out


def _build_leaf(cfg: dict):
    """Build a leaf dataset unfiltered, unserialised, without pipeline; load its list."""
    DATASETS, _ = _registries()
    light = dict(cfg, lazy_init=True, serialize_data=False, pipeline=[])
    light.pop('filter_cfg', None)
    try:
        dataset = DATASETS.build(light)
    except TypeError:  # a dataset class without one of the BaseDataset arguments
        dataset = DATASETS.build(dict(cfg, lazy_init=True))
    if hasattr(dataset, 'filter_cfg'):
        dataset.filter_cfg = None
    dataset.full_init()
    return dataset


def _loader(pipeline: Sequence[dict], kind: str) -> Optional[Callable]:
    """The pipeline's image loader (``kind='img'``) or annotation loader (``'seg'``)."""
    _, TRANSFORMS = _registries()
    for t in pipeline or []:
        if not isinstance(t, dict):
            continue
        name = _type_name(t).split('.')[-1]
        if kind == 'img' and name.startswith('LoadImageFromFile'):
            raise_ = dict(skip=False) if name == 'LoadImageFromFileOrSkip' else {}  # say why
            return TRANSFORMS.build(dict(copy.deepcopy(t), **raise_))
        if kind == 'seg' and name == 'LoadAnnotations':
            return t
    if kind == 'img':
        from mmcv.transforms import LoadImageFromFile
        return LoadImageFromFile()
    return None


def _short(path: str) -> str:
    return osp.relpath(path) if not osp.relpath(path).startswith('../../..') else path


def _error_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f'{type(err).__name__}: {text[0] if text else ""}'.rstrip(': ')


# ----------------------------------------------------------------------------------------
# Class names found in annotations (read by intern_mm.datasets.gvb.annotations)
# ----------------------------------------------------------------------------------------
def _coco_names(ann_file: str) -> Counter:
    coco = load_coco(ann_file)
    names = dict(coco_categories(coco))
    return Counter(names.get(a['category_id'], f'<category id {a["category_id"]}>')
                   for a in coco['annotations'])


def _annotated_names(dataset, data_list: List[dict], classes: Sequence[str],
                     problems: List[str]) -> Optional[Counter]:
    """Class names the annotations use (None when they cannot tell without decoding)."""
    if data_list and 'xml_path' in data_list[0]:
        found: Counter = Counter()
        for info in data_list:
            try:
                found.update(voc_object_names(info['xml_path'], skip_difficult=False))
            except (OSError, ET.ParseError) as err:
                problems.append(f'{_short(info["xml_path"])}: {_error_line(err)}')
        return found
    ann_file = getattr(dataset, 'ann_file', '') or ''
    if ann_file.endswith('.json') and 'instances' in (data_list[0] if data_list else {}):
        try:
            return _coco_names(ann_file)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not a COCO file: fall back to the parsed labels
    if data_list and 'gt_label' in data_list[0]:
        found = Counter()
        for info in data_list:
            labels = np.atleast_1d(np.asarray(info['gt_label'])).tolist()
            found.update(label_name(classes, int(v)) for v in labels)
        return found
    if data_list and 'instances' in data_list[0]:
        return Counter(
            label_name(classes, int(inst['bbox_label'])) for info in data_list
            for inst in info.get('instances', [])
            if 'bbox_label' in inst and not inst.get('ignore_flag', 0))
    return None


def annotated_class_names(dataset) -> Optional[Counter]:
    """Class names the annotations of a built dataset use, with their counts.

    VOC XML object names and COCO category names are read from the annotation files
    (they keep names the dataset's ``classes`` lack, which the dataset itself drops);
    classification labels and box labels map through ``metainfo['classes']``
    (out-of-range labels appear as ``'<label K>'``). Segmentation maps are not decoded.

    Args:
        dataset (BaseDataset): A built (initialised) mmengine dataset.

    Returns:
        Counter | None: ``name -> occurrences``; None when the annotations hold no
        class information readable without decoding.

    Raises:
        ValueError: If an XML annotation cannot be parsed (naming the file).

    Example:
        >>> annotated_class_names(voc_dataset)  # doctest: +SKIP
        Counter({'person': 12, 'dog': 3})
    """
    if not getattr(dataset, '_fully_initialized', True):
        dataset.full_init()
    data_list = [dataset.get_data_info(i) for i in range(len(dataset))]
    classes = [str(c) for c in (dataset.metainfo.get('classes') or ())]
    problems: List[str] = []
    found = _annotated_names(dataset, data_list, classes, problems)
    if problems:
        raise ValueError('; '.join(problems))
    return found


# ----------------------------------------------------------------------------------------
# Per-leaf and per-config checks
# ----------------------------------------------------------------------------------------
def _decode_seg(path: str, load_cfg: Optional[dict], info: dict) -> np.ndarray:
    import mmcv
    from mmengine.fileio import get
    backend = (load_cfg or {}).get('imdecode_backend', 'pillow')
    seg = mmcv.imfrombytes(get(path), flag='unchanged', backend=backend)
    if seg is None:
        raise ValueError(f'mmcv could not decode it (backend {backend})')
    seg = seg.squeeze().astype(np.uint8)
    if info.get('reduce_zero_label'):
        seg[seg == 0] = 255
        seg = seg - 1
        seg[seg == 254] = 255
    label_map = info.get('label_map')
    if label_map:
        copied = seg.copy()
        for old, new in label_map.items():
            copied[seg == old] = new
        seg = copied
    return seg


def _check_leaf_classes(dataset, data_list: list, classes: List[str], seg_found: Counter,
                        where: str, report: SplitReport, check_unused: bool,
                        allow_unknown: bool) -> None:
    """Record the leaf's annotated class names and a line when they differ from
    ``classes``; ``seg_found`` (names decoded from the masks) is used when the
    annotations name no class."""
    if not classes:
        return
    found = _annotated_names(dataset, data_list, classes, report.problems)
    if found is None and seg_found:
        found = seg_found
    if found is None:
        return
    report.classes[where] = found
    unknown = sorted(set(found) - set(classes))
    if allow_unknown:
        found = found + Counter({c: 0 for c in unknown})
        found = Counter({k: v for k, v in found.items() if k in classes})
    seen = list(found) + ([] if check_unused else classes)
    message = class_mismatch_message(classes, seen, where)
    if message:
        report.problems.append(message)


def _check_leaf(cfg: dict, report: SplitReport, decode: bool, check_unused: bool,
                allow_unknown: bool, progress: Optional[Callable[[str], None]]) -> None:
    where = cfg.get('ann_file') or cfg.get('data_root') or _type_name(cfg)
    where = osp.join(cfg.get('data_root', '') or '', where) if not osp.isabs(
        str(where)) and cfg.get('ann_file') else str(where)
    try:
        dataset = _build_leaf(cfg)
    except Exception as err:  # noqa: BLE001  (any failure to read is a problem line)
        report.problems.append(f'{_short(where)}: cannot load the annotations: '
                               f'{_error_line(err)}')
        return
    data_list = list(dataset.data_list)
    report.num_samples += len(data_list)
    if not data_list:
        report.problems.append(f'{_short(where)}: the dataset is empty')
        return
    classes = [str(c) for c in (dataset.metainfo.get('classes') or ())]
    img_loader = _loader(cfg.get('pipeline'), 'img') if decode else None
    img_loader_name = type(img_loader).__name__ if img_loader is not None else ''
    seg_load_cfg = _loader(cfg.get('pipeline'), 'seg')
    seg_found: Counter = Counter()
    ignore_index = getattr(dataset, 'ignore_index', 255)
    for i, info in enumerate(data_list):
        if progress and i % 500 == 0:
            progress(f'{report.split}: {_short(where)}: {i}/{len(data_list)}')
        for key in ('img_path', 'seg_map_path'):
            path = info.get(key)
            if not path:
                continue
            if not osp.isfile(path):
                report.problems.append(f'{_short(path)}: file does not exist ({key})')
                continue
            if not decode:
                continue
            try:
                if key == 'img_path':
                    results = img_loader(dict(img_path=path))
                    if results is None or results.get('img') is None:
                        raise ValueError('the loader returned no image')
                else:
                    seg = _decode_seg(path, seg_load_cfg, info)
                    values = np.unique(seg)
                    seg_found.update(
                        label_name(classes, int(v)) for v in values if v != ignore_index)
                report.num_decoded += 1
            except Exception as err:  # noqa: BLE001
                loader = img_loader_name if key == 'img_path' else 'mmcv.imfrombytes'
                report.problems.append(f'{_short(path)}: cannot be decoded by {loader} '
                                       f'({_error_line(err)})')
    # seg_found stays empty without decode
    _check_leaf_classes(dataset, data_list, classes, seg_found, _short(where), report,
                        check_unused, allow_unknown)


def check_dataset_cfg(dataset_cfg: dict,
                      split: str = 'train',
                      decode: bool = True,
                      check_unused: bool = True,
                      allow_unknown: bool = False,
                      build: bool = True,
                      progress: Optional[Callable[[str], None]] = None) -> SplitReport:
    """Check one dataset config (wrappers opened) and return its :class:`SplitReport`.

    Args:
        dataset_cfg (dict): A dataset config (``train_dataloader.dataset`` etc.).
        split (str): Name used in the report. Defaults to ``'train'``.
        decode (bool): Decode every image with the pipeline's loader and every
            segmentation map (the slow part). Defaults to True.
        check_unused (bool): Report configured classes that no annotation uses.
            Defaults to True.
        allow_unknown (bool): Accept annotations of classes the config lacks (training
            on a subset of a dataset's classes). Defaults to False.
        build (bool): When the leaves are fine, also build the whole dataset as the
            Runner does (wrappers, filters, pipeline) and report a failure. Defaults to
            True.
        progress (callable, optional): Called with a status line now and then.

    Returns:
        SplitReport: The problems and counts.
    """
    report = SplitReport(split=split)
    for leaf in _leaves(dataset_cfg):
        _check_leaf(leaf, report, decode, check_unused, allow_unknown, progress)
    if build and not report.problems:
        DATASETS, _ = _registries()
        try:
            dataset = DATASETS.build(copy.deepcopy(dict(dataset_cfg)))
            if len(dataset) == 0:
                report.problems.append(f'{split}: the dataset is empty after filtering '
                                       f'(filter_cfg {dataset_cfg.get("filter_cfg")})')
        except Exception as err:  # noqa: BLE001
            report.problems.append(f'{split}: building {_type_name(dataset_cfg)} fails: '
                                   f'{_error_line(err)}')
    return report


def check_config_datasets(cfg: Any,
                          splits: Sequence[str] = SPLITS,
                          decode: bool = True,
                          check_unused: bool = True,
                          allow_unknown: bool = False,
                          build: bool = True,
                          progress: Optional[Callable[[str], None]] = None
                          ) -> Dict[str, SplitReport]:
    """Check the ``<split>_dataloader.dataset`` of a config for each split it has.

    Runs in the config's ``default_scope`` (as the Runner does), so stock mmdet / mmseg /
    mmpretrain configs resolve their dataset and transform names.

    Args:
        cfg (mmengine.Config | dict): The config.
        splits (Sequence[str]): Splits to check. Defaults to train, val and test.
        decode (bool): See :func:`check_dataset_cfg`. Defaults to True.
        check_unused (bool): See :func:`check_dataset_cfg`. Defaults to True.
        allow_unknown (bool): See :func:`check_dataset_cfg`. Defaults to False.
        build (bool): See :func:`check_dataset_cfg`. Defaults to True.
        progress (callable, optional): Status callback.

    Returns:
        dict: ``split -> SplitReport`` for the splits whose dataloader is configured.

    Raises:
        ValueError: If a split name is not one of :data:`SPLITS`.
    """
    from mmengine.registry import DefaultScope
    scope = cfg.get('default_scope') or 'mmengine'
    out = {}
    # the config's scope while checking; the caller's (or none) again afterwards
    with DefaultScope.overwrite_default_scope(scope):
        for split in splits:
            if split not in SPLITS:
                raise ValueError(f'unknown split {split!r}, expected one of {SPLITS}')
            loader = cfg.get(f'{split}_dataloader')
            if not loader or not loader.get('dataset'):
                continue
            out[split] = check_dataset_cfg(
                loader['dataset'], split=split, decode=decode, check_unused=check_unused,
                allow_unknown=allow_unknown, build=build, progress=progress)
    return out
