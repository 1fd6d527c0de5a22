"""Concatenation of datasets from several sources with one unified label space."""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, ConcatDataset

from intern_mm.registry import DATASETS
from .checks import ClassNameMismatchError, annotated_class_names

__all__ = ['MultiSourceDataset']

#: Label value that means "not annotated" (mmseg / mmdet convention).
IGNORE_INDEX = 255


def _unify_classes(
        source_classes: Dict[str, List[str]], classes: Optional[Sequence[str]]
) -> Tuple[List[str], List[Optional[torch.Tensor]]]:
    """The unified class list and each source's label lookup table (None: identity).

    Without ``classes`` every source must have the same classes; with them, each
    source's classes must be among them.
    """
    sources = list(source_classes)
    if classes is None:
        first = source_classes[sources[0]]
        for name, cls in source_classes.items():
            if cls != first:
                raise ValueError(
                    f'source {name!r} has classes {cls} but {sources[0]!r} has '
                    f'{first}; pass the unified `classes` to map them')
        return first, [None] * len(sources)
    unified = [str(c) for c in classes]
    if len(set(unified)) != len(unified):
        raise ValueError(f'unified classes must be unique, got {unified}')
    label_maps: List[Optional[torch.Tensor]] = []
    for name, cls in source_classes.items():
        if not cls:
            raise ValueError(f'source {name!r} has no metainfo["classes"]')
        missing = [c for c in cls if c not in unified]
        if missing:
            raise ValueError(f'classes {missing} of source {name!r} are not in '
                             f'the unified classes {unified}')
        lut = torch.full((IGNORE_INDEX + 1, ), -1, dtype=torch.long)
        lut[:len(cls)] = torch.tensor([unified.index(c) for c in cls])
        lut[IGNORE_INDEX] = IGNORE_INDEX
        label_maps.append(lut)
    return unified, label_maps


@DATASETS.register_module()
class MultiSourceDataset(ConcatDataset):
    """Datasets of several supervision sources, labels mapped to a unified class space.

    Each source keeps its own dataset (any mmpretrain / mmdet / mmseg dataset with its own
    ``metainfo['classes']``). After the source's pipeline has packed a sample, this wrapper

    * writes the source into the data sample's metainfo (``dataset_source``: the source
      name, ``source_index``: its position), which the multi-source heads and
      :class:`~intern_mm.evaluation.PerSourceMetric` read, and
    * maps the labels from the source's label space to ``classes`` by class name:
      ``gt_label`` (mmpretrain ``DataSample``), ``gt_instances.labels`` /
      ``ignored_instances.labels`` (mmdet ``DetDataSample``) and ``gt_sem_seg`` (mmseg
      ``SegDataSample``; ``255`` stays ignore).

    Unlike a plain :class:`mmengine.dataset.ConcatDataset`, the sources' metainfo may
    differ; ``metainfo`` is the unified one: ``classes``, ``sources`` (names) and
    ``source_classes`` (each source's classes), plus every key the sources share with
    equal values (e.g. a palette).

    Use it with :class:`~intern_mm.datasets.samplers.MultiSourceSampler` to fix each
    batch's source composition.

    Args:
        datasets (Sequence[BaseDataset | dict]): One dataset (or config) per source.
        sources (Sequence[str], optional): Source names, unique, one per dataset.
            Defaults to ``source0``, ``source1``, ...
        classes (Sequence[str], optional): The unified class names. Every source's
            classes must be among them, and every unified class must come from a
            source; a source whose annotations (VOC XML names, COCO categories) name
            a class its own config lacks is refused too (``ClassNameMismatchError``
            listing the unknown and unused names). ``None`` keeps every source's own
            labels (the sources must then share one label space). Defaults to None.
        data_root (str, optional): If given, the ``data_root`` of every source given
            as a config (one place to point all sources at a dataset directory, e.g.
            ``--cfg-options train_dataloader.dataset.data_root=DIR``). Defaults to None.
        lazy_init (bool): Whether to defer loading the annotations. Defaults to False.

    Example:
        >>> dataset = MultiSourceDataset(
        ...     datasets=[
        ...         dict(type='mmdet.CocoDataset', data_root='data/gv_world',
        ...              ann_file='det/det_a/train.json', data_prefix=dict(img=''),
        ...              metainfo=dict(classes=('circle', 'square')), pipeline=[...]),
        ...         dict(type='mmdet.CocoDataset', ..., ann_file='det/det_b/train.json',
        ...              metainfo=dict(classes=('square', 'star')), pipeline=[...]),
        ...     ],
        ...     sources=['det_a', 'det_b'],
        ...     classes=['circle', 'square', 'star'])
        >>> dataset[0]['data_samples'].dataset_source
        'det_a'
    """

    def __init__(self,
                 datasets: Sequence[Union[BaseDataset, dict]],
                 sources: Optional[Sequence[str]] = None,
                 classes: Optional[Sequence[str]] = None,
                 data_root: Optional[str] = None,
                 lazy_init: bool = False) -> None:
        if len(datasets) == 0:
            raise ValueError('MultiSourceDataset needs at least one dataset')
        built: List[BaseDataset] = []
        for d in datasets:
            if isinstance(d, dict):
                d = copy.deepcopy(d)
                if data_root is not None:
                    d['data_root'] = data_root
                d = DATASETS.build(d)
            built.append(d)
        keys = set().union(*(d.metainfo.keys() for d in built))
        # Sources are allowed to differ in metainfo; the unified metainfo is set below.
        super().__init__(built, lazy_init=True, ignore_keys=sorted(keys))

        if sources is None:
            sources = [f'source{i}' for i in range(len(built))]
        sources = [str(s) for s in sources]
        if len(sources) != len(built):
            raise ValueError(f'got {len(sources)} source names for {len(built)} '
                             f'datasets: {sources}')
        if len(set(sources)) != len(sources):
            raise ValueError(f'source names must be unique, got {sources}')
        self.sources: List[str] = sources

        source_classes = {
            name: list(d.metainfo.get('classes', ()) or ())
            for name, d in zip(sources, built)
        }
        if classes is not None:
            self._check_class_names(built, sources, source_classes,
                                    [str(c) for c in classes])
        unified, self.label_maps = _unify_classes(source_classes, classes)

        shared = {}
        for key in keys - {'classes'}:
            values = [d.metainfo.get(key) for d in built]
            if all(_equal(values[0], v) for v in values[1:]):
                shared[key] = values[0]
        self._metainfo = dict(
            shared,
            classes=tuple(unified),
            sources=tuple(sources),
            source_classes={k: tuple(v) for k, v in source_classes.items()})
        if not lazy_init:
            self.full_init()

    @staticmethod
    def _check_class_names(built: List[BaseDataset], sources: List[str],
                           source_classes: Dict[str, List[str]],
                           unified: List[str]) -> None:
        """Refuse unknown and unused class names, all listed in one message."""
        problems = []
        for dataset, name in zip(built, sources):
            cls = source_classes[name]
            if not cls:
                raise ValueError(f'source {name!r} has no metainfo["classes"]')
            missing = [c for c in cls if c not in unified]
            if missing:
                problems.append(f'classes {missing} of source {name!r} are not in the '
                                f'unified classes {unified}')
            found = annotated_class_names(dataset)
            unknown = sorted(set(found or ()) - set(cls))
            if unknown:
                where = getattr(dataset, 'ann_file', '') or name
                problems.append(f'source {name!r} ({where}): its annotations name classes '
                                f'it does not configure: {unknown} (configured: {cls})')
        unused = [c for c in unified if not any(c in v for v in source_classes.values())]
        if unused:
            problems.append(f'unified classes {unused} belong to no source')
        if problems:
            raise ClassNameMismatchError('; '.join(problems))

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        """Get the ``idx``-th packed sample, tagged and with unified labels."""
        if not self._fully_initialized:
            self.full_init()
        source_idx, sample_idx = self._get_ori_dataset_idx(idx)
        data = self.datasets[source_idx][sample_idx]
        if data is None:  # e.g. a pipeline that drops the sample
            return data
        samples = data.get('data_samples') if isinstance(data, dict) else None
        if samples is None:
            raise TypeError(
                f'source {self.sources[source_idx]!r} returned {type(data)} without '
                '"data_samples"; end its pipeline with a Pack*Inputs transform')
        for sample in samples if isinstance(samples, (list, tuple)) else [samples]:
            self._tag(sample, source_idx)
        return data

    def source_of(self, idx: int) -> str:
        """Name of the source of the ``idx``-th sample."""
        return self.sources[self._get_ori_dataset_idx(idx)[0]]

    def _tag(self, sample, source_idx: int) -> None:
        sample.set_metainfo(
            dict(dataset_source=self.sources[source_idx], source_index=source_idx))
        lut = self.label_maps[source_idx]
        if lut is None:
            return
        name = self.sources[source_idx]
        if 'gt_label' in sample:
            sample.gt_label = self._map(sample.gt_label, lut, name)
        for key in ('gt_instances', 'ignored_instances'):
            if key in sample and 'labels' in sample.get(key):
                instances = sample.get(key)
                instances.labels = self._map(instances.labels, lut, name)
        if 'gt_sem_seg' in sample:
            sample.gt_sem_seg.data = self._map(sample.gt_sem_seg.data, lut, name)

    @staticmethod
    def _map(labels: Any, lut: torch.Tensor, source: str) -> torch.Tensor:
        labels_t = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels)
                                   else labels)
        if labels_t.numel() == 0:
            return labels_t.long()
        long_labels = labels_t.long()
        if long_labels.min() < 0 or long_labels.max() > IGNORE_INDEX:
            raise ValueError(f'label out of range [0, {IGNORE_INDEX}] in source '
                             f'{source!r}: {long_labels.unique().tolist()}')
        mapped = lut[long_labels]
        if (mapped < 0).any():
            bad = long_labels[mapped < 0].unique().tolist()
            raise ValueError(f'labels {bad} of source {source!r} are outside its '
                             'classes')
        return mapped.to(labels_t.dtype)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            np.array_equal(a, b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001  (values without a boolean equality)
        return False
