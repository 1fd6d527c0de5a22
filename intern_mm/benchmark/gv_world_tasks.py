"""The GV world's four downstream tasks as GV-B stand-in tasks (one per family).

The tasks are defined in ``docs/gv_world.md`` (*Downstream tasks*): each target is
something no upstream stage of the paradigm supervises -- the number of objects (cls),
boxes classed by colour (det), masks classed by texture (seg) and depth. They are plain
dicts here (no import of :mod:`.tasks`, so the import graph has no cycle);
:mod:`intern_mm.benchmark.tasks` turns them into :class:`~intern_mm.benchmark.GVBTask`
entries of ``EXTRA_TASKS``, so ``tools/gvb.py run --tasks gvw_count_cls,...`` and the
paradigm's Downstream-Adaptation (:mod:`intern_mm.paradigm.downstream`) run them through
the same GV-B protocols.

Besides the train / test sources of every GV-B layout, each layout names the world's
``val`` split (``layout['val']``): the paradigm selects protocols and learning rates on
it; ``tools/gvb.py`` keeps its own carved validation split.

The recipes are scaled to the world's 64x64 images and a CPU budget; ``cfg_options``
adapts the stock heads to 64x64 images (small anchors and narrow heads for detection,
label-preserving augmentation for counting) and is merged into every Runner config of
the task.

Example:
    >>> from intern_mm.benchmark.tasks import get_task
    >>> get_task('gvw_colour_det').classes[:2]
    ('red', 'green')
"""
from typing import Dict

__all__ = ['GV_WORLD_TASKS', 'GV_WORLD_TASK_OF_FAMILY', 'gv_world_layout']

#: family -> GV-B task name of the GV world's downstream task
GV_WORLD_TASK_OF_FAMILY: Dict[str, str] = dict(
    cls='gvw_count_cls', det='gvw_colour_det', seg='gvw_texture_seg', depth='gvw_depth')

_COLOURS = ('red', 'green', 'blue', 'yellow', 'magenta', 'cyan')
_TEXTURES = ('background', 'plain', 'striped', 'dotted')
_PREP = ('python tools/dataset_converters/make_gv_world.py --out data/gv_world '
         '--num 2000 --seed 0; then --data-root {name}=data/gv_world')


def gv_world_layout(family: str) -> dict:
    """GV-B layout of the world's downstream task of a family (``train``/``val``/``test``).

    Args:
        family (str): ``'cls'``, ``'det'``, ``'seg'`` or ``'depth'``.

    Returns:
        dict: The layout (paths relative to the world root).
    """
    splits = ('train', 'val', 'test')
    if family == 'cls':
        layout = {s: dict(ann_file=f'downstream/{s}.txt') for s in splits}
        return dict(format='cls', classes='downstream/classes.txt', **layout)
    if family == 'det':
        layout = {s: dict(ann_file=f'downstream_det/{s}.json', img_prefix='')
                  for s in splits}
        return dict(format='coco', **layout)
    if family == 'seg':
        layout = {s: dict(ann_file=f'downstream_seg/{s}.txt', img_dir=f'images/{s}',
                          seg_dir=f'downstream_seg/{s}', img_suffix='.png',
                          seg_suffix='.png') for s in splits}
        return dict(format='seg', **layout)
    if family == 'depth':
        layout = {s: dict(ann_file=f'downstream_depth/{s}.txt', img_dir=f'images/{s}',
                          depth_dir=f'depth/{s}', img_suffix='.png', depth_suffix='.png')
                  for s in splits}
        return dict(format='depth', depth_scale=1000.0, max_depth=10.0, crop=None,
                    **layout)
    raise ValueError(f'unknown family "{family}"')


_DET_NECK = 64
#: Faster R-CNN for 64x64 images (as the Up-E detection expert): four FPN levels
#: (strides 4..32), anchors of 12-96 px, narrow heads.
_DET_CFG_OPTIONS = dict(model=dict(
    neck=dict(out_channels=_DET_NECK, num_outs=4),
    rpn_head=dict(in_channels=_DET_NECK, feat_channels=_DET_NECK,
                  anchor_generator=dict(scales=[3], strides=[4, 8, 16, 32])),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=_DET_NECK, finest_scale=28),
                  bbox_head=dict(in_channels=_DET_NECK, fc_out_channels=256)),
    train_cfg=dict(rpn=dict(assigner=dict(pos_iou_thr=0.6), sampler=dict(num=128)),
                   rpn_proposal=dict(nms_pre=300, max_per_img=100),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=50), rcnn=dict(max_per_img=20))))

#: Counting: a random resized crop changes the label (objects leave the crop); train
#: with flips only.
_COUNT_CFG_OPTIONS = {'train_dataloader.dataset.pipeline': [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')]}

#: name -> GVBTask keyword arguments
GV_WORLD_TASKS: Dict[str, dict] = {
    'gvw_count_cls': dict(
        title='GV world: number of objects', family='cls', metric='top1', num_classes=4,
        layout=gv_world_layout('cls'), classes=('one', 'two', 'three', 'four'),
        # backbone_lr_mult: fine-tuning keeps a pre-trained backbone close (0.1 against
        # 0.3 / 1.0, chosen on val; the other families fine-tune at the full rate)
        recipe=dict(lr=0.01, weight_decay=1e-4, max_iters=150, milestones=[100, 130],
                    batch_size=32, img_size=64, resize_size=64, test_batch_size=100,
                    backbone_lr_mult=0.1),
        cfg_options=_COUNT_CFG_OPTIONS),
    'gvw_colour_det': dict(
        title='GV world: objects by colour', family='det', metric='mAP', num_classes=6,
        layout=dict(gv_world_layout('det'), eval_mode='area'), classes=_COLOURS,
        # 10% subset: 140 images x repeat 10 / batch 16 = 88 iterations per epoch
        recipe=dict(lr=0.02, max_epochs=1, milestones=[1], batch_size=16,
                    warmup_iters=10, img_scale=(64, 64), repeat=10, test_batch_size=50),
        cfg_options=_DET_CFG_OPTIONS),
    'gvw_texture_seg': dict(
        title='GV world: object textures', family='seg', metric='mIoU', num_classes=4,
        layout=gv_world_layout('seg'), classes=_TEXTURES,
        # heads on strides 8 / 4 (the default 32 / 16 leave 2x2 / 4x4 maps of a 64 px
        # image: every run predicted background only, 21.7 mIoU), lr 0.1: chosen on the
        # world's val split (docs/paradigm.md, "Measured runs")
        recipe=dict(lr=0.1, max_iters=100, batch_size=16, crop_size=(64, 64),
                    img_scale=(64, 64), head_channels=64, aux_channels=32,
                    head_level=1, aux_level=0, test_batch_size=50)),
    'gvw_depth': dict(
        title='GV world: depth', family='depth', metric='rmse', num_classes=0,
        layout=gv_world_layout('depth'), lower_is_better=True,
        recipe=dict(lr=1e-3, max_iters=100, batch_size=16, crop_size=(64, 64),
                    head_channels=32, test_batch_size=50)),
}
for _name, _task in GV_WORLD_TASKS.items():
    _task.update(name=_name, in_gvb=False, prepare=_PREP.format(name=_name))
