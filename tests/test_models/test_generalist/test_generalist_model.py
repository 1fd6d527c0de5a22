"""GeneralistModel: routing to stock heads, summed losses, task BN, predict, errors."""
import copy

import pytest
import torch
from generalist_toys import ITC_TASK, batches, generalist_cfg

import intern_mm  # noqa: F401
from intern_mm.models.backbones.task_norm import TaskBatchNorm2d
from intern_mm.registry import MODELS


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return MODELS.build(generalist_cfg())


def test_loss_sums_every_task_and_all_params_get_grads(model):
    model.train()
    data = model.data_preprocessor(batches(), True)
    assert set(data['inputs']) == {'cls', 'seg', 'det'}
    losses = model(**data, mode='loss')
    assert {'cls.loss', 'seg.decode.loss_ce', 'det.loss_rpn_cls', 'det.loss_cls',
            'det.loss_bbox'} <= set(losses)
    total, log_vars = model.parse_losses(losses)
    parts = [v for k, v in log_vars.items() if k != 'loss' and 'loss' in k]
    torch.testing.assert_close(total, sum(parts))
    model.zero_grad()
    total.backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None)]
    # only the inactive task-BN sets (det BN is unused by cls and vice versa: both are
    # used here because seg/det run on det BN) may lack gradients
    assert no_grad == [], no_grad
    # the auxiliary expert is frozen and detached
    assert all(not p.requires_grad for p in model.backbone.aux.parameters())


def test_task_loss_weights_scale_losses(model):
    model.train()
    torch.manual_seed(0)
    data = model.data_preprocessor(batches(('cls', 'seg')), True)
    base = model(**data, mode='loss')
    model.task_loss_weights['seg'] = 0.5
    try:
        torch.manual_seed(0)
        scaled = model(**data, mode='loss')
    finally:
        model.task_loss_weights['seg'] = 1.0
    torch.testing.assert_close(scaled['seg.decode.loss_ce'], 0.5 * base['seg.decode.loss_ce'],
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(scaled['cls.loss'], base['cls.loss'], rtol=1e-4, atol=1e-5)


def test_task_specific_bn_routes_statistics():
    torch.manual_seed(0)
    m = MODELS.build(generalist_cfg(tasks=('cls', 'seg')))
    m.train()
    bn = next(x for x in m.backbone.main.modules() if isinstance(x, TaskBatchNorm2d))
    cls_before = bn.bns['cls'].running_mean.clone()
    det_before = bn.bns['det'].running_mean.clone()
    data = m.data_preprocessor({'cls': batches(('cls', ))['cls']}, True)
    m(**data, mode='loss')
    assert not torch.equal(bn.bns['cls'].running_mean, cls_before)
    assert torch.equal(bn.bns['det'].running_mean, det_before)
    data = m.data_preprocessor({'seg': batches(('seg', ))['seg']}, True)
    m(**data, mode='loss')
    assert not torch.equal(bn.bns['det'].running_mean, det_before)


def test_predict_returns_stock_samples(model):
    model.eval()
    with torch.no_grad():
        cls_out = model.val_step({'cls': batches(('cls', ))['cls']})
        seg_out = model.val_step({'seg': batches(('seg', ))['seg']})
        det_out = model.val_step({'det': batches(('det', ))['det']})
    assert cls_out[0].pred_score.shape == (3, )
    assert seg_out[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert 'bboxes' in det_out[0].pred_instances
    with pytest.raises(ValueError, match='one task'):
        model(**model.data_preprocessor(batches(('cls', 'seg')), False), mode='predict')
    feats = model(**model.data_preprocessor({'cls': batches(('cls', ))['cls']}, False))
    assert [tuple(f.shape) for f in feats['cls']][-1] == (2, 1280)


def test_config_errors():
    cfg = generalist_cfg(tasks=('cls', ))
    bad = copy.deepcopy(cfg)
    bad['tasks']['cls']['backbone'] = dict(type='MetaNet')
    with pytest.raises(KeyError, match='remove "backbone"'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad['tasks']['cls'].pop('feature_indices')
    with pytest.raises(KeyError, match='feature_indices'):
        MODELS.build(bad)
    bad = copy.deepcopy(cfg)
    bad['tasks']['cls']['type'] = 'ImageClassifier'
    with pytest.raises(ValueError, match='scope'):
        MODELS.build(bad)
    with pytest.raises(KeyError, match='unknown tasks'):
        MODELS.build(dict(cfg, task_loss_weights=dict(det=1.0)))
    with pytest.raises(KeyError, match='bn_tasks'):
        MODELS.build(dict(cfg, task_bn=dict(cls='seg')))
    no_bn = generalist_cfg(tasks=('cls', ), bn_tasks=None)
    with pytest.raises(ValueError, match='no task-specific BN'):
        MODELS.build(dict(no_bn, task_bn=dict(cls='cls')))
    m = MODELS.build(cfg)
    with pytest.raises(TypeError, match='task: tensor'):
        m(torch.zeros(1, 3, 64, 64), mode='loss')
    with pytest.raises(KeyError, match='no data preprocessor'):
        m.data_preprocessor({'det': batches(('det', ))['det']})


def test_image_fed_task_keeps_up_a_objective_on_the_shared_backbone():
    """A DeCLIP task (feed='images') encodes its views with the shared backbone: its
    losses equal those of a stand-alone DeCLIP holding the same weights, its gradients
    reach the shared backbone, and no parameter is registered twice."""
    torch.manual_seed(0)
    m = MODELS.build(generalist_cfg(tasks=('cls', 'itc')))
    m.train()
    keys = list(m.state_dict())
    assert not any(k.startswith('tasks.itc.backbone') for k in keys)
    names = [n for n, _ in m.named_parameters()]
    assert len(names) == len({id(p) for p in m.parameters()})

    data = m.data_preprocessor(batches(('cls', 'itc')), True)
    torch.manual_seed(1)  # MLM masking draws random numbers
    losses = m(**data, mode='loss')
    assert {'cls.loss', 'itc.loss_clip', 'itc.loss_mlm', 'itc.loss_simsiam'} <= set(losses)

    alone = MODELS.build(dict(
        {k: v for k, v in ITC_TASK.items() if k not in ('feature_indices', 'feed')},
        backbone=dict(type='MetaNet', arch='tiny', out_indices=(4, ))))
    alone.backbone = copy.deepcopy(m.backbone)  # outputs (0..4): DeCLIP pools the last
    alone.backbone.task = 'cls'
    alone.load_state_dict(m.tasks.itc.state_dict(), strict=False)
    alone.train()
    m2 = copy.deepcopy(m)
    torch.manual_seed(1)
    ref = alone(data['inputs']['itc'], mode='loss')
    for key in ('loss_clip', 'loss_multi_view', 'loss_simsiam', 'loss_mlm'):
        torch.testing.assert_close(losses[f'itc.{key}'], ref[key], rtol=1e-4, atol=1e-5)

    m.zero_grad()
    sum(v for k, v in losses.items() if k.startswith('itc.loss')).backward()
    grads = [p.grad for n, p in m.named_parameters() if n.startswith('backbone.main.')]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert m.tasks.itc.text_encoder.token_embedding.weight.grad.abs().sum() > 0

    # a deep copy encodes with its own backbone
    with torch.no_grad():
        for p in m2.backbone.main.parameters():
            p.add_(0.5)
    feats = m2.tasks.itc.backbone(data['inputs']['itc']['imgs'][0])
    ref_feats = m.tasks.itc.backbone(data['inputs']['itc']['imgs'][0])
    assert not torch.allclose(feats[0], ref_feats[0])
    out = m(**m.data_preprocessor({'itc': batches(('itc', ))['itc']}, False))
    assert set(out['itc']) == {'img_embeds', 'text_embeds'}

    bad = generalist_cfg(tasks=('cls', 'itc'))
    bad['tasks']['itc']['feed'] = 'pixels'
    with pytest.raises(ValueError, match='feed must be'):
        MODELS.build(bad)
