"""Tests of the Up-G CentralModel: structure, detached auxiliary stream, freezing,
task-specific BN, expert loading and numeric parity with the original release."""
import copy
import json
import math

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from intern_mm.models.backbones import (CentralModel, MetaNet, TaskBatchNorm2d,
                                        TransferLayer, convert_gvb_checkpoint)
from intern_mm.registry import MODELS

TINY = dict(type='MetaNet', arch='tiny')


def _inputs(n=2, h=64, w=64, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _randomise_trans(module, seed=0):
    """Give transfer layers non-zero BN affine parameters (they start at zero)."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data.normal_(0, 0.1, generator=g)
        if isinstance(m, _BatchNorm):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.2, 0.2, generator=g)


def test_shapes_and_out_channels():
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4)).eval()
    outs = model(_inputs())
    assert [tuple(o.shape) for o in outs] == [(2, 24, 16, 16), (2, 32, 8, 8), (2, 48, 4, 4),
                                              (2, 64, 2, 2), (2, 1280)]
    assert model.out_channels == [24, 32, 48, 64, 1280]
    assert sorted(model.trans) == ['layer1', 'layer2', 'layer3']
    assert list(model.trans['layer3'].convs) == ['layer1', 'layer2', 'layer3']
    # finer source -> stride-2 convs (stride 4 -> 16: two), coarser / same -> 1x1 conv
    assert [m.stride for m in model.trans['layer3'].convs['layer1']
            if isinstance(m, torch.nn.Conv2d)] == [(2, 2), (2, 2)]
    assert model.trans['layer1'].convs['layer1'][0].kernel_size == (1, 1)
    assert CentralModel(main=TINY, out_indices=(4, )).out_channels == [1280]


def test_registered_and_buildable_from_mmdet():
    from mmdet.registry import MODELS as MMDET_MODELS
    model = MMDET_MODELS.build(dict(type='CentralModel', main=TINY))
    assert isinstance(model, CentralModel) and isinstance(model.main, MetaNet)
    assert isinstance(MODELS.build(dict(type='CentralModel', main=TINY)), CentralModel)


def test_untrained_generalist_equals_main_expert():
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4)).eval()
    with torch.no_grad():
        outs = model(_inputs())
        ref = model.main(_inputs())
    for out, r in zip(outs, ref):
        torch.testing.assert_close(out, r, rtol=0, atol=0)
    _randomise_trans(model.trans)
    with torch.no_grad():
        assert not torch.allclose(model(_inputs())[0], ref[0])


def test_transfer_layer_upsamples_coarser_sources_and_handles_odd_sizes():
    layer = TransferLayer([8, 16, 32], [4, 8, 16], out_channels=12, out_stride=8)
    _randomise_trans(layer)
    feats = [torch.rand(1, 8, 13, 17), torch.rand(1, 16, 7, 9), torch.rand(1, 32, 4, 5)]
    assert layer(feats, (7, 9)).shape == (1, 12, 7, 9)
    with pytest.raises(ValueError, match='power-of-two'):
        TransferLayer([8], [4], out_channels=8, out_stride=12)


def test_aux_stream_is_detached_and_frozen_by_default():
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4))
    _randomise_trans(model.trans)
    model.train()
    assert not model.aux.training
    assert all(not p.requires_grad for p in model.aux.parameters())
    outs = model(_inputs())
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith(('main.', 'trans.')) for n in trainable)
    without_grad = [n for n in trainable if dict(model.named_parameters())[n].grad is None]
    assert without_grad == []
    assert all(p.grad is None for p in model.aux.parameters())

    # unfrozen aux: still detached (no gradient), but its BN statistics adapt
    model = CentralModel(main=TINY, freeze_aux=False)
    model.train()
    stats = model.aux.stem[1].running_mean.clone()
    sum(o.sum() for o in model(_inputs())).backward()
    assert all(p.grad is None for p in model.aux.parameters())
    assert not torch.equal(model.aux.stem[1].running_mean, stats)


def test_frozen_stages_apply_to_main_stream_and_its_transfers():
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4), frozen_stages=3)
    _randomise_trans(model.trans)
    frozen_trans = [model.trans['layer1'], model.trans['layer2']]  # fed stages 1 and 2
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    for i in range(2):
        opt.zero_grad()
        sum(o.pow(2).mean() for o in model(_inputs(seed=i))).backward()
        opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    frozen_prefixes = ('main.stem.', 'main.blocks.0.', 'main.blocks.1.', 'main.blocks.2.',
                       'trans.layer1.', 'trans.layer2.', 'aux.')
    assert not [k for k in changed if k.startswith(frozen_prefixes)]
    assert any(k.startswith('main.blocks.3.') for k in changed)
    assert any(k.startswith('trans.layer3.') for k in changed)
    assert all(not m.training for m in frozen_trans)


def test_norm_eval_freezes_bn_statistics():
    model = CentralModel(main=TINY, norm_eval=True)
    stats = {k: v.clone() for k, v in model.state_dict().items() if 'running' in k}
    model.train()
    model(_inputs())
    for k, v in stats.items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0)


def test_resnet_experts():
    resnet = dict(type='mmpretrain.ResNet', depth=18, stem_channels=8, base_channels=8)
    model = CentralModel(main=resnet, out_indices=(0, 1, 2, 3, 4), frozen_stages=1).eval()
    outs = model(_inputs(1))
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 16), (1, 16, 8, 8), (1, 32, 4, 4),
                                              (1, 64, 2, 2), (1, 64)]
    assert model.out_channels == [8, 16, 32, 64, 64]
    assert not model.trans['layer1'].convs['layer1'][0].weight.requires_grad
    assert model.trans['layer2'].convs['layer1'][0].weight.requires_grad
    # mixed experts: MetaNet main, ResNet aux
    mixed = CentralModel(main=TINY, aux=resnet).eval()
    assert mixed.trans['layer3'].convs['layer3'][0].in_channels == 32
    assert [tuple(o.shape[1:]) for o in mixed(_inputs(1))][2] == (48, 4, 4)


def test_task_specific_bn():
    plain = CentralModel(main=TINY, out_indices=(0, 4)).eval()
    _randomise_trans(plain.trans)
    model = CentralModel(main=TINY, out_indices=(0, 4), bn_tasks=('cls', 'det')).eval()
    assert model.task == 'cls'
    bn_names = [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]
    assert bn_names and all('.bns.' in n for n in bn_names)
    assert any(isinstance(m, TaskBatchNorm2d) for m in model.trans.modules())
    # a plain single-BN state dict loads into every task's BN
    model.load_state_dict(plain.state_dict(), strict=True)
    x = _inputs(1)
    with torch.no_grad():
        ref = plain(x)
        for task in ('cls', 'det'):
            model.task = task
            for o, r in zip(model(x), ref):
                torch.testing.assert_close(o, r, rtol=0, atol=0)
        model.main.head[1].bns['det'].running_mean.fill_(3.)
        model.task = 'cls'
        cls_out = model(x)[1]
        model.task = 'det'
        assert not torch.allclose(model(x)[1], cls_out)
    with pytest.raises(KeyError, match='seg'):
        model.task = 'seg'
    with pytest.raises(ValueError, match='bn_tasks'):
        plain.task = 'cls'


def test_load_experts(tmp_path):
    cls_expert = MetaNet(arch='tiny', out_indices=(4, ))
    det_expert = MetaNet(arch='tiny')
    for i, expert in enumerate((cls_expert, det_expert)):
        for p in expert.parameters():
            p.data.normal_(generator=torch.Generator().manual_seed(i))
    det_path = tmp_path / 'det.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in det_expert.state_dict().items()},
                'meta': {}}, det_path)
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3))
    report = model.load_experts({'backbone.' + k: v for k, v in cls_expert.state_dict().items()},
                                str(det_path))
    # the 1280-d head of the classification expert is not used by this generalist
    assert report['main']['unexpected_keys'] == [
        k for k in cls_expert.state_dict() if k.startswith('head.')]
    assert torch.equal(model.main.blocks[2].b1[1].weight, cls_expert.blocks[2].b1[1].weight)
    assert torch.equal(model.aux.blocks[2].b1[1].weight, det_expert.blocks[2].b1[1].weight)
    with pytest.raises(KeyError, match='no key starts with'):
        model.load_experts(str(det_path), prefix='encoder.')
    with pytest.raises(KeyError, match='lacks'):
        CentralModel(main=TINY, out_indices=(4, )).load_experts(str(det_path))


@pytest.mark.parametrize('name', ['central_tiny-b4.pt', 'central_tiny-b15.pt'])
def test_numeric_parity_with_original(parity_dir, name):
    fixture = torch.load(parity_dir / name, weights_only=False)
    arch = fixture['arch']
    ckpt = convert_gvb_checkpoint(fixture['state_dict'], arch=arch, prefix='')
    model = CentralModel(main=dict(type='MetaNet', arch=arch),
                         aux=dict(type='MetaNet', arch=arch, out_indices=(0, 1, 2, 3, 4)),
                         out_indices=(0, 1, 2, 3, 4), reverse_transfer=True).eval()
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert [model.level_channels[k] for k in range(3)] == list(fixture['layer2channel'].values())
    with torch.no_grad():
        outs = model(fixture['input'])
    # the bound docs/backbones.md states: measured max. abs. error 1.7e-6 (two streams
    # and transfer layers, outputs up to ~3 in magnitude); 5e-6 leaves ~3x
    for out, ref in zip(outs[:4], fixture['multiscale']):
        torch.testing.assert_close(out, ref, rtol=0, atol=5e-6)
    torch.testing.assert_close(outs[4], fixture['pre_fc'], rtol=0, atol=5e-6)


def test_original_central_manifest(parity_dir):
    manifest = json.loads((parity_dir / 'state_dict_manifest.json').read_text())
    original = manifest['central-mn-b4']
    ckpt = convert_gvb_checkpoint({k: torch.empty(v, device='meta')
                                   for k, v in original.items()}, prefix='')
    cfg = ckpt['meta']['model_cfg']
    assert cfg['main']['arch'] == 'mn-b4' and cfg['reverse_transfer'] is True
    # every original key maps: nothing dropped, zero missing / unexpected (strict load)
    assert ckpt['meta']['dropped_keys'] == []
    assert len(ckpt['state_dict']) == len(original)
    reverse = [k for k in ckpt['state_dict'] if k.startswith('reverse_trans.')]
    assert len(reverse) == 42
    with torch.device('meta'):
        model = MODELS.build(cfg)
    result = model.load_state_dict(ckpt['state_dict'], strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in ckpt['state_dict'].items()}
    params = lambda keys: sum(math.prod(original[k]) for k in keys  # noqa: E731
                              if not k.endswith(('running_mean', 'running_var',
                                                 'num_batches_tracked')))
    assert params(original) == 61_853_248
    assert sum(p.numel() for p in model.parameters()) == 61_853_248
    # the release's reverse transfers are held frozen and never trained
    assert not any(p.requires_grad for p in model.reverse_trans.parameters())
    lean = convert_gvb_checkpoint({k: torch.empty(v, device='meta')
                                   for k, v in original.items()}, prefix='',
                                  drop_reverse_transfer=True)
    assert len(lean['meta']['dropped_keys']) == 42
    assert lean['meta']['model_cfg']['reverse_transfer'] is False
    with torch.device('meta'):
        lean_model = MODELS.build(lean['meta']['model_cfg'])
    assert sum(p.numel() for p in lean_model.parameters()) == 61_853_248 - params(
        lean['meta']['dropped_keys'])


def test_reverse_transfer_is_frozen_and_unused():
    torch.manual_seed(0)
    model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4), reverse_transfer=True)
    for p in model.reverse_trans.parameters():  # non-zero, so a use would show
        torch.nn.init.normal_(p)
    plain = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4))
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not k.startswith('reverse_trans.')})
    model.eval(), plain.eval()
    with torch.no_grad():  # the reverse layers do not take part in the forward
        for a, b in zip(model(_inputs(2, seed=3)), plain(_inputs(2, seed=3))):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    model.train()
    assert not model.reverse_trans.training
    before = copy.deepcopy(model.reverse_trans.state_dict())
    outs = model(_inputs(2))
    sum(o.pow(2).mean() for o in outs).backward()
    # frozen: no gradients (so DDP without find_unused_parameters is fine), BN stats kept
    assert all(not p.requires_grad and p.grad is None
               for p in model.reverse_trans.parameters())
    for key, value in model.reverse_trans.state_dict().items():
        assert torch.equal(value, before[key]), key


def _ddp_worker(rank, world_size, init_file, result_file):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=world_size)
    try:
        torch.manual_seed(0)
        model = CentralModel(main=TINY, out_indices=(0, 1, 2, 3, 4))
        # default: aux frozen (requires_grad=False), every trainable parameter is used,
        # so DDP runs without find_unused_parameters
        ddp = DistributedDataParallel(model, find_unused_parameters=False)
        opt = torch.optim.SGD([p for p in ddp.parameters() if p.requires_grad], lr=0.1)
        ddp.train()
        for step in range(2):
            opt.zero_grad()
            outs = ddp(_inputs(2, seed=10 * rank + step))
            sum(o.pow(2).mean() for o in outs).backward()
            opt.step()
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.zeros_like(flat) for _ in range(world_size)]
        dist.all_gather(gathered, flat)
        if rank == 0:
            torch.save(dict(same=all(torch.equal(gathered[0], g) for g in gathered)),
                       result_file)
    finally:
        dist.destroy_process_group()


def test_ddp_training_without_unused_parameters(tmp_path):
    import torch.multiprocessing as mp
    result = tmp_path / 'result.pt'
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / 'init'), str(result)), nprocs=2, join=True)
    assert torch.load(result)['same']
