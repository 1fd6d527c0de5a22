"""GV-B converters on small fixtures in each dataset's official release format."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from intern_mm.datasets.gvb.converters import CONVERTERS, widerface_difficulty

REPO = Path(__file__).resolve().parents[3]


def _lists(out: Path):
    read = lambda n: [l.rsplit(' ', 1) for l in (out / 'meta' / n).read_text().splitlines()]
    return read('train.txt'), read('test.txt'), (out / 'meta' / 'classes.txt').read_text(
    ).split('\n')[:-1]


def _check_cls_readable(out: Path, num: int):
    """The prepared lists load through mmpretrain's CustomDataset with the probe pipeline."""
    from intern_mm.benchmark.data_cfgs import cls_dataset_cfg
    from intern_mm.benchmark.feature_probe import build_cls_dataset
    ds = build_cls_dataset(cls_dataset_cfg(str(out), 'meta/train.txt',
                                           classes=str(out / 'meta/classes.txt'),
                                           img_size=16))
    assert len(ds) == num
    item = ds[0]
    assert tuple(item['inputs'].shape) == (3, 16, 16)


def _img(path: Path, size=(20, 20), value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', size, (value, 50, 100)).save(path)


def test_svhn(tmp_path):
    from scipy.io import savemat
    src = tmp_path / 'src'
    src.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (('train', 5), ('test', 3)):
        savemat(src / f'{split}_32x32.mat', dict(
            X=rng.integers(0, 255, (32, 32, 3, n), dtype=np.uint8),
            y=np.array([[10], [1], [2], [3], [9]][:n], dtype=np.uint8)))
    counts = CONVERTERS['svhn'](str(src), str(tmp_path / 'out'))
    assert counts == dict(train=5, test=3)
    train, test, classes = _lists(tmp_path / 'out')
    assert [int(l) for _, l in train] == [0, 1, 2, 3, 9]  # label 10 is digit 0
    assert classes == [str(d) for d in range(10)]
    _check_cls_readable(tmp_path / 'out', 5)


@pytest.mark.parametrize('task', ['eurosat', 'resisc45'])
def test_class_folder_sets(tmp_path, task):
    src = tmp_path / 'src' / 'EuroSAT_RGB'
    for c in ('Forest', 'River'):
        for i in range(10):
            _img(src / c / f'{c}_{i}.jpg', value=i)
    counts = CONVERTERS[task](str(tmp_path / 'src'), str(tmp_path / 'out'))
    assert counts == dict(train=16, test=4)
    train, test, classes = _lists(tmp_path / 'out')
    assert classes == ['Forest', 'River']
    assert not {p for p, _ in train} & {p for p, _ in test}
    assert sorted(int(l) for _, l in test) == [0, 0, 1, 1]  # stratified 80/20
    again = CONVERTERS[task](str(tmp_path / 'src'), str(tmp_path / 'out2'))
    assert _lists(tmp_path / 'out2')[1] == test and again == counts  # seeded
    _check_cls_readable(tmp_path / 'out', 16)


def test_retinopathy(tmp_path):
    src = tmp_path / 'src'
    for split, names in (('train', ['10_left', '10_right']), ('test', ['1_left'])):
        for n in names:
            _img(src / split / f'{n}.jpeg')
    (src / 'trainLabels.csv').write_text('image,level\n10_left,0\n10_right,4\n')
    (src / 'retinopathy_solution.csv').write_text('image,level,Usage\n1_left,2,Public\n')
    assert CONVERTERS['retinopathy'](str(src), str(tmp_path / 'out')) == dict(train=2,
                                                                             test=1)
    train, test, classes = _lists(tmp_path / 'out')
    assert train == [['raw/train/10_left.jpeg', '0'], ['raw/train/10_right.jpeg', '4']]
    assert test == [['raw/test/1_left.jpeg', '2']] and len(classes) == 5
    _check_cls_readable(tmp_path / 'out', 2)


def test_fer2013(tmp_path):
    src = tmp_path / 'fer'
    src.mkdir()
    rows = [(3, 'Training'), (0, 'PublicTest'), (6, 'PrivateTest'), (1, 'Training')]
    with open(src / 'fer2013.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['emotion', 'pixels', 'Usage'])
        for i, (e, u) in enumerate(rows):
            w.writerow([e, ' '.join(str((i * 7 + k) % 256) for k in range(48 * 48)), u])
    assert CONVERTERS['fer2013'](str(src), str(tmp_path / 'out')) == dict(train=2, test=1)
    train, test, classes = _lists(tmp_path / 'out')
    assert [int(l) for _, l in train] == [3, 1] and test[0][1] == '6'
    img = np.asarray(Image.open(tmp_path / 'out' / train[0][0]))
    assert img.shape == (48, 48) and img[0, 1] == 1
    assert classes[3] == 'Happy'
    _check_cls_readable(tmp_path / 'out', 2)


def _video(path: Path, frames: int, fourcc='MJPG'):
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 5, (32, 24))
    for i in range(frames):
        writer.write(np.full((24, 32, 3), i * 20, np.uint8))
    writer.release()


def test_ucf101_middle_frames(tmp_path):
    src = tmp_path / 'src'
    _video(src / 'UCF-101' / 'Archery' / 'v_Archery_g01_c01.avi', 9)
    _video(src / 'UCF-101' / 'Bowling' / 'v_Bowling_g08_c01.avi', 5)
    lists = src / 'ucfTrainTestlist'
    lists.mkdir()
    (lists / 'classInd.txt').write_text('1 Archery\n2 Bowling\n')
    (lists / 'trainlist01.txt').write_text('Archery/v_Archery_g01_c01.avi 1\n')
    (lists / 'testlist01.txt').write_text('Bowling/v_Bowling_g08_c01.avi\n')
    assert CONVERTERS['ucf101'](str(src), str(tmp_path / 'out')) == dict(train=1, test=1)
    train, test, classes = _lists(tmp_path / 'out')
    assert classes == ['Archery', 'Bowling'] and test[0][1] == '1'
    frame = cv2.imread(str(tmp_path / 'out' / train[0][0]))
    assert abs(int(frame.mean()) - 80) <= 12  # frame 4 of 9 has value 80
    _check_cls_readable(tmp_path / 'out', 1)


def test_gtsrb(tmp_path):
    src = tmp_path / 'GTSRB'
    for c in ('00000', '00002'):
        for i in range(2):
            d = src / 'Final_Training' / 'Images' / c
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f'00000_0000{i}.ppm'), np.zeros((20, 20, 3), np.uint8))
    test_dir = src / 'Final_Test' / 'Images'
    test_dir.mkdir(parents=True)
    cv2.imwrite(str(test_dir / '00000.ppm'), np.zeros((20, 20, 3), np.uint8))
    (tmp_path / 'GT-final_test.csv').write_text(
        'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n'
        '00000.ppm;20;20;1;1;19;19;16\n')
    assert CONVERTERS['gtsrb'](str(tmp_path), str(tmp_path / 'out')) == dict(train=4,
                                                                            test=1)
    train, test, classes = _lists(tmp_path / 'out')
    assert sorted({l for _, l in train}) == ['0', '2'] and test[0][1] == '16'
    assert len(classes) == 43
    _check_cls_readable(tmp_path / 'out', 4)


def test_kinetics700_missing_clips_listed(tmp_path):
    src = tmp_path / 'k700'
    ann = src / 'annotations'
    ann.mkdir(parents=True)
    (ann / 'train.csv').write_text('label,youtube_id,time_start,time_end,split\n'
                                   'abseiling,aaa,0,10,train\nbaking,bbb,5,15,train\n'
                                   'baking,gone,1,11,train\n')
    (ann / 'validate.csv').write_text('label,youtube_id,time_start,time_end,split\n'
                                      'abseiling,ccc,2,12,validate\n')
    _video(src / 'train' / 'abseiling' / 'aaa_000000_000010.mp4', 5, 'mp4v')
    _video(src / 'train' / 'baking' / 'bbb_000005_000015.mp4', 5, 'mp4v')
    _video(src / 'val' / 'abseiling' / 'ccc_000002_000012.mp4', 5, 'mp4v')
    assert CONVERTERS['kinetics700'](str(src), str(tmp_path / 'out')) == dict(train=2,
                                                                             test=1)
    assert (tmp_path / 'out' / 'meta' / 'missing_train.txt').read_text() == \
        'gone_000001_000011\n'
    assert _lists(tmp_path / 'out')[2] == ['abseiling', 'baking']


def test_pcam_converts_hdf5(tmp_path):
    import h5py  # requirements/optional.txt
    rng = np.random.default_rng(0)
    patches = {}
    for split, labels in (('train', [0, 1, 1]), ('test', [1, 0])):
        patches[split] = rng.integers(0, 256, (len(labels), 96, 96, 3), dtype=np.uint8)
        with h5py.File(tmp_path / f'camelyonpatch_level_2_split_{split}_x.h5', 'w') as f:
            f['x'] = patches[split]
        with h5py.File(tmp_path / f'camelyonpatch_level_2_split_{split}_y.h5', 'w') as f:
            f['y'] = np.array(labels, np.uint8).reshape(-1, 1, 1, 1)
    out = tmp_path / 'out'
    assert CONVERTERS['pcam'](str(tmp_path), str(out)) == dict(train=3, test=2)
    train, test, classes = _lists(out)
    assert classes == ['normal', 'tumor']
    assert [label for _, label in train] == ['0', '1', '1']
    assert [label for _, label in test] == ['1', '0']
    # lossless PNGs: the pixels are the HDF5 patches
    np.testing.assert_array_equal(np.asarray(Image.open(out / test[1][0])), patches['test'][1])
    _check_cls_readable(out, 3)


def test_pcam_without_h5py_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'h5py', None)
    with pytest.raises(ImportError, match='needs h5py'):
        CONVERTERS['pcam'](str(tmp_path), str(tmp_path / 'out'))


def test_flowers_dtd_cars(tmp_path):
    from scipy.io import savemat
    fl = tmp_path / 'flowers'
    for i in range(1, 5):
        _img(fl / 'jpg' / f'image_{i:05d}.jpg')
    savemat(fl / 'imagelabels.mat', dict(labels=np.array([[1, 2, 1, 2]])))
    savemat(fl / 'setid.mat', dict(trnid=np.array([[1]]), valid=np.array([[2]]),
                                   tstid=np.array([[3, 4]])))
    assert CONVERTERS['flowers102'](str(fl), str(tmp_path / 'fo')) == dict(train=2, test=2)
    assert _lists(tmp_path / 'fo')[0] == [['raw/jpg/image_00001.jpg', '0'],
                                          ['raw/jpg/image_00002.jpg', '1']]
    dtd = tmp_path / 'dtd'
    for c in ('banded', 'dotted'):
        _img(dtd / 'images' / c / f'{c}_0001.jpg')
    (dtd / 'labels').mkdir()
    (dtd / 'labels' / 'train1.txt').write_text('banded/banded_0001.jpg\n')
    (dtd / 'labels' / 'val1.txt').write_text('dotted/dotted_0001.jpg\n')
    (dtd / 'labels' / 'test1.txt').write_text('dotted/dotted_0001.jpg\n')
    assert CONVERTERS['dtd'](str(dtd), str(tmp_path / 'do')) == dict(train=2, test=1)
    cars = tmp_path / 'cars'
    for i in range(1, 4):
        _img(cars / 'car_ims' / f'{i:06d}.jpg')
    annotations = np.zeros((1, 3), dtype=[('relative_im_path', 'O'), ('class', 'O'),
                                          ('test', 'O')])
    for i in range(3):
        annotations[0, i] = (f'car_ims/{i + 1:06d}.jpg', i % 2 + 1, int(i == 2))
    savemat(cars / 'cars_annos.mat', dict(
        annotations=annotations, class_names=np.array([['AM General', 'Acura']],
                                                      dtype=object)))
    assert CONVERTERS['cars'](str(cars), str(tmp_path / 'co')) == dict(train=2, test=1)
    train, test, classes = _lists(tmp_path / 'co')
    assert classes == ['AM General', 'Acura'] and test == [['raw/car_ims/000003.jpg', '0']]


def test_widerface(tmp_path):
    src = tmp_path / 'wider'
    for split in ('train', 'val'):
        _img(src / f'WIDER_{split}' / 'images' / '0--Parade' / 'a.jpg', (200, 150))
        _img(src / f'WIDER_{split}' / 'images' / '0--Parade' / 'b.jpg', (200, 150))
        (src / 'wider_face_split').mkdir(parents=True, exist_ok=True)
        (src / 'wider_face_split' / f'wider_face_{split}_bbx_gt.txt').write_text(
            '0--Parade/a.jpg\n2\n10 10 60 60 0 0 0 0 0 0 \n100 20 12 12 2 0 0 1 0 0 \n'
            '0--Parade/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0 \n')
    assert CONVERTERS['widerface_det'](str(src), str(tmp_path / 'out')) == dict(train=2,
                                                                               val=2)
    coco = json.loads((tmp_path / 'out' / 'annotations' / 'val.json').read_text())
    assert [i['width'] for i in coco['images']] == [200, 200]
    a, b = coco['annotations']
    assert a['bbox'] == [10, 10, 60, 60] and a['difficulty'] == 0 and a['ignore'] == 0
    assert b['ignore'] == 1 and b['iscrowd'] == 1 and b['difficulty'] == 2
    assert widerface_difficulty(35, 1, 0) == 1 and widerface_difficulty(35, 2, 0) == 2
    assert (tmp_path / 'out' / coco['images'][0]['file_name']).is_file()


def test_citypersons(tmp_path):
    src = tmp_path / 'cp'
    for split in ('train', 'val'):
        d = src / 'gtBboxCityPersons' / split / 'aachen'
        d.mkdir(parents=True)
        (d / 'aachen_000000_000019_gtBboxCityPersons.json').write_text(json.dumps(dict(
            imgHeight=1024, imgWidth=2048, objects=[
                dict(label='pedestrian', bbox=[10, 10, 20, 100], bboxVis=[10, 10, 20, 50]),
                dict(label='rider', bbox=[100, 10, 20, 60], bboxVis=[100, 10, 20, 60])])))
    assert CONVERTERS['citypersons_det'](str(src), str(tmp_path / 'out')) == dict(train=1,
                                                                                 val=1)
    coco = json.loads((tmp_path / 'out' / 'annotations' / 'val.json').read_text())
    ped, rider = coco['annotations']
    assert ped['vis_ratio'] == pytest.approx(0.5) and ped['ignore'] == 0
    assert rider['ignore'] == 1 and coco['images'][0]['file_name'].endswith(
        'leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png')
    from intern_mm.evaluation import CityPersonsMetric
    CityPersonsMetric(ann_file=str(tmp_path / 'out' / 'annotations' / 'val.json'))


def test_voc2012_aug(tmp_path):
    from scipy.io import savemat
    voc = tmp_path / 'VOCdevkit' / 'VOC2012'
    seg_sets = voc / 'ImageSets' / 'Segmentation'
    seg_sets.mkdir(parents=True)
    for i in ('a', 'b', 'c', 'd'):
        _img(voc / 'JPEGImages' / f'{i}.jpg', (8, 8))
    for i in ('a', 'b'):
        (voc / 'SegmentationClass').mkdir(exist_ok=True)
        Image.fromarray(np.full((8, 8), 3, np.uint8)).save(voc / 'SegmentationClass' /
                                                           f'{i}.png')
    (seg_sets / 'train.txt').write_text('a\n')
    (seg_sets / 'val.txt').write_text('b\n')
    sbd = tmp_path / 'benchmark_RELEASE' / 'dataset'
    (sbd / 'cls').mkdir(parents=True)
    for i in ('b', 'c', 'd'):
        struct = np.zeros((1, ), dtype=[('Segmentation', 'O')])
        struct[0] = (np.full((8, 8), 7, np.uint8), )
        savemat(sbd / 'cls' / f'{i}.mat', dict(GTcls=struct))
    (sbd / 'train.txt').write_text('c\nb\n')
    (sbd / 'val.txt').write_text('d\n')
    counts = CONVERTERS['voc2012_seg'](str(tmp_path / 'VOCdevkit'), str(tmp_path / 'out'),
                                       sbd=str(sbd))
    assert counts == dict(train=3, test=1)
    out = tmp_path / 'out'
    assert (out / 'ImageSets/Segmentation/trainaug.txt').read_text() == 'a\nc\nd\n'
    assert np.asarray(Image.open(out / 'SegmentationClassAug' / 'c.png')).max() == 7
    assert np.asarray(Image.open(out / 'SegmentationClassAug' / 'a.png')).max() == 3


def test_depth_layouts(tmp_path):
    nyu = tmp_path / 'nyu'
    for split in ('train', 'test'):
        _img(nyu / 'images' / split / f'bedroom_{split}_0001.jpg', (16, 12))
        (nyu / 'annotations' / split).mkdir(parents=True)
        cv2.imwrite(str(nyu / 'annotations' / split / f'bedroom_{split}_0001.png'),
                    np.full((12, 16), 2500, np.uint16))
    assert CONVERTERS['nyuv2_depth'](str(nyu), str(tmp_path / 'nout')) == dict(train=1,
                                                                              test=1)
    from intern_mm.datasets import GVBDepthDataset
    ds = GVBDepthDataset(
        data_root=str(tmp_path / 'nout'), ann_file='meta/test.txt',
        data_prefix=dict(img_path='images/test', depth_map_path='annotations/test'),
        pipeline=[dict(type='mmseg.LoadDepthAnnotation', depth_rescale_factor=1e-3)])
    assert len(ds) == 1 and float(ds[0]['gt_depth_map'].max()) == pytest.approx(2.5)
    kitti = tmp_path / 'kitti'
    rel_img = '2011_09_26/2011_09_26_drive_0001_sync/image_02/data/0000000005.png'
    rel_depth = '2011_09_26_drive_0001_sync/proj_depth/groundtruth/image_02/0000000005.png'
    (kitti / 'raw' / rel_img).parent.mkdir(parents=True)
    cv2.imwrite(str(kitti / 'raw' / rel_img), np.zeros((12, 16, 3), np.uint8))
    (kitti / 'data_depth_annotated' / 'train' / rel_depth).parent.mkdir(parents=True)
    cv2.imwrite(str(kitti / 'data_depth_annotated' / 'train' / rel_depth),
                np.full((12, 16), 256 * 7, np.uint16))
    (kitti / 'eigen_train_files.txt').write_text(f'{rel_img} {rel_depth} 721.5\n'
                                                 f'{rel_img} None 721.5\n')
    (kitti / 'eigen_test_files.txt').write_text(f'{rel_img} {rel_depth} 721.5\n')
    assert CONVERTERS['kitti_depth'](str(kitti), str(tmp_path / 'kout')) == dict(train=1,
                                                                                test=1)
    ids = (tmp_path / 'kout' / 'meta' / 'train.txt').read_text().split()
    assert (tmp_path / 'kout' / 'annotations' / 'train' / f'{ids[0]}.png').is_file()


def test_prepare_cli_and_missing_source(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/dataset_converters/gvb_prepare.py'), 'fer2013',
         '--src', str(tmp_path / 'nothing'), '--out', str(tmp_path / 'o')],
        capture_output=True, text=True)
    assert proc.returncode != 0 and 'fer2013.csv not found' in proc.stderr


def test_mmpretrain_export_caltech101(tmp_path):
    """Sets mmpretrain reads are exported through its own dataset class."""
    src = tmp_path / 'caltech-101'
    for cls in ('accordion', 'airplanes'):
        for i in (1, 2):
            _img(src / '101_ObjectCategories' / cls / f'image_000{i}.jpg')
    (src / 'meta').mkdir()
    (src / 'meta' / 'train.txt').write_text('accordion/image_0001.jpg 0\n'
                                           'airplanes/image_0001.jpg 5\n')
    (src / 'meta' / 'test.txt').write_text('accordion/image_0002.jpg 0\n')
    counts = CONVERTERS['caltech101'](str(src), str(tmp_path / 'out'))
    assert counts == dict(train=2, test=1)
    train, test, classes = _lists(tmp_path / 'out')
    assert train[1] == ['raw/101_ObjectCategories/airplanes/image_0001.jpg', '5']
    assert len(classes) == 102
    _check_cls_readable(tmp_path / 'out', 2)
