"""The rows of Downstream-Adaptation: the GV world's families and any GV-B task.

A *row* is one downstream task adapted by every backbone role and protocol, and one line
of the claim table. Two kinds exist:

* a **family** row (``cls``, ``det``, ``seg``, ``depth``): the GV world's task of the
  family (:data:`~intern_mm.benchmark.gv_world_tasks.GV_WORLD_TASK_OF_FAMILY`) under the
  world root, validated on the world's ``val`` split (the paradigm's behaviour before
  ``downstream.tasks`` existed, kept as it was);
* a **task** row of the pipeline config's ``downstream.tasks``::

      tasks = dict(
          c10=dict(task='cifar10', data_root='../shared/datasets/cifar10'),
          raccoon=dict(task='raccoon_det', data_root='../shared/datasets/raccoon',
                       recipe=dict(img_scale=(128, 128)), val_ratio=0.2))

  ``task`` is a GV-B task name (the 26, the stand-ins, the world's four:
  :func:`~intern_mm.benchmark.tasks.get_task`), ``data_root`` its prepared data
  (``docs/gvb.md``; relative to the working directory, else to the repository, as
  ``world.root``), ``recipe`` (optional) GV-B recipe keys over the task's, and
  ``val_ratio`` (optional, default 0.2) the share of each training subset carved out as
  the validation split when the task has none of its own (every GV-B task but the
  world's four): runs then train on the rest of the subset, as ``tools/gvb.py``'s
  search does.

Bad input is refused in one line naming the row: an unknown key, an unknown task, a
missing data root or a file of the task's layout missing under it.

Example:
    >>> rows = parse_task_rows(dict(c10=dict(task='cifar10', data_root='/data/c10')),
    ...                        check_files=False)
    >>> rows['c10'].task.family, rows['c10'].carved_val
    ('cls', True)
"""
import copy
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from intern_mm.benchmark.gv_world_tasks import GV_WORLD_TASK_OF_FAMILY
from intern_mm.benchmark.protocols import family_recipe
from intern_mm.benchmark.tasks import GVBTask, get_task, resolve_layout
from intern_mm.datasets.gvb.annotations import (abs_path, load_coco, read_cls_list,
                                                read_ids, read_lines, scan_image_folder)
from intern_mm.datasets.gvb.units import source_name
from .stage_configs import resolve_path

__all__ = ['DownstreamRow', 'ROW_KEYS', 'DEFAULT_VAL_RATIO', 'parse_task_rows', 'family_row',
           'split_images', 'layout_sources', 'subset_list_sources']

#: Keys of a ``downstream.tasks`` row.
ROW_KEYS = ('task', 'data_root', 'recipe', 'val_ratio')
#: Carved validation share of a task without a ``val`` split (``tools/gvb.py``'s default).
DEFAULT_VAL_RATIO = 0.2
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


@dataclass
class DownstreamRow:
    """One downstream row.

    Args:
        name (str): Row name (folder and claim-table name).
        task (GVBTask): Its GV-B task.
        data_root (str, optional): Absolute data root (None: a family row whose world
            root is not known yet).
        recipe (dict): The row's recipe overrides (GV-B recipe keys).
        val_ratio (float): Carved validation share (0 when the layout has ``val``).
        is_family (bool): A family row of the GV world (today's behaviour).
    """
    name: str
    task: GVBTask
    data_root: Optional[str]
    recipe: dict = field(default_factory=dict)
    val_ratio: float = 0.0
    is_family: bool = False

    @property
    def carved_val(self) -> bool:
        """Whether the validation split is carved out of each training subset."""
        return 'val' not in self.task.layout

    @property
    def train_split(self) -> str:
        """The subset split a run trains on (``'train'`` when val is carved out)."""
        return 'train' if self.carved_val else 'subset'

    def describe(self) -> dict:
        """JSON entry of the row (``summary.json``'s ``downstream.tasks``)."""
        return dict(task=self.task.name, family=self.task.family, data_root=self.data_root,
                    metric=self.task.metric, lower_is_better=self.task.lower_is_better,
                    val_ratio=self.val_ratio, val='carved' if self.carved_val else 'val')


def family_row(family: str, world_root: Optional[str]) -> DownstreamRow:
    """The row of a GV world family (its task under the world root).

    Args:
        family (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'depth'``.
        world_root (str, optional): The world root (None: no world; the row's data are
            refused when asked for).

    Returns:
        DownstreamRow: The row.
    """
    if family not in GV_WORLD_TASK_OF_FAMILY:
        raise KeyError(f'unknown family "{family}"; known: {list(GV_WORLD_TASK_OF_FAMILY)}'
                       ' (or name a downstream.tasks row)')
    return DownstreamRow(family, get_task(GV_WORLD_TASK_OF_FAMILY[family]),
                         osp.abspath(world_root) if world_root else None, is_family=True)


def _parse_row(name, row, check_files: bool) -> DownstreamRow:
    """One checked row of ``downstream.tasks`` (errors name ``downstream.tasks.<row>``)."""
    where = f'downstream.tasks.{name}'
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f'downstream.tasks: row name {name!r} must be a folder name '
                         '(letters, digits, "_", "-", ".")')
    if not isinstance(row, dict):
        raise TypeError(f'{where} must be a dict(task=..., data_root=...), got {row!r}')
    unknown = sorted(set(row) - set(ROW_KEYS))
    if unknown:
        raise KeyError(f'{where}: unknown keys {unknown} (allowed: {list(ROW_KEYS)})')
    for key in ('task', 'data_root'):
        if not row.get(key):
            raise KeyError(f'{where}: "{key}" is required (dict(task=GVB_TASK, '
                           'data_root=PATH))')
    try:
        task = get_task(row['task'])
    except KeyError:
        raise KeyError(f'{where}: unknown GV-B task "{row["task"]}" (python tools/gvb.py '
                       'tasks lists them; docs/gvb.md)') from None
    root = osp.abspath(resolve_path(osp.expanduser(str(row['data_root']))))
    if check_files:
        if not osp.isdir(root):
            raise FileNotFoundError(f'{where}: data_root {root} does not exist (task '
                                    f'{task.name}; prepare: {task.prepare})')
        layout, missing = resolve_layout(task, root)
        if 'val' in task.layout:  # the world's tasks: their own val split
            val_ann = osp.join(root, task.layout['val']['ann_file'])
            missing += [] if osp.exists(val_ann) else [val_ann]
        if missing:
            raise FileNotFoundError(f'{where}: task {task.name} misses {", ".join(missing)}'
                                    f' under {root} (prepare: {task.prepare})')
    try:
        family_recipe(task, row.get('recipe'))
    except KeyError as err:
        raise KeyError(f'{where}.recipe: {err.args[0]}') from None
    val_ratio = float(row.get('val_ratio', DEFAULT_VAL_RATIO))
    out = DownstreamRow(name, task, root, dict(row.get('recipe') or {}), val_ratio)
    if not out.carved_val:
        out.val_ratio = 0.0
    elif not 0 < val_ratio < 1:
        raise ValueError(f'{where}: val_ratio must lie in (0, 1), got {val_ratio} (task '
                         f'{task.name} has no val split of its own)')
    return out


def parse_task_rows(tasks: Optional[dict], check_files: bool = True) -> Dict[str, DownstreamRow]:
    """Check and resolve the ``downstream.tasks`` entry.

    Args:
        tasks (dict, optional): ``{row: dict(task=, data_root=, [recipe=], [val_ratio=])}``.
        check_files (bool): Require the data root and its layout's files. Defaults to True.

    Returns:
        dict: Row name -> :class:`DownstreamRow`, in the entry's order.

    Raises:
        KeyError | ValueError | FileNotFoundError: One line naming the row.
    """
    if tasks is None:
        return {}
    if not isinstance(tasks, dict):
        raise TypeError(f'downstream.tasks must be a dict of rows, got {type(tasks).__name__}')
    return {name: _parse_row(name, row, check_files) for name, row in tasks.items()}


def layout_sources(layout: dict, split: str) -> List[dict]:
    """The sources of a layout's split as a list (VOC layouts have several)."""
    src = layout[split]
    return copy.deepcopy(src if isinstance(src, list) else [src])


def split_images(fmt: str, root: str, sources: List[dict]) -> List[str]:
    """Absolute image paths that the GV-B datasets of ``sources`` read, in file order.

    Args:
        fmt (str): Layout format (``cls``, ``voc``, ``coco``, ``seg``, ``depth``).
        root (str): Data root.
        sources (list[dict]): The split's sources (layout entries or subset lists).

    Returns:
        list[str]: The image files (masks, depth maps and XML files left out).
    """
    images = []
    for src in sources:
        if fmt == 'cls':
            if src.get('ann_file'):
                samples = read_cls_list(abs_path(root, src['ann_file']),
                                        src.get('data_prefix', ''))
            else:
                samples, _ = scan_image_folder(root, src['img_dir'])
            images += [abs_path(root, path) for path, _ in samples]
        elif fmt == 'voc':
            sub = abs_path(root, src.get('sub_root', ''))
            images += [osp.join(sub, src.get('img_subdir', 'JPEGImages'), f'{i}.jpg')
                       for i in read_lines(abs_path(root, src['ann_file']))]
        elif fmt == 'coco':
            prefix = abs_path(root, src.get('img_prefix', ''))
            images += [osp.join(prefix, img['file_name'])
                       for img in load_coco(abs_path(root, src['ann_file']))['images']]
        elif fmt in ('seg', 'depth'):
            img_dir = abs_path(root, src['img_dir'])
            images += [osp.join(img_dir, i + src.get('img_suffix', '.jpg'))
                       for i in read_ids(root, src)]
        else:
            raise ValueError(f'unknown layout format "{fmt}"')
    return [osp.normpath(p) for p in images]


def subset_list_sources(fmt: str, layout: dict, subset_dir: str, split: str) -> List[dict]:
    """The training layout's sources with their lists replaced by a subset split's.

    Args:
        fmt (str): Layout format.
        layout (dict): Resolved layout.
        subset_dir (str): The subset folder (``make_subset`` output).
        split (str): ``'subset'``, ``'train'`` or ``'val'``.

    Returns:
        list[dict]: Sources for :func:`split_images`.
    """
    sources = layout_sources(layout, 'train')
    for src in sources:
        if fmt == 'voc':
            src['ann_file'] = osp.join(subset_dir, f'{split}_{source_name(src)}.txt')
        else:
            src['ann_file'] = osp.join(subset_dir, f'{split}.json' if fmt == 'coco'
                                       else f'{split}.txt')
        src.pop('data_prefix', None)
    return sources
