"""MultiSourceLinearClsHead: masked-source classification on hand-computed inputs."""
import math

import pytest
import torch
from mmpretrain.structures import DataSample

from intern_mm.models.heads import MultiSourceLinearClsHead, SourceClassMask, mask_logits
from intern_mm.registry import MODELS

SOURCES = dict(shape=[0, 1, 2], colour=[3, 4])


def _head(**kwargs):
    return MultiSourceLinearClsHead(num_classes=5, in_channels=4, sources=SOURCES, **kwargs)


def _sample(source, label):
    return DataSample(metainfo=dict(dataset_source=source)).set_gt_label(label)


def test_build_from_registries():
    head = MODELS.build(dict(type='MultiSourceLinearClsHead', num_classes=5,
                             in_channels=4, sources=SOURCES))
    assert isinstance(head, MultiSourceLinearClsHead)
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    assert MMPRETRAIN_MODELS.get('MultiSourceLinearClsHead') is MultiSourceLinearClsHead


def test_masked_loss_hand_computed():
    head = _head()
    logits = torch.tensor([[1.0, 2.0, 0.5, 9.0, -3.0],
                           [0.3, 7.0, 5.0, -1.0, 2.0]], requires_grad=True)
    samples = [_sample('shape', 1), _sample('colour', 4)]
    loss = head._get_loss(logits, samples)['loss']
    # shape: softmax over classes 0..2, target 1; colour: over 3..4, target 4
    l0 = -math.log(math.exp(2.0) / (math.exp(1.0) + math.exp(2.0) + math.exp(0.5)))
    l1 = -math.log(math.exp(2.0) / (math.exp(-1.0) + math.exp(2.0)))
    assert loss.item() == pytest.approx((l0 + l1) / 2, abs=1e-6)
    # unannotated classes get exactly zero gradient
    loss.backward()
    assert torch.all(logits.grad[0, 3:] == 0) and torch.all(logits.grad[1, :3] == 0)
    assert torch.all(logits.grad[0, :3] != 0) and torch.all(logits.grad[1, 3:] != 0)


def test_loss_ignores_unannotated_logits():
    head = _head()
    samples = [_sample('shape', 2), _sample('colour', 3)]
    base = torch.randn(2, 5)
    changed = base.clone()
    changed[0, 3:] = torch.tensor([50.0, -50.0])
    changed[1, :3] = torch.tensor([80.0, 0.0, -7.0])
    assert head._get_loss(base, samples)['loss'].item() == pytest.approx(
        head._get_loss(changed, samples)['loss'].item(), abs=1e-6)
    # whereas an annotated logit does matter (the test can fail)
    changed[0, 2] += 3.0
    assert head._get_loss(changed, samples)['loss'].item() != pytest.approx(
        head._get_loss(base, samples)['loss'].item(), abs=1e-3)


def test_end_to_end_gradient_only_on_own_classes():
    head = _head()
    feats = (torch.randn(6, 4), )
    samples = [_sample('colour', 3 + i % 2) for i in range(6)]
    head.loss(feats, samples)['loss'].backward()
    grad = head.fc.weight.grad
    assert torch.all(grad[:3] == 0) and grad[3:].abs().sum() > 0
    per_source = head.loss_per_source(feats, samples)
    assert set(per_source) == {'colour'}


def test_predictions_restricted_to_source():
    head = _head()
    logits = torch.tensor([[0.0, 0.1, 0.2, 9.0, 8.0], [5.0, 0.0, 0.0, 0.0, 1.0]])
    preds = head._get_predictions(logits, [_sample('shape', 0), _sample('colour', 3)])
    assert preds[0].pred_label.item() == 2 and preds[1].pred_label.item() == 4
    assert preds[0].pred_score[3:].sum() < 1e-6
    assert preds[0].pred_score.sum().item() == pytest.approx(1.0, abs=1e-5)
    # without a source: all classes
    free = head._get_predictions(logits, None)
    assert free[0].pred_label.item() == 3


def test_bad_inputs():
    head = _head()
    logits = torch.randn(1, 5)
    with pytest.raises(ValueError, match='outside their source'):
        head._get_loss(logits, [_sample('colour', 1)])
    with pytest.raises(KeyError, match='unknown dataset_source'):
        head._get_loss(logits, [_sample('texture', 1)])
    with pytest.raises(KeyError, match='no "dataset_source"'):
        head._get_loss(logits, [DataSample().set_gt_label(1)])
    # default_source fills in
    head = _head(default_source='shape')
    assert head._get_loss(logits, [DataSample().set_gt_label(1)])['loss'] > 0
    with pytest.raises(ValueError, match='softmax cross-entropy'):
        _head(loss=dict(type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1))


def test_source_class_mask():
    masks = SourceClassMask(dict(a=[0, 1], b=[1, 2]), num_classes=4, always_valid=[3])
    assert masks.masks_for(['b', None]).tolist() == [[False, True, True, True],
                                                     [True, True, True, True]]
    assert 'table' not in masks.state_dict()  # never part of a checkpoint
    with pytest.raises(ValueError, match='not valid'):
        SourceClassMask(dict(a=[0, 5]), num_classes=4)
    with pytest.raises(ValueError, match='default_source'):
        SourceClassMask(dict(a=[0]), num_classes=4, default_source='z')
    with pytest.raises(ValueError, match='does not match'):
        mask_logits(torch.zeros(2, 4), torch.ones(2, 3, dtype=torch.bool))
