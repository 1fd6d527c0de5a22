"""Tests of tools/model_converters/gvb2intern.py and its logic in
intern_mm.models.backbones.gvb_checkpoint."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from intern_mm.models.backbones import CentralModel, MetaNet
from intern_mm.models.backbones.gvb_checkpoint import (CheckpointMismatchError,
                                                       convert_gvb_checkpoint,
                                                       load_gvb_state_dict)

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'model_converters' / 'gvb2intern.py'


def _tool():
    spec = importlib.util.spec_from_file_location('gvb2intern', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def metanet_fixture(parity_dir):
    return torch.load(parity_dir / 'metanet_tiny-b4.pt', weights_only=False)


@pytest.fixture
def central_fixture(parity_dir):
    return torch.load(parity_dir / 'central_tiny-b4.pt', weights_only=False)


def _outputs(model, x):
    with torch.no_grad():
        return model.eval()(x)


def _assert_fixture_outputs(outs, fixture, atol=1e-6):
    # the parity bounds of docs/backbones.md: 1e-6 (MetaNet), 5e-6 (CentralModel)
    for out, ref in zip(outs, list(fixture['multiscale']) + [fixture['pre_fc']]):
        torch.testing.assert_close(out, ref, rtol=0, atol=atol)


@pytest.mark.parametrize('prefix', ['backbone.', ''])
def test_metanet_round_trip_through_pretrained_init(tmp_path, metanet_fixture, prefix):
    src, dst = tmp_path / 'orig.pth', tmp_path / 'converted.pth'
    torch.save({'state_dict': metanet_fixture['state_dict']}, src)
    arch = json.dumps(metanet_fixture['arch'])
    assert _tool().main([str(src), str(dst), '--arch', arch, '--prefix', prefix]) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    assert all(k.startswith(prefix) for k in ckpt['state_dict'])
    # 'backbone.' keys load with prefix='backbone.' and also without a prefix
    for init_cfg in (dict(type='Pretrained', checkpoint=str(dst), prefix=prefix),
                     dict(type='Pretrained', checkpoint=str(dst))):
        if not init_cfg.get('prefix', True):
            init_cfg.pop('prefix')
        model = MetaNet(
            arch=metanet_fixture['arch'], out_indices=(0, 1, 2, 3, 4), init_cfg=init_cfg)
        model.init_weights()
        _assert_fixture_outputs(_outputs(model, metanet_fixture['input']), metanet_fixture)


def test_backbone_prefix_never_shadows_plain_keys(metanet_fixture):
    model = MetaNet(arch=metanet_fixture['arch'], out_indices=(0, 1, 2, 3, 4))
    sd = dict(metanet_fixture['state_dict'])
    sd['backbone.stem.0.weight'] = torch.zeros_like(sd['stem.0.weight'])
    result = model.load_state_dict(sd, strict=False)
    assert result.unexpected_keys == ['backbone.stem.0.weight']
    assert torch.equal(model.stem[0].weight, metanet_fixture['state_dict']['stem.0.weight'])


def test_wrappers_and_prefixes_are_unwrapped(metanet_fixture):
    sd = metanet_fixture['state_dict']
    detector = {'state_dict': {**{'module.backbone.' + k: v for k, v in sd.items()},
                               'module.neck.conv.weight': torch.zeros(1)}}
    state, ignored = load_gvb_state_dict(detector)
    assert list(state) == list(sd) and ignored == ['neck.conv.weight']
    state, ignored = load_gvb_state_dict({'model': {'module.' + k: v for k, v in sd.items()},
                                          'epoch': 3})
    assert list(state) == list(sd) and ignored == []
    ckpt = convert_gvb_checkpoint({'model': detector}, arch=metanet_fixture['arch'])
    assert ckpt['meta']['ignored_keys'] == ['neck.conv.weight']
    assert set(ckpt['state_dict']) == {'backbone.' + k for k in sd}


def test_mismatch_lists_missing_unexpected_and_shapes(tmp_path, metanet_fixture, capsys):
    sd = dict(metanet_fixture['state_dict'])
    sd['blocks.3.b1.1.weightx'] = sd.pop('blocks.3.b1.1.weight')
    sd['head.0.weight'] = torch.zeros(1280, 95, 1, 1)
    with pytest.raises(CheckpointMismatchError) as err:
        convert_gvb_checkpoint(sd, arch=metanet_fixture['arch'])
    msg = str(err.value)
    assert "missing keys (1): ['blocks.3.b1.1.weight']" in msg
    assert "unexpected keys (1): ['blocks.3.b1.1.weightx']" in msg
    assert 'head.0.weight: checkpoint (1280, 95, 1, 1) vs model (1280, 96, 1, 1)' in msg
    src = tmp_path / 'corrupt.pth'
    torch.save(sd, src)
    dst = tmp_path / 'out.pth'
    assert _tool().main([str(src), str(dst), '--arch', json.dumps(metanet_fixture['arch'])]) == 1
    assert 'blocks.3.b1.1.weightx' in capsys.readouterr().err
    assert not dst.exists()


def test_unknown_arch_and_missing_file(tmp_path, metanet_fixture):
    with pytest.raises(CheckpointMismatchError, match='could not detect the MetaNet arch'):
        convert_gvb_checkpoint(metanet_fixture['state_dict'])
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        convert_gvb_checkpoint(str(tmp_path / 'nope.pth'))
    with pytest.raises(CheckpointMismatchError, match='unrecognised checkpoint layout'):
        convert_gvb_checkpoint({'fc.weight': torch.zeros(2, 2)})


@pytest.mark.parametrize('name,arch', [('mn-b4', 'mn-b4'), ('mn-b15', 'mn-b15'),
                                       ('central-mn-b15', 'mn-b15')])
def test_arch_detection_from_original_keys(parity_dir, name, arch):
    manifest = json.loads((parity_dir / 'state_dict_manifest.json').read_text())[name]
    sd = {'module.' + k: torch.empty(v, device='meta') for k, v in manifest.items()}
    ckpt = convert_gvb_checkpoint(sd)
    cfg = ckpt['meta']['model_cfg']
    assert (cfg['main']['arch'] if name.startswith('central') else cfg['arch']) == arch
    dropped = ckpt['meta']['dropped_keys']
    assert len(ckpt['state_dict']) + len(dropped) == len(manifest)


def test_central_round_trip_and_bn_variant_merge(tmp_path, central_fixture):
    cls_sd = central_fixture['state_dict']
    det_sd = {}
    g = torch.Generator().manual_seed(0)
    for k, v in cls_sd.items():  # a det-bn variant: same weights, other BN parameters
        is_bn = any(k.startswith(p) for p in
                    {key[:-len('running_mean')] for key in cls_sd if key.endswith('running_mean')})
        det_sd[k] = v + torch.rand(v.shape, generator=g) if is_bn and v.is_floating_point() \
            else v
    src, det, dst = tmp_path / 'cls-bn.pth', tmp_path / 'det-bn.pth', tmp_path / 'merged.pth'
    torch.save({'model': cls_sd}, src)
    torch.save({'model': det_sd}, det)
    arch = json.dumps(central_fixture['arch'])
    assert _tool().main([str(src), str(dst), '--arch', arch, '--det-bn', str(det)]) == 0
    meta = torch.load(dst, weights_only=True)['meta']
    assert tuple(meta['model_cfg']['bn_tasks']) == ('cls', 'det')
    cfg = dict(meta['model_cfg'], init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                                                prefix='backbone.'))
    cfg.pop('type')
    model = CentralModel(**cfg)
    model.init_weights()
    assert model.task == 'cls'
    _assert_fixture_outputs(_outputs(model, central_fixture['input']), central_fixture,
                            atol=5e-6)

    plain_det = tmp_path / 'det_plain.pth'
    assert _tool().main([str(det), str(plain_det), '--arch', arch]) == 0
    cfg['bn_tasks'] = None
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=str(plain_det))  # no prefix
    det_model = CentralModel(**cfg)
    det_model.init_weights()
    model.task = 'det'
    for a, b in zip(_outputs(model, central_fixture['input']),
                    _outputs(det_model, central_fixture['input'])):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, central_fixture['pre_fc'], atol=1e-3)


def test_central_drop_reverse_transfer_option(tmp_path, central_fixture, capsys):
    src, full, lean = tmp_path / 'upg.pth', tmp_path / 'full.pth', tmp_path / 'lean.pth'
    torch.save(central_fixture['state_dict'], src)
    reverse = [k for k in central_fixture['state_dict']
               if k.startswith('model.trans.gv_patch.gv_global.')]
    assert reverse  # the release's fixture holds the unused reverse transfers
    arch = json.dumps(central_fixture['arch'])
    assert _tool().main([str(src), str(full), '--arch', arch]) == 0
    assert 'dropped' not in capsys.readouterr().out
    assert _tool().main([str(src), str(lean), '--arch', arch, '--drop-reverse-transfer',
                         '--prefix', '']) == 0
    assert f'dropped {len(reverse)} keys' in capsys.readouterr().out
    full_ckpt, lean_ckpt = (torch.load(p, weights_only=True) for p in (full, lean))
    assert full_ckpt['meta']['model_cfg']['reverse_transfer'] is True
    assert sorted(lean_ckpt['meta']['dropped_keys']) == sorted(reverse)
    cfg = dict(lean_ckpt['meta']['model_cfg'])
    assert cfg.pop('type') == 'CentralModel' and cfg['reverse_transfer'] is False
    model = CentralModel(**cfg)
    model.load_state_dict(lean_ckpt['state_dict'], strict=True)
    _assert_fixture_outputs(_outputs(model, central_fixture['input']), central_fixture,
                            atol=5e-6)
    assert len(full_ckpt['state_dict']) == len(lean_ckpt['state_dict']) + len(reverse)


def test_bn_variant_merge_refuses_different_weights(central_fixture):
    other = dict(central_fixture['state_dict'])
    key = 'model.backbone.gv_global.blocks.2.b1.1.weight'
    other[key] = other[key] + 1
    with pytest.raises(CheckpointMismatchError, match='main.blocks.2.b1.1.weight'):
        convert_gvb_checkpoint(central_fixture['state_dict'], arch=central_fixture['arch'],
                               det_bn_src=other)


def test_bn_params_are_all_task_specific_after_merge(central_fixture):
    ckpt = convert_gvb_checkpoint(central_fixture['state_dict'], arch=central_fixture['arch'],
                                  det_bn_src=central_fixture['state_dict'], prefix='')
    model = CentralModel(**{k: v for k, v in ckpt['meta']['model_cfg'].items() if k != 'type'})
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert all('.bns.' in n for n, m in model.named_modules() if isinstance(m, _BatchNorm))
