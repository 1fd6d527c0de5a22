# The INTERN paradigm on declared sources: real files in standard formats, next to the GV
# world's files declared the same way (docs/your_data.md, the worked example).
#
#   upstream   the GV world's caption / list / COCO / mmseg files (world_sources), plus
#              CIFAR-10 (an mmpretrain image folder, 1,400 train images) and the raccoon
#              set (Pascal-VOC XML) from ../shared/datasets
#   label      one unified space per task from the sources' class names (WordNet,
#              tools/gvd.py taxonomy); the world keeps its spaces (its overrides below)
#   leak       before the first stage trains: every upstream training image against every
#              downstream train / val / test image (summary.json `leak_check`)
#   downstream GV-B tasks: the world's counting task and CamVid segmentation (never seen
#              upstream)
#
# The stages and their models / schedules are the world demo's
# (intern-paradigm_metanet-tiny_gv-world.py); `sources` replaces only their data part.
#
#   python tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_your-data.py
_base_ = ['./intern-paradigm_metanet-tiny_gv-world.py']

import mmengine.config as _mmcfg  # noqa: E402  (module: dropped from the config)

from intern_mm.datasets.gvd.sources import world_sources  # noqa: E402  (function: dropped)

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_your-data'
# the world is generated if absent and declared below as a user's sources
world = dict(root='data/gv_world', num=2000, seed=0, img_size=64)

_shared = '../shared/datasets'
sources = dict(
    **world_sources('data/gv_world'),
    cifar10=dict(
        task='cls', format='folder', root=f'{_shared}/cifar10', train='train', val='test',
        limit=dict(train=1400, val=300),
        # near duplicates the leak check found inside the 1,400 images `limit` picks
        # (docs/your_data.md, "Leak check"); the second file of each pair is left out:
        # 0357.jpg ~ 2285.jpg (pHash distance 2), 2250.jpg ~ 2964.jpg (10)
        exclude=['train/automobile/2285.jpg', 'train/automobile/2964.jpg']),
    raccoon=dict(
        task='det', format='voc', root=f'{_shared}/raccoon', train='train.txt',
        val='test.txt', classes=('raccoon', ), img_dir='images', ann_dir='annotations',
        # the same photo under two names in train.txt: near duplicates (distance 0 or 2)
        # raccoon-21 ~ 45, 50 ~ 52 ~ 74, 51 ~ 85, and byte-identical files (the check's
        # `same_file`) 65 = 98, 11 = 116, 83 = 120
        exclude=['images/raccoon-45.jpg', 'images/raccoon-52.jpg', 'images/raccoon-74.jpg',
                 'images/raccoon-85.jpg', 'images/raccoon-98.jpg', 'images/raccoon-116.jpg',
                 'images/raccoon-120.jpg']),
)


def _overrides(*tasks):
    """The world's label-space overrides (configs/_base_/datasets/gv_world_*.py)."""
    out = {}
    for task in tasks:
        base = _mmcfg.Config.fromfile(
            '{{ fileDirname }}/../_base_/datasets/gv_world_' + task + '.py')
        out.update(base[f'{task}_gvd_overrides'])
    return out


# every image resized to the stages' 64 px; the world's WordNet overrides keep its spaces
source_options = dict(img_size=64, overrides=_overrides('cls', 'det', 'seg'))

downstream = dict(
    families=(),
    tasks=dict(
        count=dict(task='gvw_count_cls', data_root='data/gv_world'),
        # CamVid's 480x360 frames at a quarter of their size, heads on strides 8 / 4 and
        # a CPU schedule (the GV-B default is 20k iterations of 512 px crops)
        camvid=dict(task='camvid_seg', data_root=f'{_shared}/camvid',
                    recipe=dict(max_iters=200, batch_size=8, crop_size=(96, 96),
                                img_scale=(128, 96), head_channels=64, aux_channels=32,
                                head_level=1, aux_level=0, test_batch_size=8))),
)
