"""Converters from each GV-B dataset's official release to the formats the protocols read.

Every converter is ``convert_<task>(src, out, **options) -> dict`` (counts per split) and
writes under ``out`` the prepared layout of :mod:`intern_mm.benchmark.tasks`:

* classification: ``meta/train.txt``, ``meta/test.txt`` (``relative/path <label>``, paths
  relative to ``out``), ``meta/classes.txt``; images are decoded to ``images/`` when the
  release stores arrays / videos / CSV pixels, otherwise ``out/raw`` is a symlink to
  ``src`` and the lists point into it;
* detection (WIDER FACE, CityPersons): ``annotations/{train,val}.json`` (COCO) whose
  annotations carry the fields the GV-B metrics need;
* segmentation (VOC2012 + SBD): ``JPEGImages``, ``SegmentationClass``,
  ``SegmentationClassAug`` and ``ImageSets/Segmentation/{trainaug,val}.txt``;
* depth: ``images/{train,test}``, ``annotations/{train,test}`` (uint16 PNG) and
  ``meta/{train,test}.txt`` id lists.

No TensorFlow is needed: ``.mat`` files are read with scipy, videos with OpenCV, HDF5
(PatchCamelyon) with h5py.

Example:
    >>> from intern_mm.datasets.gvb.converters import CONVERTERS
    >>> CONVERTERS['fer2013']('downloads/fer2013', 'data/gvb/fer2013')
    {'train': 28709, 'test': 3589}
"""
import csv
import glob
import json
import os
import os.path as osp
import random
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ['CONVERTERS', 'write_cls_lists', 'export_mmpretrain', 'seeded_split',
           'widerface_difficulty', 'wider_eval_lists', 'MMPRETRAIN_SPLITS']

Sample = Tuple[str, int]

FER_CLASSES = ('Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral')


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def _require(path: str, what: str) -> str:
    if not osp.exists(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def _find(src: str, pattern: str, what: str) -> str:
    hits = sorted(glob.glob(osp.join(src, '**', pattern), recursive=True))
    if not hits:
        raise FileNotFoundError(f'{what} ({pattern}) not found under {src}')
    return hits[0]


def _link_raw(src: str, out: str) -> str:
    os.makedirs(out, exist_ok=True)
    link = osp.join(out, 'raw')
    if osp.islink(link) or osp.exists(link):
        if osp.realpath(link) != osp.realpath(src):
            raise FileExistsError(f'{link} exists and points elsewhere')
    else:
        os.symlink(osp.abspath(src), link)
    return link


def write_cls_lists(out: str, splits: Dict[str, List[Sample]],
                    classes: Sequence[str]) -> Dict[str, int]:
    """Write ``meta/<split>.txt`` and ``meta/classes.txt``.

    Args:
        out (str): Prepared root.
        splits (dict): ``split -> [(path relative to out, label)]``.
        classes (Sequence[str]): Class names (label order).

    Returns:
        dict: Number of samples per split.
    """
    meta = osp.join(out, 'meta')
    os.makedirs(meta, exist_ok=True)
    for split, samples in splits.items():
        if not samples:
            raise ValueError(f'split "{split}" is empty')
        for path, label in samples:
            if not 0 <= label < len(classes):
                raise ValueError(f'label {label} of {path} outside [0, {len(classes)})')
            if ' ' in path:
                raise ValueError(f'image path with a space is not supported: {path!r}')
        with open(osp.join(meta, f'{split}.txt'), 'w') as f:
            f.writelines(f'{p} {label}\n' for p, label in samples)
    with open(osp.join(meta, 'classes.txt'), 'w') as f:
        f.writelines(f'{c}\n' for c in classes)
    return {k: len(v) for k, v in splits.items()}


def seeded_split(samples: List[Sample], test_ratio: float,
                 seed: int = 0) -> Tuple[List[Sample], List[Sample]]:
    """Class-stratified seeded train/test split (for releases without one).

    Args:
        samples (list): ``(path, label)`` pairs.
        test_ratio (float): Test fraction per class.
        seed (int): Seed.

    Returns:
        tuple[list, list]: ``(train, test)``, each sorted.
    """
    by_class = defaultdict(list)
    for sample in samples:
        by_class[sample[1]].append(sample)
    train, test = [], []
    for label in sorted(by_class):
        members = sorted(by_class[label])
        random.Random(f'split:{seed}:{label}').shuffle(members)
        n_test = int(round(test_ratio * len(members)))
        test += members[:n_test]
        train += members[n_test:]
    return sorted(train), sorted(test)


def _save_png(array: np.ndarray, path: str) -> None:
    from PIL import Image
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path)


def _video_middle_frame(video: str, out_path: str) -> bool:
    import cv2
    cap = cv2.VideoCapture(video)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if count > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, count // 2)
        ok, frame = cap.read()
        if not ok and count > 0:  # seeking failed: read sequentially
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            frames = []
            while True:
                ok2, fr = cap.read()
                if not ok2:
                    break
                frames.append(fr)
            ok, frame = (True, frames[len(frames) // 2]) if frames else (False, None)
    finally:
        cap.release()
    if not ok:
        return False
    os.makedirs(osp.dirname(out_path), exist_ok=True)
    return bool(cv2.imwrite(out_path, frame))


# ----------------------------------------------------------------------------------------
# classification sets mmpretrain already reads
# ----------------------------------------------------------------------------------------
#: task -> (mmpretrain type, train split, test split)
MMPRETRAIN_SPLITS = dict(
    cifar10=('CIFAR10', 'train', 'test'),
    cifar100=('CIFAR100', 'train', 'test'),
    food101=('Food101', 'train', 'test'),
    pets=('OxfordIIITPet', 'trainval', 'test'),
    sun397=('SUN397', 'train', 'test'),
    caltech101=('Caltech101', 'train', 'test'),
    aircraft=('FGVCAircraft', 'trainval', 'test'),
    imagenet=('ImageNet', 'train', 'val'),
)


def export_mmpretrain(dataset_type: str, src: str, out: str,
                      splits: Dict[str, str]) -> Dict[str, int]:
    """Export an mmpretrain dataset (official layout under ``src``) to annotation lists.

    Args:
        dataset_type (str): mmpretrain dataset class (``'Flowers102'``).
        src (str): Its ``data_root`` in the official layout mmpretrain documents.
        out (str): Prepared root.
        splits (dict): ``{'train': <mmpretrain split>, 'test': <split>}``.

    Returns:
        dict: Number of samples per split.
    """
    import mmpretrain.datasets  # noqa: F401
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    _require(src, f'{dataset_type} root')
    raw = _link_raw(src, out)
    lists, classes = {}, None
    for name, split in splits.items():
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            kwargs = dict(type=dataset_type, data_root=src, split=split, pipeline=[])
            if dataset_type in ('CIFAR10', 'CIFAR100'):
                kwargs['download'] = False
            dataset = DATASETS.build(kwargs)
        classes = list(dataset.metainfo['classes'])
        samples = []
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            label = int(info['gt_label'])
            if 'img_path' in info:
                rel = osp.relpath(osp.abspath(info['img_path']), osp.abspath(src))
                samples.append((osp.join(osp.basename(raw), rel), label))
            else:  # in-memory arrays (CIFAR): decode to PNG files
                path = osp.join('images', name, f'{i:06d}.png')
                _save_png(info['img'][..., ::-1], osp.join(out, path))  # BGR -> RGB
                samples.append((path, label))
        lists[name] = samples
    return write_cls_lists(out, lists, classes)


def _mmpretrain_converter(task: str) -> Callable:
    dtype, train, test = MMPRETRAIN_SPLITS[task]

    def convert(src: str, out: str) -> Dict[str, int]:
        return export_mmpretrain(dtype, src, out, dict(train=train, test=test))

    convert.__name__ = f'convert_{task}'
    convert.__doc__ = (f'{task}: mmpretrain ``{dtype}`` (official layout) -> lists; '
                       f'train = "{train}", test = "{test}".')
    return convert


def convert_flowers102(src: str, out: str) -> Dict[str, int]:
    """Flowers-102: ``jpg/image_%05d.jpg``, ``imagelabels.mat``, ``setid.mat``;
    train = trnid + valid, test = tstid (read with scipy: mmpretrain's reader needs the
    optional ``mat4py``)."""
    from scipy.io import loadmat
    labels = loadmat(_require(osp.join(src, 'imagelabels.mat'), 'imagelabels.mat'))[
        'labels'].reshape(-1).astype(int)
    setid = loadmat(_require(osp.join(src, 'setid.mat'), 'setid.mat'))
    raw = _link_raw(src, out)

    def samples(ids):
        return [(osp.join(osp.basename(raw), 'jpg', f'image_{i:05d}.jpg'),
                 int(labels[i - 1]) - 1) for i in sorted(int(x) for x in ids)]

    train = samples(list(setid['trnid'].reshape(-1)) + list(setid['valid'].reshape(-1)))
    test = samples(setid['tstid'].reshape(-1))
    return write_cls_lists(out, dict(train=train, test=test),
                           [str(i) for i in range(int(labels.max()))])


def convert_dtd(src: str, out: str, fold: int = 1) -> Dict[str, int]:
    """DTD: ``images/<class>/*.jpg`` and ``labels/{train,val,test}<fold>.txt``;
    train = train + val of the fold, test = test of the fold."""
    classes = sorted(d for d in os.listdir(_require(osp.join(src, 'images'), 'DTD images'))
                     if osp.isdir(osp.join(src, 'images', d)))
    index = {c: i for i, c in enumerate(classes)}
    raw = _link_raw(src, out)
    lists = {}
    for split, names in (('train', ('train', 'val')), ('test', ('test', ))):
        samples = []
        for name in names:
            path = _require(osp.join(src, 'labels', f'{name}{fold}.txt'), f'DTD {name}')
            with open(path) as f:
                for line in f:
                    if line.strip():
                        rel = line.strip()
                        samples.append((osp.join(osp.basename(raw), 'images', rel),
                                        index[rel.split('/')[0]]))
        lists[split] = sorted(samples)
    return write_cls_lists(out, lists, classes)


def convert_cars(src: str, out: str) -> Dict[str, int]:
    """Stanford Cars: ``cars_annos.mat`` (``relative_im_path``, ``class``, ``test``,
    ``class_names``) and ``car_ims/``."""
    from scipy.io import loadmat
    mat = loadmat(_require(osp.join(src, 'cars_annos.mat'), 'cars_annos.mat'),
                  squeeze_me=True, struct_as_record=False)
    classes = [str(c) for c in np.atleast_1d(mat['class_names'])]
    raw = _link_raw(src, out)
    lists = dict(train=[], test=[])
    for ann in np.atleast_1d(mat['annotations']):
        split = 'test' if int(ann.test) else 'train'
        lists[split].append((osp.join(osp.basename(raw), str(ann.relative_im_path)),
                             int(getattr(ann, 'class')) - 1))
    return write_cls_lists(out, lists, classes)


# ----------------------------------------------------------------------------------------
# classification sets mmpretrain does not read
# ----------------------------------------------------------------------------------------
def convert_svhn(src: str, out: str) -> Dict[str, int]:
    """SVHN cropped digits: ``train_32x32.mat`` / ``test_32x32.mat`` (label 10 = digit 0)."""
    from scipy.io import loadmat
    lists = {}
    for split in ('train', 'test'):
        mat = loadmat(_require(osp.join(src, f'{split}_32x32.mat'), f'SVHN {split}'))
        images, labels = mat['X'], mat['y'].reshape(-1).astype(int) % 10
        samples = []
        for i in range(images.shape[-1]):
            path = osp.join('images', split, f'{i:06d}.png')
            _save_png(images[..., i], osp.join(out, path))
            samples.append((path, int(labels[i])))
        lists[split] = samples
    return write_cls_lists(out, lists, [str(d) for d in range(10)])


def _class_folder_dataset(src: str, out: str, test_ratio: float, seed: int,
                          extensions=('.jpg', '.jpeg', '.png', '.tif')) -> Dict[str, int]:
    _require(src, 'dataset folder')
    # the release may nest the class folders one level down (EuroSAT_RGB/, 2750/, ...)
    root = src
    while True:
        dirs = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
        files = [f for f in os.listdir(root) if f.lower().endswith(extensions)]
        if len(dirs) == 1 and not files:
            root = osp.join(root, dirs[0])
            continue
        break
    classes = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
    if not classes:
        raise ValueError(f'no class folders under {root}')
    raw = _link_raw(src, out)
    samples = []
    for label, cls in enumerate(classes):
        for name in sorted(os.listdir(osp.join(root, cls))):
            if name.lower().endswith(extensions):
                rel = osp.relpath(osp.join(root, cls, name), src)
                samples.append((osp.join(osp.basename(raw), rel), label))
    train, test = seeded_split(samples, test_ratio, seed)
    return write_cls_lists(out, dict(train=train, test=test), classes)


def convert_eurosat(src: str, out: str, test_ratio: float = 0.2,
                    seed: int = 0) -> Dict[str, int]:
    """EuroSAT RGB (``<Class>/<Class>_<n>.jpg``); no official split: seeded 80/20."""
    return _class_folder_dataset(src, out, test_ratio, seed)


def convert_resisc45(src: str, out: str, test_ratio: float = 0.2,
                     seed: int = 0) -> Dict[str, int]:
    """NWPU-RESISC45 (``<class>/<class>_<nnn>.jpg``); no official split: seeded 80/20."""
    return _class_folder_dataset(src, out, test_ratio, seed)


def convert_retinopathy(src: str, out: str) -> Dict[str, int]:
    """Kaggle Diabetic Retinopathy: ``trainLabels.csv`` + ``train/``, and
    ``retinopathy_solution.csv`` (image, level, Usage) + ``test/``; 5 grades."""
    raw = _link_raw(src, out)
    lists = {}
    for split, csv_name in (('train', 'trainLabels.csv'),
                            ('test', 'retinopathy_solution.csv')):
        path = _require(osp.join(src, csv_name), f'retinopathy {split} labels')
        samples = []
        with open(path, newline='') as f:
            for row in csv.DictReader(f):
                if 'image' not in row or 'level' not in row:
                    raise KeyError(f'{path}: expected "image" and "level" columns')
                img = osp.join(split, f"{row['image']}.jpeg")
                _require(osp.join(src, img), 'retinopathy image')
                samples.append((osp.join(osp.basename(raw), img), int(row['level'])))
        lists[split] = samples
    return write_cls_lists(out, lists, [str(i) for i in range(5)])


def convert_fer2013(src: str, out: str) -> Dict[str, int]:
    """FER2013 ``fer2013.csv`` (emotion, pixels, Usage): Training -> train,
    PrivateTest -> test (PublicTest is left out: it is the usual validation set)."""
    path = src if src.endswith('.csv') else _require(osp.join(src, 'fer2013.csv'),
                                                     'fer2013.csv')
    lists = dict(train=[], test=[])
    usage_map = dict(Training='train', PrivateTest='test')
    with open(path, newline='') as f:
        for i, row in enumerate(csv.DictReader(f)):
            split = usage_map.get(row['Usage'])
            if split is None:
                continue
            pixels = np.asarray([int(v) for v in row['pixels'].split()], dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f'{path} row {i}: expected 2304 pixels, got {pixels.size}')
            rel = osp.join('images', split, f'{i:06d}.png')
            _save_png(pixels.reshape(48, 48), osp.join(out, rel))
            lists[split].append((rel, int(row['emotion'])))
    return write_cls_lists(out, lists, FER_CLASSES)


def convert_ucf101(src: str, out: str, split_id: int = 1) -> Dict[str, int]:
    """UCF101: ``UCF-101/<Class>/*.avi`` + ``ucfTrainTestlist`` (split ``split_id``);
    the middle frame of each video becomes the image."""
    lists_dir = osp.dirname(_find(src, 'classInd.txt', 'UCF101 classInd.txt'))
    video_root = osp.dirname(osp.dirname(_find(src, '*.avi', 'UCF101 videos')))
    classes = []
    with open(osp.join(lists_dir, 'classInd.txt')) as f:
        for line in f:
            if line.strip():
                classes.append(line.split()[1])
    index = {c: i for i, c in enumerate(classes)}
    lists = {}
    for split, name in (('train', f'trainlist0{split_id}.txt'),
                        ('test', f'testlist0{split_id}.txt')):
        samples = []
        with open(_require(osp.join(lists_dir, name), f'UCF101 {name}')) as f:
            for line in f:
                if not line.strip():
                    continue
                video = line.split()[0]
                cls = video.split('/')[0]
                rel = osp.join('images', split, osp.splitext(video)[0] + '.jpg')
                if not _video_middle_frame(osp.join(video_root, video), osp.join(out, rel)):
                    raise RuntimeError(f'cannot read a frame of {video}')
                samples.append((rel, index[cls]))
        lists[split] = samples
    return write_cls_lists(out, lists, classes)


def convert_gtsrb(src: str, out: str) -> Dict[str, int]:
    """GTSRB: ``Final_Training/Images/000NN/*.ppm`` and ``Final_Test/Images/*.ppm`` with
    ``GT-final_test.csv`` (``;``-separated, ``ClassId``); 43 classes."""
    train_root = osp.dirname(_find(src, 'Final_Training/Images/00000', 'GTSRB training'))
    test_csv = _find(src, 'GT-final_test.csv', 'GTSRB test labels')
    test_images = osp.dirname(_find(src, 'Final_Test/Images/*.ppm', 'GTSRB test images'))
    raw = _link_raw(src, out)
    train = []
    for cls_dir in sorted(os.listdir(train_root)):
        if not cls_dir.isdigit():
            continue
        for name in sorted(os.listdir(osp.join(train_root, cls_dir))):
            if name.endswith('.ppm'):
                rel = osp.relpath(osp.join(train_root, cls_dir, name), src)
                train.append((osp.join(osp.basename(raw), rel), int(cls_dir)))
    test = []
    with open(test_csv, newline='') as f:
        for row in csv.DictReader(f, delimiter=';'):
            rel = osp.relpath(osp.join(test_images, row['Filename']), src)
            test.append((osp.join(osp.basename(raw), rel), int(row['ClassId'])))
    return write_cls_lists(out, dict(train=train, test=test), [str(i) for i in range(43)])


def convert_pcam(src: str, out: str) -> Dict[str, int]:
    """PatchCamelyon HDF5: ``camelyonpatch_level_2_split_{train,test}_{x,y}.h5``."""
    try:
        import h5py
    except ImportError as err:
        raise ImportError('converting PatchCamelyon needs h5py (pip install h5py)') from err
    lists = {}
    for split in ('train', 'test'):
        xs = _require(osp.join(src, f'camelyonpatch_level_2_split_{split}_x.h5'), 'PCam x')
        ys = _require(osp.join(src, f'camelyonpatch_level_2_split_{split}_y.h5'), 'PCam y')
        with h5py.File(xs, 'r') as fx, h5py.File(ys, 'r') as fy:
            images, labels = fx['x'], np.asarray(fy['y']).reshape(-1)
            samples = []
            for i in range(len(labels)):
                rel = osp.join('images', split, f'{i:06d}.png')
                _save_png(images[i], osp.join(out, rel))
                samples.append((rel, int(labels[i])))
        lists[split] = samples
    return write_cls_lists(out, lists, ['normal', 'tumor'])


def convert_kinetics700(src: str, out: str) -> Dict[str, int]:
    """Kinetics-700: ``annotations/{train,validate}.csv`` (label, youtube_id, time_start,
    time_end, split) and clips ``{train,val}/<label>/<id>_<start:06d>_<end:06d>.mp4``;
    middle frames; validate -> test. Clips absent on disk (removed from YouTube) are
    listed in ``meta/missing_<split>.txt``."""
    lists, classes = {}, None
    for split, csv_name, video_dir in (('train', 'train.csv', 'train'),
                                       ('test', 'validate.csv', 'val')):
        path = _find(src, csv_name, f'Kinetics {csv_name}')
        with open(path, newline='') as f:
            rows = list(csv.DictReader(f))
        if classes is None:
            classes = sorted({r['label'] for r in rows})
        index = {c: i for i, c in enumerate(classes)}
        samples, missing = [], []
        for r in rows:
            clip = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_" \
                   f"{int(float(r['time_end'])):06d}"
            video = osp.join(src, video_dir, r['label'], clip + '.mp4')
            rel = osp.join('images', split, r['label'].replace(' ', '_'), clip + '.jpg')
            if not osp.isfile(video) or not _video_middle_frame(video, osp.join(out, rel)):
                missing.append(clip)
                continue
            if r['label'] not in index:
                raise ValueError(f'{path}: label "{r["label"]}" not in the training labels')
            samples.append((rel, index[r['label']]))
        lists[split] = samples
        os.makedirs(osp.join(out, 'meta'), exist_ok=True)
        with open(osp.join(out, 'meta', f'missing_{split}.txt'), 'w') as f:
            f.writelines(f'{m}\n' for m in missing)
    return write_cls_lists(out, lists, classes)


# ----------------------------------------------------------------------------------------
# detection
# ----------------------------------------------------------------------------------------
def widerface_difficulty(height: float, occlusion: int, blur: int) -> int:
    """Annotation-based difficulty of a WIDER FACE box (0 easy, 1 medium, 2 hard).

    Used when the official evaluation lists (``wider_face_val.mat``) are not given:
    easy = height >= 50 px, no occlusion, not heavily blurred; medium = height >= 30 px
    and not heavily occluded; every other valid face is hard.

    Args:
        height (float): Box height in pixels.
        occlusion (int): 0 none, 1 partial, 2 heavy.
        blur (int): 0 clear, 1 normal, 2 heavy.

    Returns:
        int: The difficulty.
    """
    if height >= 50 and occlusion == 0 and blur < 2:
        return 0
    if height >= 30 and occlusion < 2:
        return 1
    return 2


def _image_size(path: str) -> Tuple[int, int]:
    from PIL import Image
    with Image.open(path) as img:
        return img.size


def _read_wider_gt(path: str):
    with open(path) as f:
        lines = [line.strip() for line in f]
    i, entries = 0, []
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name, count = lines[i], int(lines[i + 1])
        boxes = [list(map(int, lines[i + 2 + k].split()[:10])) for k in range(count)]
        entries.append((name, boxes))
        i += 2 + max(count, 1)
    return entries


def wider_eval_lists(mat_path: str) -> Dict[str, Dict[int, int]]:
    """Official WIDER FACE Easy/Medium/Hard lists of ``wider_face_val.mat``.

    Args:
        mat_path (str): Path of ``wider_face_val.mat`` (``file_list`` and
            ``easy/medium/hard_gt_list``, 1-based box indices per image).

    Returns:
        dict: ``image stem -> {box index (0-based) -> difficulty}`` (0 easy, 1 medium,
        2 hard; boxes in no list are absent).
    """
    from scipy.io import loadmat
    mat = loadmat(mat_path)
    difficulty: Dict[str, Dict[int, int]] = defaultdict(dict)
    for level, key in ((2, 'hard_gt_list'), (1, 'medium_gt_list'), (0, 'easy_gt_list')):
        for e, event in enumerate(mat['file_list']):
            for j, name in enumerate(event[0]):
                img = str(name[0][0])
                for idx in np.asarray(mat[key][e][0][j][0]).reshape(-1):
                    difficulty[img][int(idx) - 1] = level
    return difficulty


def convert_widerface_det(src: str, out: str,
                          eval_mat: Optional[str] = None) -> Dict[str, int]:
    """WIDER FACE -> COCO (``annotations/{train,val}.json``) with per-box ``blur``,
    ``occlusion``, ``ignore`` (= invalid) and ``difficulty`` (official lists from
    ``eval_mat`` = ``wider_face_val.mat`` when given, else :func:`widerface_difficulty`)."""
    raw = _link_raw(src, out)
    mat_lists = wider_eval_lists(eval_mat) if eval_mat else None
    counts = {}
    os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
    for split in ('train', 'val'):
        gt = _find(src, f'wider_face_{split}_bbx_gt.txt', f'WIDER FACE {split} labels')
        img_root = _require(osp.join(src, f'WIDER_{split}', 'images'), 'WIDER images')
        images, anns = [], []
        for img_id, (name, boxes) in enumerate(_read_wider_gt(gt)):
            path = osp.join(img_root, name)
            w, h = _image_size(path)
            images.append(dict(id=img_id, file_name=osp.join(
                osp.basename(raw), osp.relpath(path, src)), width=w, height=h))
            stem = osp.splitext(osp.basename(name))[0]
            for k, (x, y, bw, bh, blur, _, _, invalid, occlusion, _) in enumerate(boxes):
                if bw <= 0 or bh <= 0:
                    continue
                if mat_lists is not None and split == 'val':
                    difficulty = mat_lists.get(stem, {}).get(k, 3)
                else:
                    difficulty = widerface_difficulty(bh, occlusion, blur)
                anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=1,
                                 bbox=[x, y, bw, bh], area=bw * bh, iscrowd=int(invalid),
                                 ignore=int(invalid or difficulty > 2), blur=blur,
                                 occlusion=occlusion, difficulty=min(difficulty, 2),
                                 box_index=k))
        official = mat_lists is not None and split == 'val'
        with open(osp.join(out, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns,
                           categories=[dict(id=1, name='face')],
                           info=dict(difficulty_source='wider_face_val.mat' if official
                                     else 'approximation')), f)
        counts[split] = len(images)
    return counts


def convert_citypersons_det(src: str, out: str) -> Dict[str, int]:
    """CityPersons (``gtBboxCityPersons/{train,val}/<city>/*.json`` +
    ``leftImg8bit/{train,val}/<city>/*_leftImg8bit.png``) -> COCO with ``vis_ratio`` and
    ``ignore`` (every label except ``pedestrian`` is an ignore region)."""
    raw = _link_raw(src, out)
    counts = {}
    os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
    for split in ('train', 'val'):
        ann_root = _require(osp.join(src, 'gtBboxCityPersons', split), 'CityPersons boxes')
        images, anns = [], []
        for path in sorted(glob.glob(osp.join(ann_root, '*', '*.json'))):
            with open(path) as f:
                data = json.load(f)
            city = osp.basename(osp.dirname(path))
            stem = osp.basename(path).replace('_gtBboxCityPersons.json', '')
            img = osp.join('leftImg8bit', split, city, f'{stem}_leftImg8bit.png')
            img_id = len(images)
            images.append(dict(id=img_id, file_name=osp.join(osp.basename(raw), img),
                               width=data['imgWidth'], height=data['imgHeight']))
            for obj in data['objects']:
                x, y, w, h = obj['bbox']
                if w <= 0 or h <= 0:
                    continue
                vx, vy, vw, vh = obj.get('bboxVis', obj['bbox'])
                ignore = obj['label'] != 'pedestrian'
                anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=1,
                                 bbox=[x, y, w, h], area=w * h, iscrowd=int(ignore),
                                 ignore=int(ignore), label=obj['label'],
                                 vis_ratio=float(vw * vh) / float(w * h)))
        with open(osp.join(out, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns,
                           categories=[dict(id=1, name='person')]), f)
        counts[split] = len(images)
    return counts


# ----------------------------------------------------------------------------------------
# segmentation
# ----------------------------------------------------------------------------------------
def convert_voc2012_seg(src: str, out: str, sbd: Optional[str] = None) -> Dict[str, int]:
    """VOC2012 + SBD "aug" set: ``SegmentationClassAug`` (SBD ``cls/*.mat`` converted,
    VOC masks copied as index PNGs) and ``trainaug.txt`` = VOC train + SBD train/val
    minus VOC val. ``src`` holds ``VOC2012`` (or ``VOCdevkit/VOC2012``); ``sbd`` is
    ``benchmark_RELEASE/dataset`` (default: searched under ``src``)."""
    from PIL import Image
    from scipy.io import loadmat
    voc = osp.dirname(_find(src, 'VOC2012/JPEGImages', 'VOC2012'))
    sbd = sbd or osp.dirname(_find(src, 'cls/*.mat', 'SBD cls/*.mat'))
    sets = osp.join(voc, 'ImageSets', 'Segmentation')
    with open(osp.join(sets, 'train.txt')) as f:
        voc_train = [x.strip() for x in f if x.strip()]
    with open(osp.join(sets, 'val.txt')) as f:
        voc_val = [x.strip() for x in f if x.strip()]
    sbd_ids = []
    for name in ('train.txt', 'val.txt'):
        with open(_require(osp.join(sbd, name), f'SBD {name}')) as f:
            sbd_ids += [x.strip() for x in f if x.strip()]
    val_set = set(voc_val)
    os.makedirs(osp.join(out, 'ImageSets', 'Segmentation'), exist_ok=True)
    aug_dir = osp.join(out, 'SegmentationClassAug')
    os.makedirs(aug_dir, exist_ok=True)
    for name in ('JPEGImages', 'SegmentationClass'):
        link = osp.join(out, name)
        if not osp.exists(link):
            os.symlink(osp.abspath(osp.join(voc, name)), link)
    trainaug = sorted((set(voc_train) | set(sbd_ids)) - val_set)
    voc_masks = set(voc_train) | val_set
    for img_id in trainaug:
        target = osp.join(aug_dir, f'{img_id}.png')
        if img_id in voc_masks:
            mask = np.asarray(Image.open(osp.join(voc, 'SegmentationClass',
                                                  f'{img_id}.png')))
        else:
            mat = loadmat(osp.join(sbd, 'cls', f'{img_id}.mat'))
            mask = mat['GTcls'][0]['Segmentation'][0].astype(np.uint8)
        Image.fromarray(mask.astype(np.uint8)).save(target)
    with open(osp.join(out, 'ImageSets', 'Segmentation', 'trainaug.txt'), 'w') as f:
        f.writelines(f'{i}\n' for i in trainaug)
    with open(osp.join(out, 'ImageSets', 'Segmentation', 'val.txt'), 'w') as f:
        f.writelines(f'{i}\n' for i in voc_val)
    return dict(train=len(trainaug), test=len(voc_val))


# ----------------------------------------------------------------------------------------
# depth
# ----------------------------------------------------------------------------------------
def _write_ids(out: str, split: str, ids: List[str]) -> None:
    os.makedirs(osp.join(out, 'meta'), exist_ok=True)
    with open(osp.join(out, 'meta', f'{split}.txt'), 'w') as f:
        f.writelines(f'{i}\n' for i in ids)


def convert_nyuv2_depth(src: str, out: str) -> Dict[str, int]:
    """NYUv2 in mmseg's layout (``images/{train,test}/*.jpg``,
    ``annotations/{train,test}/*.png``, made by mmseg's ``tools/dataset_converters/
    nyu.py``): link it and write the id lists."""
    counts = {}
    for split in ('train', 'test'):
        img_dir = _require(osp.join(src, 'images', split), f'NYU images/{split}')
        ann_dir = _require(osp.join(src, 'annotations', split), f'NYU annotations/{split}')
        ids = sorted(osp.splitext(n)[0] for n in os.listdir(img_dir) if n.endswith('.jpg'))
        for i in ids:
            _require(osp.join(ann_dir, f'{i}.png'), 'NYU depth map')
        for kind, path in (('images', img_dir), ('annotations', ann_dir)):
            link = osp.join(out, kind, split)
            os.makedirs(osp.dirname(link), exist_ok=True)
            if not osp.exists(link):
                os.symlink(osp.abspath(path), link)
        _write_ids(out, split, ids)
        counts[split] = len(ids)
    return counts


def convert_kitti_depth(src: str, out: str, train_list: Optional[str] = None,
                        test_list: Optional[str] = None) -> Dict[str, int]:
    """KITTI Eigen split: list files (``<raw image> <depth png> <focal>`` lines, BTS
    format; ``None`` depth skipped) resolved against ``src/raw`` and
    ``src/data_depth_annotated``; images and depth maps are linked as
    ``images/<split>/<id>.png`` / ``annotations/<split>/<id>.png`` (uint16, metres x 256)."""
    counts = {}
    for split, path in (('train', train_list or osp.join(src, 'eigen_train_files.txt')),
                        ('test', test_list or osp.join(src, 'eigen_test_files.txt'))):
        ids = []
        with open(_require(path, f'KITTI {split} list')) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 2 or parts[1] == 'None':
                    continue
                img = osp.join(src, 'raw', parts[0])
                base = osp.join(src, 'data_depth_annotated')
                candidates = [osp.join(base, p, parts[1]) for p in ('', 'train', 'val')]
                depth = next((c for c in candidates if osp.isfile(c)), None)
                if depth is None:
                    raise FileNotFoundError(f'KITTI depth map {parts[1]} not found under '
                                            f'{base} (nor its train/ or val/)')
                _require(img, 'KITTI image')
                img_id = parts[0].replace('/', '_').rsplit('.', 1)[0]
                for kind, target in (('images', img), ('annotations', depth)):
                    link = osp.join(out, kind, split, f'{img_id}.png')
                    os.makedirs(osp.dirname(link), exist_ok=True)
                    if not osp.exists(link):
                        os.symlink(osp.abspath(target), link)
                ids.append(img_id)
        _write_ids(out, split, ids)
        counts[split] = len(ids)
    return counts


CONVERTERS: Dict[str, Callable] = {t: _mmpretrain_converter(t) for t in MMPRETRAIN_SPLITS}
CONVERTERS.update(
    flowers102=convert_flowers102, dtd=convert_dtd, cars=convert_cars,
    svhn=convert_svhn, eurosat=convert_eurosat, resisc45=convert_resisc45,
    retinopathy=convert_retinopathy, fer2013=convert_fer2013, ucf101=convert_ucf101,
    gtsrb=convert_gtsrb, pcam=convert_pcam, kinetics700=convert_kinetics700,
    widerface_det=convert_widerface_det, citypersons_det=convert_citypersons_det,
    voc2012_seg=convert_voc2012_seg, nyuv2_depth=convert_nyuv2_depth,
    kitti_depth=convert_kitti_depth)
