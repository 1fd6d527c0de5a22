"""Multi-source detection / segmentation heads: losses ignore unannotated classes."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData, PixelData
from mmseg.structures import SegDataSample

from intern_mm.models.heads import (MultiSourceBBoxHead, MultiSourceFCNHead,
                                    MultiSourceRoIHead)
from intern_mm.registry import MODELS

DET_SOURCES = dict(det_a=[0, 1], det_b=[1, 2, 3])  # 4 classes, 'class 1' in both
SEG_SOURCES = dict(seg_a=[0, 1, 2], seg_b=[0, 3])  # 4 classes, 0 = background


def _roi_head():
    cfg = dict(
        type='MultiSourceRoIHead',
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=8,
            featmap_strides=[4]),
        bbox_head=dict(
            type='MultiSourceBBoxHead', sources=DET_SOURCES, in_channels=8,
            fc_out_channels=16, roi_feat_size=7, num_classes=4,
            bbox_coder=dict(type='mmdet.DeltaXYWHBBoxCoder',
                            target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=True,
            loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False,
                          loss_weight=1.0),
            loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        train_cfg=ConfigDict(
            assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='mmdet.RandomSampler', num=32, pos_fraction=0.5,
                         neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1, debug=False),
        test_cfg=ConfigDict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5),
                            max_per_img=50))
    return MODELS.build(cfg)


def _det_inputs(sources):
    samples, proposals = [], []
    gen = torch.Generator().manual_seed(0)
    for i, source in enumerate(sources):
        sample = DetDataSample(metainfo=dict(
            dataset_source=source, img_shape=(64, 64), ori_shape=(64, 64),
            scale_factor=(1.0, 1.0), pad_shape=(64, 64)))
        label = DET_SOURCES[source][i % len(DET_SOURCES[source])]
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[8., 8., 30., 30.], [34., 30., 60., 58.]]),
            labels=torch.tensor([label, DET_SOURCES[source][0]]))
        sample.ignored_instances = InstanceData(
            bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
        samples.append(sample)
        xy = torch.rand(40, 2, generator=gen) * 40
        wh = torch.rand(40, 2, generator=gen) * 24 + 6
        proposals.append(InstanceData(bboxes=torch.cat([xy, xy + wh], 1),
                                      scores=torch.rand(40, generator=gen)))
    feats = (torch.randn(len(sources), 8, 16, 16, generator=gen), )
    return feats, proposals, samples


def _det_loss(head, sources):
    feats, proposals, samples = _det_inputs(sources)
    torch.manual_seed(0)  # RandomSampler
    return head.loss(feats, proposals, samples)


def test_det_heads_registered_in_mmdet():
    from mmdet.registry import MODELS as MMDET_MODELS
    assert MMDET_MODELS.get('MultiSourceRoIHead') is MultiSourceRoIHead
    assert MMDET_MODELS.get('MultiSourceBBoxHead') is MultiSourceBBoxHead


def test_det_loss_unaffected_by_unannotated_class_logits():
    head = _roi_head()
    fc_cls = head.bbox_head.fc_cls
    base = _det_loss(head, ['det_a', 'det_a'])['loss_cls'].item()
    # class 3 is not annotated by det_a: its logit (weights) must not matter
    with torch.no_grad():
        fc_cls.weight[3].normal_(0, 50)
        fc_cls.bias[3] = 100.0
    losses = _det_loss(head, ['det_a', 'det_a'])
    assert losses['loss_cls'].item() == pytest.approx(base, abs=1e-6)
    losses['loss_cls'].backward()
    assert torch.all(fc_cls.weight.grad[[2, 3]] == 0)
    assert fc_cls.weight.grad[[0, 1, 4]].abs().sum() > 0  # own classes + background
    # an annotated class's logit does matter (the test can fail)
    with torch.no_grad():
        fc_cls.bias[0] = 100.0
    assert _det_loss(head, ['det_a', 'det_a'])['loss_cls'].item() != pytest.approx(
        base, abs=1e-3)


def test_det_loss_masks_per_image():
    head = _roi_head()
    fc_cls = head.bbox_head.fc_cls
    _det_loss(head, ['det_a', 'det_b'])['loss_cls'].backward()
    # every class is annotated by one of the two images: all rows get gradient
    assert torch.all(fc_cls.weight.grad.abs().sum(1) > 0)
    fc_cls.weight.grad = None
    _det_loss(head, ['det_b', 'det_b'])['loss_cls'].backward()
    assert torch.all(fc_cls.weight.grad[0] == 0)


def test_det_predictions_restricted_to_source():
    head = _roi_head().eval()
    feats, proposals, samples = _det_inputs(['det_a', 'det_b'])
    with torch.no_grad():
        results = head.predict(feats, proposals, samples, rescale=False)
    assert set(results[0].labels.tolist()) <= {0, 1}
    assert set(results[1].labels.tolist()) <= {1, 2, 3}
    assert len(results[0]) > 0


def test_det_errors():
    head = _roi_head()
    feats, proposals, samples = _det_inputs(['det_a'])
    samples[0].set_metainfo(dict(dataset_source='det_z'))
    with pytest.raises(KeyError, match='unknown dataset_source'):
        head.loss(feats, proposals, samples)
    with pytest.raises(TypeError, match='MultiSourceBBoxHead'):
        MODELS.build(dict(
            type='MultiSourceRoIHead',
            bbox_roi_extractor=dict(
                type='mmdet.SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=8, featmap_strides=[4]),
            bbox_head=dict(type='mmdet.Shared2FCBBoxHead', in_channels=8,
                           num_classes=4)))


def _seg_head():
    head = MODELS.build(dict(type='MultiSourceFCNHead', sources=SEG_SOURCES,
                             in_channels=6, channels=8, num_convs=1, num_classes=4))
    assert isinstance(head, MultiSourceFCNHead)
    return head


def _seg_samples(sources, labels):
    out = []
    for source, label in zip(sources, labels):
        sample = SegDataSample(metainfo=dict(dataset_source=source, img_shape=(8, 8),
                                             pad_shape=(8, 8)))
        sample.gt_sem_seg = PixelData(data=label[None])
        out.append(sample)
    return out


def test_seg_loss_hand_computed_and_mask_independent():
    head = _seg_head()
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 8, 8, generator=gen, requires_grad=True)
    label_a = torch.randint(0, 3, (8, 8), generator=gen)
    label_a[0, :] = 255  # an object seg_a does not label
    label_b = torch.where(torch.rand(8, 8, generator=gen) > 0.5, 3, 0)
    samples = _seg_samples(['seg_a', 'seg_b'], [label_a, label_b])
    loss = head.loss_by_feat(logits, samples)['loss_ce']
    # hand computation: softmax within each source's classes, 255 ignored
    sub_a = F.cross_entropy(logits[:1, [0, 1, 2]], label_a[None], ignore_index=255,
                            reduction='none')
    sub_b = F.cross_entropy(logits[1:, [0, 3]], (label_b[None] == 3).long(),
                            reduction='none')
    expected = torch.cat([sub_a.flatten(), sub_b.flatten()]).sum() / (2 * 64)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
    loss.backward()
    assert torch.all(logits.grad[0, 3] == 0) and torch.all(logits.grad[1, 1:3] == 0)
    assert logits.grad[0, :3].abs().sum() > 0 and logits.grad[1, [0, 3]].abs().sum() > 0
    # perturbing the unannotated classes' logits leaves the loss unchanged
    changed = logits.detach().clone()
    changed[0, 3] = 40.0
    changed[1, 1:3] = -25.0
    assert head.loss_by_feat(changed, samples)['loss_ce'].item() == pytest.approx(
        loss.item(), abs=1e-6)


def test_seg_predictions_restricted_to_source():
    head = _seg_head()
    logits = torch.zeros(2, 4, 4, 4)
    logits[:, 3] = 5.0  # class 3 everywhere, but seg_a does not know it
    logits[:, 1] = 1.0
    metas = [dict(dataset_source='seg_a', img_shape=(8, 8)),
             dict(dataset_source='seg_b', img_shape=(8, 8))]
    out = head.predict_by_feat(logits, metas)
    assert out.shape == (2, 4, 8, 8)
    assert torch.all(out[0].argmax(0) == 1) and torch.all(out[1].argmax(0) == 3)
    with pytest.raises(KeyError, match='no "dataset_source"'):
        head.loss_by_feat(torch.zeros(1, 4, 8, 8),
                          [SegDataSample(gt_sem_seg=PixelData(
                              data=torch.zeros(1, 8, 8, dtype=torch.long)))])
