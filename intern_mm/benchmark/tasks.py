"""The GV-B task table: 26 datasets in four families, plus small stand-in tasks.

Each :class:`GVBTask` says where its prepared data live by default
(``data/gvb/<name>``), in which format, which files must exist, how to prepare them, which
metric (and convention) is reported, and which column of the published table
(``gvb_official_results.csv``) it fills.

Prepared layouts (what ``tools/dataset_converters/gvb_prepare.py`` writes):

* classification: ``meta/{train,test}.txt`` (``relative/path <label>``) and
  ``meta/classes.txt`` -- or an ImageFolder tree ``{train,test}/<class>/*`` (e.g.
  ``../shared/datasets/cifar10``), detected automatically;
* ``voc0712_det``: ``VOC2007/`` and ``VOC2012/`` of VOCdevkit; ``raccoon_det``: the
  raccoon layout (``images/``, ``annotations/``, ``train.txt``, ``test.txt``);
* ``widerface_det`` / ``citypersons_det``: COCO files ``annotations/{train,val}.json``
  with the extra per-box fields the metrics need;
* ``voc2012_seg``: VOC2012 with ``SegmentationClassAug`` and
  ``ImageSets/Segmentation/{trainaug,val}.txt``; ``camvid_seg``: the CamVid layout;
* depth: ``images/{train,test}/*.jpg`` + ``annotations/{train,test}/*.png`` (uint16).

Example:
    >>> from intern_mm.benchmark.tasks import get_task, select_tasks
    >>> get_task('pets').metric
    'mean_per_class'
    >>> [t.name for t in select_tasks('depth')]
    ['kitti_depth', 'nyuv2_depth']
"""
import copy
import json
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    'GVBTask', 'GVB_TASKS', 'EXTRA_TASKS', 'FAMILIES', 'get_task', 'select_tasks',
    'register_task', 'load_task_file', 'resolve_layout', 'VOC_CLASSES'
]

FAMILIES = ('cls', 'det', 'seg', 'depth')

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
               'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
               'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol',
                  'Fence', 'Car', 'Pedestrian', 'Bicyclist')


@dataclass
class GVBTask:
    """One benchmark task.

    Args:
        name (str): Task name (the official-results column for GV-B tasks).
        title (str): Display name.
        family (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'depth'``.
        metric (str): Main metric: ``top1``, ``mean_per_class``, ``mAP``,
            ``widerface_ap`` (Easy/Medium/Hard), ``mr`` (MR^-2 Reasonable/Heavy), ``mIoU``
            or ``rmse``.
        num_classes (int): Number of classes (0 for depth).
        layout (dict): Format-specific description of the prepared data (see
            :func:`resolve_layout`).
        prepare (str): Command (or instructions) that prepares the data.
        in_gvb (bool): Whether the task is one of the 26 GV-B datasets.
        lower_is_better (bool): Metric direction.
        column (str): Official-results column (defaults to ``name``).
        classes (tuple[str], optional): Class names when fixed.
        recipe (dict): Overrides of the family's default recipe.
        cfg_options (dict): Merged into every Runner config of the task before the
            run's own ``cfg_options`` (e.g. anchors for small images).
    """
    name: str
    title: str
    family: str
    metric: str
    num_classes: int
    layout: dict
    prepare: str
    in_gvb: bool = True
    lower_is_better: bool = False
    column: str = ''
    classes: Optional[Tuple[str, ...]] = None
    recipe: dict = field(default_factory=dict)
    cfg_options: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f'task {self.name}: unknown family "{self.family}"')
        self.column = self.column or self.name

    def default_root(self, base: str = 'data/gvb') -> str:
        """Default data root ``<base>/<name>``."""
        return osp.join(base, self.name)

    def to_dict(self) -> dict:
        """JSON-serialisable description."""
        return asdict(self)


def _prep(name: str, src_hint: str) -> str:
    return (f'python tools/dataset_converters/gvb_prepare.py {name} --src {src_hint} '
            f'--out data/gvb/{name}')


_CLS_LAYOUT = dict(format='cls', train=dict(ann_file='meta/train.txt'),
                   test=dict(ann_file='meta/test.txt'), classes='meta/classes.txt')

# (name, title, classes, metric, official download / source hint)
_CLS = [
    ('cifar10', 'CIFAR-10', 10, 'top1', 'DIR_WITH_cifar-10-batches-py'),
    ('cifar100', 'CIFAR-100', 100, 'top1', 'DIR_WITH_cifar-100-python'),
    ('food101', 'Food-101', 101, 'top1', 'food-101'),
    ('pets', 'Oxford-IIIT Pets', 37, 'mean_per_class', 'oxford-iiit-pet'),
    ('flowers102', 'Flowers-102', 102, 'mean_per_class', 'flowers102'),
    ('sun397', 'SUN397', 397, 'top1', 'SUN397'),
    ('cars', 'Stanford Cars', 196, 'top1', 'stanford_cars'),
    ('dtd', 'DTD', 47, 'top1', 'dtd'),
    ('caltech101', 'Caltech-101', 102, 'mean_per_class', 'caltech-101'),
    ('aircraft', 'FGVC-Aircraft', 100, 'mean_per_class', 'fgvc-aircraft-2013b'),
    ('svhn', 'SVHN', 10, 'top1', 'DIR_WITH_train_32x32.mat_test_32x32.mat'),
    ('eurosat', 'EuroSAT', 10, 'top1', 'EuroSAT_RGB'),
    ('resisc45', 'RESISC45', 45, 'top1', 'NWPU-RESISC45'),
    ('retinopathy', 'Diabetic Retinopathy', 5, 'top1', 'diabetic-retinopathy-detection'),
    ('fer2013', 'FER2013', 7, 'top1', 'DIR_WITH_fer2013.csv'),
    ('ucf101', 'UCF101 (frames)', 101, 'top1', 'DIR_WITH_UCF-101_and_ucfTrainTestlist'),
    ('gtsrb', 'GTSRB', 43, 'top1', 'GTSRB'),
    ('pcam', 'PatchCamelyon', 2, 'top1', 'DIR_WITH_camelyonpatch_level_2_split_*.h5'),
    ('imagenet', 'ImageNet-1k', 1000, 'top1', 'imagenet'),
    ('kinetics700', 'Kinetics-700 (frames)', 700, 'top1', 'kinetics700'),
]

GVB_TASKS: Dict[str, GVBTask] = {}
for _name, _title, _n, _metric, _src in _CLS:
    GVB_TASKS[_name] = GVBTask(_name, _title, 'cls', _metric, _n, copy.deepcopy(_CLS_LAYOUT),
                               _prep(_name, _src))

GVB_TASKS['voc0712_det'] = GVBTask(
    'voc0712_det', 'Pascal VOC 07+12', 'det', 'mAP', 20,
    dict(format='voc',
         train=[dict(name='VOC2007', sub_root='VOC2007/',
                     ann_file='VOC2007/ImageSets/Main/trainval.txt'),
                dict(name='VOC2012', sub_root='VOC2012/',
                     ann_file='VOC2012/ImageSets/Main/trainval.txt')],
         test=[dict(name='VOC2007', sub_root='VOC2007/',
                    ann_file='VOC2007/ImageSets/Main/test.txt')],
         eval_mode='11points'),
    'extract VOCtrainval_06-Nov-2007.tar, VOCtest_06-Nov-2007.tar and '
    'VOCtrainval_11-May-2012.tar, then move VOCdevkit/VOC2007 and VOCdevkit/VOC2012 to '
    'data/gvb/voc0712_det/',
    classes=VOC_CLASSES)
GVB_TASKS['widerface_det'] = GVBTask(
    'widerface_det', 'WIDER FACE', 'det', 'widerface_ap', 1,
    dict(format='coco', train=dict(ann_file='annotations/train.json', img_prefix=''),
         test=dict(ann_file='annotations/val.json', img_prefix='')),
    _prep('widerface_det', 'DIR_WITH_WIDER_train_WIDER_val_wider_face_split'),
    classes=('face', ))
GVB_TASKS['citypersons_det'] = GVBTask(
    'citypersons_det', 'CityPersons', 'det', 'mr', 1,
    dict(format='coco', train=dict(ann_file='annotations/train.json', img_prefix=''),
         test=dict(ann_file='annotations/val.json', img_prefix='')),
    _prep('citypersons_det', 'DIR_WITH_leftImg8bit_and_gtBboxCityPersons'),
    lower_is_better=True, classes=('person', ),
    # the release's recipe (gv-benchmark configs/det/_base_/schedules/
    # schedule_cityperson.py and datasets/cityperson.py): 60 epochs, SGD 0.01, wd 1e-4,
    # steps at 30/40, warm-up 500 iterations from 1/3, gradient clipping 35 (L2),
    # one image per GPU, multi-scale training 1216x608-2048x1024, test at 2048x1024
    recipe=dict(lr=0.01, max_epochs=60, milestones=[30, 40], warmup_iters=500,
                warmup_ratio=1.0 / 3, grad_clip=35.0, batch_size=1, repeat=1,
                img_scale=(2048, 1024), train_scales=[(1216, 608), (2048, 1024)]))
GVB_TASKS['voc2012_seg'] = GVBTask(
    'voc2012_seg', 'Pascal VOC 2012 (aug)', 'seg', 'mIoU', 21,
    dict(format='seg',
         train=dict(ann_file='ImageSets/Segmentation/trainaug.txt', img_dir='JPEGImages',
                    seg_dir='SegmentationClassAug', img_suffix='.jpg', seg_suffix='.png'),
         test=dict(ann_file='ImageSets/Segmentation/val.txt', img_dir='JPEGImages',
                   seg_dir='SegmentationClass', img_suffix='.jpg', seg_suffix='.png')),
    _prep('voc2012_seg', 'DIR_WITH_VOCdevkit_and_benchmark_RELEASE'),
    classes=('background', ) + VOC_CLASSES)
_DEPTH_LAYOUT = dict(
    format='depth',
    train=dict(ann_file='meta/train.txt', img_dir='images/train',
               depth_dir='annotations/train', img_suffix='.jpg', depth_suffix='.png'),
    test=dict(ann_file='meta/test.txt', img_dir='images/test', depth_dir='annotations/test',
              img_suffix='.jpg', depth_suffix='.png'))
GVB_TASKS['kitti_depth'] = GVBTask(
    'kitti_depth', 'KITTI depth', 'depth', 'rmse', 0,
    dict(_DEPTH_LAYOUT, depth_scale=256.0, max_depth=80.0, crop='garg',
         train=dict(_DEPTH_LAYOUT['train'], img_suffix='.png'),
         test=dict(_DEPTH_LAYOUT['test'], img_suffix='.png')),
    _prep('kitti_depth', 'DIR_WITH_kitti_raw_and_data_depth_annotated'),
    lower_is_better=True)
GVB_TASKS['nyuv2_depth'] = GVBTask(
    'nyuv2_depth', 'NYUv2 depth', 'depth', 'rmse', 0,
    dict(_DEPTH_LAYOUT, depth_scale=1000.0, max_depth=10.0, crop='nyu_crop'),
    _prep('nyuv2_depth', 'DIR_OF_mmseg_nyu_layout_or_nyu_depth_v2_labeled.mat'),
    lower_is_better=True)

#: Stand-in tasks (not among the 26) that the ``../shared/datasets`` sets fill.
EXTRA_TASKS: Dict[str, GVBTask] = {
    'raccoon_det': GVBTask(
        'raccoon_det', 'Raccoon (VOC-format stand-in)', 'det', 'mAP', 1,
        dict(format='voc',
             train=[dict(name='raccoon', sub_root='', ann_file='train.txt',
                         img_subdir='images', ann_subdir='annotations')],
             test=[dict(name='raccoon', sub_root='', ann_file='test.txt',
                        img_subdir='images', ann_subdir='annotations')],
             eval_mode='area'),
        'use ../shared/datasets/raccoon: --data-root raccoon_det=../shared/datasets/raccoon',
        in_gvb=False, classes=('raccoon', )),
    'camvid_seg': GVBTask(
        'camvid_seg', 'CamVid (segmentation stand-in)', 'seg', 'mIoU', 11,
        dict(format='seg',
             train=dict(ann_file='train.txt', img_dir='images/train',
                        seg_dir='annotations/train', img_suffix='.jpg', seg_suffix='.png'),
             test=dict(ann_file='test.txt', img_dir='images/test',
                       seg_dir='annotations/test', img_suffix='.jpg', seg_suffix='.png')),
        'use ../shared/datasets/camvid: --data-root camvid_seg=../shared/datasets/camvid',
        in_gvb=False, classes=CAMVID_CLASSES),
}

# the GV world's downstream tasks (one per family; docs/gv_world.md)
from .gv_world_tasks import GV_WORLD_TASKS  # noqa: E402
EXTRA_TASKS.update({_n: GVBTask(**copy.deepcopy(_t)) for _n, _t in GV_WORLD_TASKS.items()})


def _all_tasks() -> Dict[str, GVBTask]:
    return {**GVB_TASKS, **EXTRA_TASKS}


def get_task(name: str) -> GVBTask:
    """Look a task up by name.

    Args:
        name (str): Task name.

    Returns:
        GVBTask: The task.

    Raises:
        KeyError: Naming the known tasks.
    """
    tasks = _all_tasks()
    if name not in tasks:
        raise KeyError(f'unknown GV-B task "{name}"; known tasks: {", ".join(tasks)}')
    return tasks[name]


def register_task(task: GVBTask, force: bool = False) -> GVBTask:
    """Add a custom (non-GV-B) task.

    Args:
        task (GVBTask): The task.
        force (bool): Replace an existing custom task of the same name.

    Returns:
        GVBTask: The task.
    """
    if task.name in GVB_TASKS:
        raise KeyError(f'"{task.name}" is a GV-B task and cannot be redefined')
    if task.name in EXTRA_TASKS and not force:
        raise KeyError(f'task "{task.name}" already exists')
    EXTRA_TASKS[task.name] = task
    return task


def load_task_file(path: str) -> List[GVBTask]:
    """Register the custom tasks of a JSON/YAML/python file (a list of task dicts).

    The file holds ``tasks = [dict(name=..., title=..., family=..., metric=...,
    num_classes=..., layout=dict(...), prepare=...), ...]`` (python) or the same list as
    JSON/YAML (top-level list or ``{"tasks": [...]}``).

    Args:
        path (str): The file.

    Returns:
        list[GVBTask]: The registered tasks.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'task file {path} does not exist')
    if path.endswith('.json'):
        with open(path) as f:
            data = json.load(f)
    else:
        from mmengine.config import Config
        data = Config.fromfile(path).to_dict()
    items = data['tasks'] if isinstance(data, dict) else data
    valid = set(GVBTask.__dataclass_fields__)
    tasks = []
    for item in items:
        unknown = set(item) - valid
        if unknown:
            raise KeyError(f'{path}: unknown task keys {sorted(unknown)} in {item.get("name")}')
        item = dict(item, in_gvb=False)
        if item.get('classes') is not None:
            item['classes'] = tuple(item['classes'])
        tasks.append(register_task(GVBTask(**item), force=True))
    return tasks


def select_tasks(spec: str | Sequence[str]) -> List[GVBTask]:
    """Tasks named by ``all``, a family (``cls``/``det``/``seg``/``depth``) or names.

    Args:
        spec (str | Sequence[str]): Comma-separated string or a list of such tokens.
            ``all`` and families select GV-B tasks only; stand-in tasks are named.

    Returns:
        list[GVBTask]: Tasks in table order, without duplicates.
    """
    tokens = spec.split(',') if isinstance(spec, str) else list(spec)
    chosen: List[str] = []
    for token in (t.strip() for t in tokens if t.strip()):
        if token == 'all':
            names = list(GVB_TASKS)
        elif token in FAMILIES:
            names = [n for n, t in GVB_TASKS.items() if t.family == token]
        else:
            names = [get_task(token).name]
        chosen.extend(n for n in names if n not in chosen)
    if not chosen:
        raise ValueError(f'no tasks selected by {spec!r}')
    return [get_task(n) for n in chosen]


def resolve_layout(task: GVBTask, root: str) -> Tuple[Optional[dict], List[str]]:
    """Concrete sources of a task's prepared data under ``root``.

    For classification an ImageFolder tree (``train/<class>/``, ``test/<class>/``) is
    accepted in place of the ``meta/`` lists.

    Args:
        task (GVBTask): The task.
        root (str): Data root.

    Returns:
        tuple[dict | None, list[str]]: ``(layout, missing)`` -- the layout with
        ``train``/``test`` sources (None if the data are missing) and the missing paths.
    """
    layout = copy.deepcopy(task.layout)
    fmt = layout['format']
    if not osp.isdir(root):
        return None, [root]
    if fmt == 'cls':
        if not osp.isfile(osp.join(root, layout['train']['ann_file'])) and \
                osp.isdir(osp.join(root, 'train')) and osp.isdir(osp.join(root, 'test')):
            layout['train'] = dict(img_dir='train')
            layout['test'] = dict(img_dir='test')
            layout['classes'] = None
        required = [s['ann_file'] for s in (layout['train'], layout['test'])
                    if 'ann_file' in s]
        if layout.get('classes'):
            required.append(layout['classes'])
            layout['train']['classes'] = layout['classes']
    elif fmt == 'voc':
        required = [s['ann_file'] for s in layout['train'] + layout['test']]
    elif fmt == 'coco':
        required = [layout['train']['ann_file'], layout['test']['ann_file']]
    else:
        required = []
        for s in (layout['train'], layout['test']):
            required.append(s['ann_file'] if 'ann_file' in s else s['img_dir'])
    missing = [osp.join(root, p) for p in required if not osp.exists(osp.join(root, p))]
    return (None if missing else layout), missing
