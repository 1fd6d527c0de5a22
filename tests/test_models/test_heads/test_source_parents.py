"""Parent-aware multi-source heads: a target of class c never teaches a descendant of c
as a negative (``dog`` does not push ``puppy`` down), computed against hand losses."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from intern_mm.models.heads import MultiSourceLinearClsHead, SourceClassMask
from intern_mm.models.heads.source_masks import descendant_table
from intern_mm.registry import MODELS
from test_multi_source_det_seg_heads import (DET_SOURCES, SEG_SOURCES, _det_inputs,
                                             _roi_head, _seg_samples)

# unified space: 0 car, 1 dog, 2 puppy; source 'pets' annotates dog AND puppy
SOURCES = dict(cars=[0], pets=[1, 2])
PUPPY_UNDER_DOG = {2: 1}


def _cls_head(parents=None):
    torch.manual_seed(0)
    return MultiSourceLinearClsHead(num_classes=3, in_channels=4, sources=SOURCES,
                                    parents=parents)


def _sample(source, label):
    return DataSample(metainfo=dict(dataset_source=source)).set_gt_label(label)


def test_descendant_table_closure_forms_and_errors():
    # 3 -> 2 -> 1: class 1's descendants are 2 and 3; list and mapping forms agree
    table = descendant_table({2: 1, 3: 2}, 4)
    assert table[1].tolist() == [False, False, True, True]
    assert table[2].tolist() == [False, False, False, True]
    assert not table[3].any() and not table[:, 1].any()
    assert torch.equal(table, descendant_table([None, -1, 1, 2], 4))
    assert torch.equal(table, descendant_table({'2': 1, '3': 2}, 4))  # JSON keys
    with pytest.raises(ValueError, match='cycle'):
        descendant_table({1: 2, 2: 1}, 3)
    with pytest.raises(ValueError, match='not valid for 3 classes'):
        descendant_table({5: 1}, 3)
    masks = SourceClassMask(SOURCES, 3, parents=PUPPY_UNDER_DOG)
    # an ignore index (255) has no descendants
    assert masks.descendant_mask(torch.tensor([1, 255])).tolist() == [
        [False, False, True], [False, False, False]]


def test_cls_dog_label_does_not_push_puppy():
    logits = torch.tensor([[0.2, 1.0, 2.5], [0.1, 0.4, 1.5]])
    samples = [_sample('pets', 1), _sample('pets', 2)]  # a dog, a puppy
    loss, grad = {}, {}
    for key, parents in (('flat', None), ('tree', PUPPY_UNDER_DOG)):
        x = logits.clone().requires_grad_(True)
        loss[key] = _cls_head(parents)._get_loss(x, samples)['loss']
        loss[key].backward()
        grad[key] = x.grad
    # dog sample: softmax over {dog} alone with the hierarchy, {dog, puppy} without;
    # the puppy sample keeps dog as a negative either way (a puppy is a dog, not v.v.)
    dog_flat = -math.log(math.exp(1.0) / (math.exp(1.0) + math.exp(2.5)))
    puppy = -math.log(math.exp(1.5) / (math.exp(0.4) + math.exp(1.5)))
    assert loss['flat'].item() == pytest.approx((dog_flat + puppy) / 2, abs=1e-6)
    assert loss['tree'].item() == pytest.approx((0.0 + puppy) / 2, abs=1e-6)
    assert grad['flat'][0, 2] > 0 and grad['tree'][0, 2] == 0  # puppy not pushed down
    assert torch.equal(grad['flat'][1], grad['tree'][1])
    head = _cls_head(PUPPY_UNDER_DOG)
    per_source = head.loss_per_source((torch.zeros(2, 4), ), samples)
    assert set(per_source) == {'pets'}


def test_cls_without_parents_is_unchanged():
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    samples = [_sample('pets', 1), _sample('cars', 0), _sample('pets', 2),
               _sample('pets', 1)]
    flat = _cls_head()._get_loss(logits, samples)['loss']
    empty = _cls_head(parents={})._get_loss(logits, samples)['loss']  # no link
    assert flat.item() == pytest.approx(empty.item(), abs=1e-7)
    assert _cls_head(PUPPY_UNDER_DOG)._get_loss(logits, samples)['loss'].item() != \
        pytest.approx(flat.item(), abs=1e-4)


def _det_cls_grad(parents):
    """Per-RoI class-logit gradients of the box loss over two det_b images."""
    torch.manual_seed(0)  # the same weights for both heads
    head = _roi_head()
    if parents is not None:  # the masks MultiSourceBBoxHead(parents=...) builds
        head.bbox_head.source_masks = SourceClassMask(
            DET_SOURCES, 5, always_valid=[4], parents=parents)
    scores = []

    def keep(module, inputs, out):
        out.retain_grad()
        scores.append(out)

    head.bbox_head.fc_cls.register_forward_hook(keep)
    feats, proposals, samples = _det_inputs(['det_b', 'det_b'])
    torch.manual_seed(0)  # RandomSampler
    head.loss(feats, proposals, samples)['loss_cls'].backward()
    return scores[0].grad


def test_det_box_of_parent_class_does_not_push_child():
    # det_b annotates classes 1, 2, 3; make 3 a child of 1
    flat, tree = _det_cls_grad(None), _det_cls_grad({3: 1})
    # a RoI's target is the one column with a negative gradient (softmax - 1)
    labels = flat.argmin(1)
    assert torch.equal(labels, tree.argmin(1))
    assert (labels == 1).any() and (labels == 4).any()  # parent-class and bg RoIs
    assert torch.all(flat[:, 3] != 0)  # without the hierarchy every RoI pushes 3
    assert torch.equal(tree[:, 3] == 0, labels == 1)  # with it, class-1 RoIs do not
    other = labels != 1
    assert torch.allclose(flat[other], tree[other], atol=1e-7)
    built = MODELS.build(dict(type='MultiSourceBBoxHead', sources=DET_SOURCES,
                              num_classes=4, in_channels=8, fc_out_channels=16,
                              roi_feat_size=7, parents={3: 1}))
    assert torch.equal(built.source_masks.descendants,
                       head_masks_descendants({3: 1}))


def head_masks_descendants(parents):
    return SourceClassMask(DET_SOURCES, 5, always_valid=[4], parents=parents).descendants


def test_seg_pixel_of_parent_class_does_not_push_child():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 4, 8, 8, generator=gen)
    label = torch.randint(0, 3, (8, 8), generator=gen)  # seg_a labels 0, 1, 2
    label[0, :] = 255
    samples = _seg_samples(['seg_a'], [label])
    head = MODELS.build(dict(type='MultiSourceFCNHead', sources=SEG_SOURCES,
                             in_channels=6, channels=8, num_convs=1, num_classes=4,
                             parents={2: 1}))
    x = logits.clone().requires_grad_(True)
    loss = head.loss_by_feat(x, samples)['loss_ce']
    loss.backward()
    # hand computation: pixels of class 1 leave class 2 out, the others use {0, 1, 2}
    full = F.cross_entropy(logits[:, [0, 1, 2]], label[None], ignore_index=255,
                           reduction='none')
    no_child = F.cross_entropy(logits[:, [0, 1]], label[None].clamp(max=1),
                               reduction='none')
    per_pixel = torch.where(label[None] == 1, no_child, full)
    per_pixel = torch.where(label[None] == 255, torch.zeros_like(full), per_pixel)
    assert loss.item() == pytest.approx(per_pixel.sum().item() / 64, abs=1e-5)
    parent_px = label == 1
    assert torch.all(x.grad[0, 2][parent_px] == 0)
    assert torch.all(x.grad[0, 2][(label == 0) | (label == 2)] != 0)
