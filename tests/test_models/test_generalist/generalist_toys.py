"""Tiny Up-G generalist configs and synthetic batches for the generalist tests."""
import copy

import torch
from model_testutils import toy_declip_cfg

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])

CLS_TASK = dict(
    type='mmpretrain.ImageClassifier',
    feature_indices=(4, ),
    data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor', to_rgb=True, **NORM),
    head=dict(type='mmpretrain.LinearClsHead', num_classes=3, in_channels=1280,
              loss=dict(type='mmpretrain.CrossEntropyLoss')))

SEG_TASK = dict(
    type='EncoderDecoder',
    _scope_='mmseg',
    feature_indices=(0, 1, 2, 3),
    data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=(64, 64), **NORM),
    decode_head=dict(type='FCNHead', in_channels=24, in_index=0, channels=16, num_convs=1,
                     concat_input=False, num_classes=3, norm_cfg=dict(type='BN'),
                     loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

_ASSIGN = dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.3, min_pos_iou=0.3,
               match_low_quality=True, ignore_iof_thr=-1)
DET_TASK = dict(
    type='FasterRCNN',
    _scope_='mmdet',
    feature_indices=(0, 1, 2, 3),
    data_preprocessor=dict(type='DetDataPreprocessor', bgr_to_rgb=True, pad_size_divisor=32,
                           **NORM),
    neck=dict(type='FPN', in_channels=[24, 32, 48, 64], out_channels=16, num_outs=4),
    rpn_head=dict(
        type='RPNHead', in_channels=16, feat_channels=16,
        anchor_generator=dict(type='AnchorGenerator', scales=[3], ratios=[1.0],
                              strides=[4, 8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[1.] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=7,
                                               sampling_ratio=0),
                                out_channels=16, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(type='Shared2FCBBoxHead', in_channels=16, fc_out_channels=32,
                       roi_feat_size=7, num_classes=2,
                       bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                                       target_stds=[0.1, 0.1, 0.2, 0.2]),
                       loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
                       loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(assigner=_ASSIGN, sampler=dict(type='RandomSampler', num=32,
                                                 pos_fraction=0.5, neg_pos_ub=-1,
                                                 add_gt_as_proposals=False),
                 allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=100, max_per_img=50, nms=dict(type='nms',
                                                                iou_threshold=0.7),
                          min_bbox_size=0),
        rcnn=dict(assigner=_ASSIGN, sampler=dict(type='RandomSampler', num=32,
                                                  pos_fraction=0.25, neg_pos_ub=-1,
                                                  add_gt_as_proposals=True),
                  pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=100, max_per_img=50, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)))


#: Up-A's image-text objective as a generalist task (DeCLIP on the images it encodes
#: itself through the shared backbone, ``feed='images'``)
ITC_WORDS = ['a', 'red', 'blue', 'green', 'circle', 'star', 'square', 'and']
ITC_TASK = dict(
    type='intern_mm.DeCLIP',
    feature_indices=(4, ),
    feed='images',
    **toy_declip_cfg(ITC_WORDS, simsiam_dim=32, bank_size=16))


def generalist_cfg(tasks=('cls', 'seg', 'det'), bn_tasks=('cls', 'det'), **kwargs):
    all_tasks = dict(cls=CLS_TASK, seg=SEG_TASK, det=DET_TASK, itc=ITC_TASK)
    cfg = dict(
        type='GeneralistModel',
        backbone=dict(type='CentralModel', main=dict(type='MetaNet', arch='tiny'),
                      out_indices=(0, 1, 2, 3, 4), bn_tasks=bn_tasks),
        tasks={t: copy.deepcopy(all_tasks[t]) for t in tasks})
    if bn_tasks:
        cfg['task_bn'] = {t: ('cls' if t == 'cls' else 'det') for t in tasks}
    cfg.update(kwargs)
    return cfg


def _img(g, n):
    return [torch.randint(0, 256, (3, 64, 64), generator=g, dtype=torch.uint8)
            for _ in range(n)]


def cls_batch(n=2, seed=0):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    samples = [DataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
               .set_gt_label(i % 3) for i in range(n)]
    return dict(inputs=_img(g, n), data_samples=samples)


def seg_batch(n=2, seed=0):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        label = torch.zeros(1, 64, 64, dtype=torch.long)
        label[:, 10:30, 10:30] = 1 + i % 2
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return dict(inputs=_img(g, n), data_samples=samples)


def det_batch(n=2, seed=0):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        s = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[8., 8., 30., 30.], [34., 30., 56., 60.]]),
            labels=torch.tensor([0, 1]))
        samples.append(s)
    return dict(inputs=_img(g, n), data_samples=samples)


def itc_batch(n=4, seed=0):
    """Two image views and two caption views per sample, as ``pseudo_collate`` packs
    them (token ids of the task's tokenizer, unpadded)."""
    from mmengine.structures import BaseDataElement

    from intern_mm.models.upstream import CaptionTokenizer
    tok = CaptionTokenizer(words=ITC_WORDS, context_length=12)
    g = torch.Generator().manual_seed(seed)
    views = [_img(g, n), _img(g, n)]

    def caption(i):
        words = torch.randint(0, len(ITC_WORDS), (2 + i % 4, ), generator=g)
        ids = tok([' '.join(ITC_WORDS[w] for w in words)])[0]
        return ids[ids != tok.pad_token_id]

    texts = [[caption(i) for i in range(n)] for _ in range(2)]
    return dict(inputs=dict(imgs=views, texts=texts),
                data_samples=[BaseDataElement() for _ in range(n)])


def batches(tasks=('cls', 'seg', 'det'), seed=0):
    makers = dict(cls=cls_batch, seg=seg_batch, det=det_batch, itc=itc_batch)
    # different images per task (task-specific BN statistics must differ)
    return {t: makers[t](seed=seed + 100 * i)
            for i, t in enumerate(('cls', 'seg', 'det', 'itc')) if t in tasks}
