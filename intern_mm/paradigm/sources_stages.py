"""Stage configs built from declared sources: the data part of every stage.

A pipeline config that declares ``sources`` (:mod:`intern_mm.datasets.gvd.sources`) keeps
its stage configs for the models and schedules; :class:`SourcePlan` replaces only their
data part, by the stage's role (:func:`stage_role`, read from its model):

* ``image-text`` (Up-A, DeCLIP): the caption sources, written as one mmengine JSON per
  split, which the tokenizer reads too;
* ``cls`` / ``det`` / ``seg`` (the Up-E experts): a ``MultiSourceDataset`` over the
  task's sources (``MultiSourceSampler`` 1:1:...), the unified class list and the
  heads' ``sources`` / ``num_classes`` / ``parents`` from the task's label space
  (:func:`~intern_mm.datasets.gvd.build_label_space`), ``PerSourceMetric`` per source;
* ``generalist`` (Up-G): the same per task of its ``model.tasks``;
* ``distill``: the images of the classification sources.

Every split a stage reads is written under ``<work_dir>/sources/`` (``exclude`` dropped,
``limit`` applied), so the leak check hashes exactly what the stages train on.
``source_options = dict(img_size=64, overrides={...})`` resizes every image to the
stages' input size and overrides label-space mappings. A source whose task no stage
trains, or a stage role without sources, is refused in one line before any training.

Example:
    >>> plan = SourcePlan(cfg.sources, 'work_dirs/x/sources', roles)  # doctest: +SKIP
    >>> stage_cfg = plan.apply(stage_cfg, 'det')  # doctest: +SKIP
"""
import copy
import os.path as osp
from typing import Dict, List, Mapping, Optional, Tuple

from mmengine.config import Config

from intern_mm.datasets.gvd import GVDInputError, build_label_space
from intern_mm.datasets.gvd.source_data import load_source, write_captions, write_split
from intern_mm.datasets.gvd.sources import parse_sources, source_tasks
from .launch import REPO_ROOT

__all__ = ['SOURCE_OPTIONS', 'EXPERT_TASKS', 'stage_role', 'SourcePlan', 'plan_sources']

#: Keys of the pipeline config's ``source_options``.
SOURCE_OPTIONS = ('img_size', 'overrides')
#: Tasks with a multi-source expert (and a label space).
EXPERT_TASKS = ('cls', 'det', 'seg')
#: Model type -> stage role.
_ROLES = {'DeCLIP': 'image-text', 'ImageClassifier': 'cls', 'EncoderDecoder': 'seg',
          'GeneralistModel': 'generalist', 'FeatureDistiller': 'distill'}
#: Where each expert's multi-source head sits in its model.
_HEADS = {'cls': ('head', ), 'det': ('roi_head', 'bbox_head'), 'seg': ('decode_head', )}
_LOADER = 'intern_mm.LoadImageFromFileOrSkip'


def stage_role(cfg: Config) -> str:
    """The data role of a stage config, read from its model.

    Args:
        cfg (Config): A stage config.

    Returns:
        str: ``'image-text'``, ``'cls'``, ``'det'``, ``'seg'``, ``'generalist'`` or
        ``'distill'``.

    Raises:
        GVDInputError: A model this module cannot feed from sources.
    """
    model = cfg.get('model') or {}
    kind = str(model.get('type', '')).split('.')[-1]
    if kind in _ROLES:
        return _ROLES[kind]
    if 'roi_head' in model or 'rpn_head' in model:
        return 'det'
    raise GVDInputError(f'a stage config with model type {kind!r} cannot be fed from '
                        f'sources (known: {sorted(_ROLES)} and mmdet two-stage detectors)')


def _replace_str(obj, old: str, new: str):
    if isinstance(obj, dict):
        return {k: _replace_str(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace_str(v, old, new) for v in obj)
    return new if obj == old else obj


def _resized(pipeline: List[dict], task: str, size: Optional[int]) -> List[dict]:
    """``pipeline`` with the decode-tolerant loader and, with ``size``, one resize to
    ``size`` x ``size`` after loading (its own resizes removed)."""
    out = [dict(t, type=_LOADER) if str(t.get('type', '')).split('.')[-1] ==
           'LoadImageFromFile' else dict(t) for t in pipeline]
    if not size:
        return out
    out = [t for t in out if str(t.get('type', '')).split('.')[-1] != 'Resize']
    scope = {'det': 'mmdet', 'seg': 'mmseg'}.get(task, 'mmpretrain')
    resize = dict(type=f'{scope}.Resize', scale=(size, size))
    if task in ('det', 'seg'):
        resize['keep_ratio'] = task == 'det'
    last = max(i for i, t in enumerate(out) if 'Load' in str(t.get('type', '')))
    return out[:last + 1] + [resize] + out[last + 1:]


class SourcePlan:
    """The sources of a pipeline config: read, checked, written, and fed to stages.

    Args:
        decls (Mapping): The config's ``sources``.
        out_dir (str): Folder of the written splits (``<work_dir>/sources``).
        roles (Mapping[str, str]): Stage name -> :func:`stage_role`.
        options (Mapping, optional): ``source_options`` (:data:`SOURCE_OPTIONS`).

    Raises:
        GVDInputError: One line naming the source (and file) or the stage.
    """

    def __init__(self, decls: Mapping, out_dir: str, roles: Mapping[str, str],
                 options: Optional[Mapping] = None) -> None:
        options = dict(options or {})
        unknown = sorted(set(options) - set(SOURCE_OPTIONS))
        if unknown:
            raise GVDInputError(f'source_options: unknown keys {unknown} (allowed: '
                                f'{list(SOURCE_OPTIONS)})')
        self.roles = dict(roles)
        self.img_size = options.get('img_size')
        self.out_dir = out_dir
        self.sources = parse_sources(decls, base=REPO_ROOT)
        self.tasks = source_tasks(self.sources)
        fed = {t for r in roles.values() for t in
               (('image-text', ) + EXPERT_TASKS if r == 'generalist' else (r, ))}
        for task, names in self.tasks.items():
            if task not in fed:
                raise GVDInputError(f'source {names[0]}: task {task!r} has no stage '
                                    f'(stage roles: {dict(roles)})')
        for stage, role in roles.items():
            need = {'distill': 'cls', 'generalist': None}.get(role, role)
            if need and need not in self.tasks:
                raise GVDInputError(f'stage {stage} ({role}) has no source: declare a '
                                    f'{need!r} source')
        self.data = {n: load_source(s) for n, s in self.sources.items()}
        self.spaces = {
            task: build_label_space({n: self.data[n].classes for n in self.tasks[task]},
                                    overrides=options.get('overrides'))
            for task in EXPERT_TASKS if task in self.tasks
        }

    # ----------------------------------------------------------------- queries
    def upstream_images(self) -> Dict[str, List[str]]:
        """Source -> the absolute paths of every image a stage trains on (train split)."""
        return {n: d.images('train') for n, d in self.data.items()}

    def to_json(self) -> dict:
        """Sources, kept images per split, excluded counts and the label spaces."""
        return dict(
            sources={n: dict(task=d.source.task, format=d.source.format, root=d.source.root,
                             images={k: len(v) for k, v in d.samples.items()},
                             excluded=d.excluded) for n, d in self.data.items()},
            label_spaces={t: s.to_json() for t, s in self.spaces.items()})

    # ---------------------------------------------------------------- datasets
    def _split(self, name: str, split: str) -> str:
        return split if split in self.data[name].samples else 'train'

    def _datasets(self, task: str, split: str, template: dict) -> List[dict]:
        """One dataset config per source of ``task`` (pipeline / test_mode / indices of
        ``template``, the stage config's first source dataset)."""
        keep = {k: template[k] for k in ('pipeline', 'test_mode', 'indices', 'filter_cfg')
                if k in template}
        keep['pipeline'] = _resized(keep.get('pipeline', []), task, self.img_size)
        space = self.spaces[task]
        out = []
        for name in self.tasks[task]:
            data = self.data[name]
            # a class merged into a synonym's unified name takes that name in the dataset
            names = [space.unified[i] for i in space.sources[name]]
            if names != data.classes and data.source.format == 'voc':
                raise GVDInputError(
                    f'source {name}: VOC classes {data.classes} map to {names} in the label '
                    'space; VOC names are read from the XML, so keep them as written '
                    '(source_options.overrides=dict(NAME=None))')
            cfg = write_split(data, self._split(name, split), self.out_dir, names)
            out.append(dict(cfg, **copy.deepcopy(keep)))
        return out

    def _loader(self, loader: dict, task: str, split: str) -> dict:
        loader = copy.deepcopy(loader)
        old = loader['dataset']
        template = (old.get('datasets') or [old])[0]
        names = self.tasks[task]
        loader['dataset'] = dict(type=old.get('type', 'MultiSourceDataset'),
                                 datasets=self._datasets(task, split, template),
                                 sources=names, classes=self.spaces[task].unified)
        sampler = loader.get('sampler') or {}
        if 'MultiSourceSampler' in str(sampler.get('type')):
            loader['sampler'] = dict(sampler, source_ratio=[1] * len(names))
        return loader

    def _head(self, model: dict, task: str) -> dict:
        space = self.spaces[task]
        model = copy.deepcopy(model)
        node = model
        for key in _HEADS[task]:
            node = node[key]
        node['sources'] = {n: list(space.sources[n]) for n in self.tasks[task]}
        node['num_classes'] = len(space.unified)
        parents = space.parent_indices()
        if parents:
            node['parents'] = [parents.get(i) for i in range(len(space.unified))]
        if task == 'cls' and 'num_classes' in (model.get('data_preprocessor') or {}):
            model['data_preprocessor']['num_classes'] = len(space.unified)
        return model

    def _evaluator(self, evaluator: dict, task: str) -> dict:
        return dict(evaluator, sources=self.tasks[task]) if 'sources' in evaluator \
            else evaluator

    def _captions(self, split: str) -> Optional[str]:
        datas = [self.data[n] for n in self.tasks['image-text']]
        path = osp.join(self.out_dir, f'captions_{split}.json')
        return write_captions(datas, split, path) or (
            write_captions(datas, 'train', path) if split != 'train' else None)

    def _text_loader(self, loader: dict, split: str) -> dict:
        loader = copy.deepcopy(loader)
        dataset = loader['dataset']
        loader['dataset'] = dict(dataset, data_root='', ann_file=self._captions(split),
                                 pipeline=_resized(dataset['pipeline'], 'image-text',
                                                   self.img_size))
        return loader

    # -------------------------------------------------------------- the stages
    def apply(self, cfg: Config, role: str) -> Config:
        """``cfg`` with its data part built from the sources.

        Args:
            cfg (Config): The stage config (model and schedule kept).
            role (str): Its :func:`stage_role`.

        Returns:
            Config: The new config.
        """
        d = cfg.to_dict()
        if role == 'image-text':
            d = self._up_a(d, d['model'])[0]
        elif role in EXPERT_TASKS:
            d['model'] = self._head(d['model'], role)
            d.update(self._expert_data(d, role))
        elif role == 'generalist':
            for task in list(d['model']['tasks']):
                if task in EXPERT_TASKS:
                    d['model']['tasks'][task] = self._head(d['model']['tasks'][task], task)
                    part = self._expert_data(dict(
                        train_dataloader=d['train_dataloader'][task],
                        val_dataloader=d.get('val_dataloader', {}).get(task),
                        val_evaluator=d.get('val_evaluator', {}).get(task)), task)
                    for key, value in part.items():
                        d[key][task] = value
                else:  # the image-text task
                    sub, old_tok, new_tok = self._up_a(
                        dict(train_dataloader=d['train_dataloader'][task]),
                        d['model']['tasks'][task])
                    d['train_dataloader'][task] = sub['train_dataloader']
                    d = _replace_str(d, old_tok, new_tok)
        elif role == 'distill':
            for key, split in (('train_dataloader', 'train'), ('val_dataloader', 'val')):
                if d.get(key):
                    template = d[key]['dataset']['datasets'][0]
                    d[key]['dataset']['datasets'] = self._datasets('cls', split, template)
        return Config(d)

    def _expert_data(self, d: dict, task: str) -> dict:
        out = {'train_dataloader': self._loader(d['train_dataloader'], task, 'train')}
        for key in ('val_dataloader', 'test_dataloader'):
            if d.get(key):
                out[key] = self._loader(d[key], task, 'val')
        for key in ('val_evaluator', 'test_evaluator'):
            if d.get(key):
                out[key] = self._evaluator(d[key], task)
        return out

    def _up_a(self, d: dict, model: dict) -> Tuple[dict, str, str]:
        """The image-text loaders of ``d`` from the caption sources, and the tokenizer's
        caption file before and after."""
        old_tok = model['tokenizer']['ann_file']
        new_tok = self._captions('train')
        for key, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                           ('test_dataloader', 'val')):
            if d.get(key):
                d[key] = self._text_loader(d[key], split)
        return _replace_str(d, old_tok, new_tok), old_tok, new_tok


def plan_sources(cfg: Config, stages: List[dict], work_dir: str) -> SourcePlan:
    """The :class:`SourcePlan` of a pipeline config's ``sources`` and ``source_options``
    (files written under ``<work_dir>/sources``).

    Args:
        cfg (Config): The pipeline config.
        stages (list[dict]): Its checked stage entries.
        work_dir (str): The pipeline's work dir.

    Returns:
        SourcePlan: The plan.

    Example:
        >>> plan = plan_sources(cfg, pipe.stages, pipe.work_dir)  # doctest: +SKIP
    """
    roles = {s['name']: stage_role(Config.fromfile(s['config'])) for s in stages}
    return SourcePlan(cfg.sources, osp.join(work_dir, 'sources'), roles,
                      cfg.get('source_options'))
