"""Cached-feature linear probe == the iteration-by-iteration Runner probe."""

import pytest
import torch

from intern_mm.benchmark import (SuiteConfig, build_backbone, feature_linear_probe,
                                 parse_backbone_spec, sampler_order,
                                 train_linear_head)
from intern_mm.benchmark.data_cfgs import cls_dataset_cfg



@pytest.mark.parametrize('drop_last', [True, False])
def test_sampler_order_matches_default_sampler(drop_last):
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import DataLoader
    sampler = DefaultSampler(list(range(10)), shuffle=True, seed=3)
    loader = DataLoader(list(range(10)), batch_size=4, sampler=sampler,
                        drop_last=drop_last)
    expected = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        expected += [b.tolist() for b in loader]
    got = [b.tolist() for b in sampler_order(10, seed=3, max_iters=7, batch_size=4,
                                             drop_last=drop_last)]
    assert got == expected[:7]
    assert all(len(b) == 4 for b in got) == drop_last
    with pytest.raises(ValueError, match='fewer than one batch'):
        sampler_order(3, seed=0, max_iters=1, batch_size=4)


def test_train_linear_head_learns_separable_data():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(60, 5, generator=g)
    labels = (feats[:, 0] > 0).long()
    head = train_linear_head(feats, labels, 2, lr=0.5, max_iters=100, milestones=[80],
                             batch_size=16)
    acc = (head(feats).argmax(1) == labels).float().mean()
    assert acc > 0.9
    with pytest.raises(ValueError, match='labels must lie'):
        train_linear_head(feats, labels + 5, 2, max_iters=1)


def test_feature_probe_returns_metrics(tiny_cifar, tiny_backbone):
    train = cls_dataset_cfg(str(tiny_cifar), data_prefix='train', img_size=32)
    test = cls_dataset_cfg(str(tiny_cifar), data_prefix='test', img_size=32)
    torch.manual_seed(0)  # the randomly initialised backbone
    res = feature_linear_probe(tiny_backbone, train, test, lr=1.0, max_iters=40,
                               milestones=(30, ), batch_size=16,
                               metric='mean_per_class')
    assert res['num_train'] == 200 and res['num_test'] == 40
    assert res['num_classes'] == 10 and res['metric'] == 'mean_per_class'
    assert res['score'] == res['mean_per_class']
    # the zero-initialised head untrained predicts class 0 for every image: 10%
    torch.manual_seed(0)
    untrained = feature_linear_probe(tiny_backbone, train, test, max_iters=0,
                                     batch_size=16, metric='mean_per_class')
    assert untrained['top1'] == pytest.approx(10.0)
    # seeded run (measured twice: 15.0 / 15.0 with the loader's drop_last; 4 test
    # images per class, so top-1 equals mean per-class); one test image of tolerance
    assert res['top1'] == pytest.approx(15.0, abs=2.5)
    assert res['mean_per_class'] == pytest.approx(res['top1'])
    with pytest.raises(ValueError, match='unknown metric'):
        feature_linear_probe(tiny_backbone, train, test, metric='top5')


def test_cache_equals_runner_iterations(tiny_cifar, tiny_backbone, tmp_path):
    """Same recipe, same sampling: the two protocols train the same head."""
    from intern_mm.benchmark.suite import _FeatureStore, ensure_subset
    from intern_mm.benchmark.protocols import ProtocolContext, build_runner_cfg
    from intern_mm.benchmark.tasks import get_task, resolve_layout
    from mmengine.config import Config
    from mmengine.runner import Runner
    task = get_task('cifar10')
    cfg = SuiteConfig(backbone=tiny_backbone, tasks='cifar10', ratio=0.5,
                      subset_base=str(tmp_path / 'subsets'))
    layout, missing = resolve_layout(task, str(tiny_cifar))
    assert not missing
    manifest = ensure_subset(cfg, task, str(tiny_cifar), layout)
    spec = parse_backbone_spec(tiny_backbone)
    # A trained-like backbone: load fixed random weights from a checkpoint so both
    # protocols see the same frozen network.
    net = build_backbone(spec)
    ckpt = tmp_path / 'backbone.pth'
    torch.save({'state_dict': net.state_dict()}, ckpt)
    spec = parse_backbone_spec(tiny_backbone, checkpoint=str(ckpt))
    recipe = dict(optimizer='SGD', lr=0.05, momentum=0.9, weight_decay=1e-3,
                  max_iters=12, milestones=[6, 10], gamma=0.1, batch_size=16,
                  img_size=32, resize_size=None, test_batch_size=50)
    ctx = ProtocolContext(task=task, data_root=str(tiny_cifar), layout=layout,
                          subset_dir=manifest['dir'], backbone=spec,
                          out_channels=[(64, 32)], recipe=recipe,
                          work_dir=str(tmp_path / 'runner'), num_workers=0, seed=7,
                          log_interval=100)
    runner = Runner.from_cfg(Config(build_runner_cfg(ctx)))
    runner.train()
    fc = runner.model.head.fc
    store = _FeatureStore(ctx, str(tmp_path), 'cpu')
    feats, labels = store.get('subset')
    head = train_linear_head(feats, labels, 10, lr=0.05, momentum=0.9,
                             weight_decay=1e-3, max_iters=12, milestones=[6, 10],
                             batch_size=16, seed=7)
    assert head.weight.abs().sum() > 0  # the head did move
    assert torch.allclose(head.weight, fc.weight.detach(), atol=1e-5, rtol=1e-3)
    assert torch.allclose(head.bias, fc.bias.detach(), atol=1e-5, rtol=1e-3)
