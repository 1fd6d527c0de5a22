"""tools/deployment/mmdeploy_export.py: whole intern_mm models through mmdeploy 1.3.1 to
onnxruntime, checked against the eager PyTorch model."""
import importlib.util
import re
import sys
import types

import pytest
import torch
from mmengine.config import Config

from model_testutils import randomise_bn
from tools_testutils import PYTHON, REPO_ROOT, run_tool

TOOL = 'tools/deployment/mmdeploy_export.py'
DEPLOY = REPO_ROOT / 'configs/_base_/deploy'
CLS_CFG = REPO_ROOT / 'configs/metanet/metanet-b4_1xb64-10k_cifar10.py'
SEG_CFG = REPO_ROOT / 'configs/metanet/metanet-tiny_deeplabv3_1xb4-40i_camvid-128x128.py'
DET_CFG = REPO_ROOT / 'configs/metanet/metanet-tiny_faster-rcnn_fpn_20e_raccoon.py'
MISSING = [m for m in ('mmdeploy', 'onnxruntime') if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f'{MISSING} not installed (requirements/deploy*.txt, optional.txt)')


def _load_tool():
    spec = importlib.util.spec_from_file_location('mmdeploy_export', REPO_ROOT / TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_bn_checkpoint(cfg_path, scope, path, **backbone):
    """Weights with non-trivial BN statistics, so that the folding mmdeploy triggers
    changes the graph's arithmetic. Built in ``scope`` (other tests may have left
    another default scope set)."""
    import intern_mm  # noqa: F401
    from mmengine.registry import MODELS, DefaultScope
    cfg = Config.fromfile(cfg_path)
    cfg.model.backbone.update(backbone, init_cfg=None)
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor', {}))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        model = randomise_bn(MODELS.build(cfg.model))
    torch.save({'state_dict': model.state_dict()}, path)


def test_classifier_export_matches_eager_pytorch(tmp_path):
    ckpt = tmp_path / 'cls.pth'
    _random_bn_checkpoint(CLS_CFG, 'mmpretrain', ckpt, arch='tiny')
    out = run_tool([
        PYTHON, TOOL, str(DEPLOY / 'classification_onnxruntime_static.py'), str(CLS_CFG),
        '--checkpoint', str(ckpt), '--cfg-options', 'model.backbone.arch=tiny',
        '--shape', '48', '64', '--work-dir', str(tmp_path / 'ort')
    ])
    # mmdeploy itself calls the backbone's switch_to_deploy() (BN folding)
    assert 'switched the backbone to its deploy structure: yes' in out
    err = float(re.search(r'largest score difference ([\d.e+-]+)', out).group(1))
    assert err < 1e-4
    top1 = re.search(r'top-1 (\d+) vs (\d+)', out).groups()
    assert top1[0] == top1[1]
    assert (tmp_path / 'ort/end2end.onnx').is_file()


def test_classifier_comparison_fails_past_the_tolerance():
    tool = _load_tool()
    args = types.SimpleNamespace(rtol=1e-4, min_agreement=0.999)
    ref = types.SimpleNamespace(pred_score=torch.tensor([0.2, 0.5, 0.3]))
    assert tool.compare('mmpretrain', ref, ref, args)['max_rel_err'] == 0
    off = types.SimpleNamespace(pred_score=torch.tensor([0.2, 0.5001, 0.3]))
    with pytest.raises(RuntimeError, match='differ from PyTorch by 2.0'):
        tool.compare('mmpretrain', off, ref, args)


def test_segmentor_export_matches_eager_pytorch(tmp_path):
    ckpt = tmp_path / 'seg.pth'
    _random_bn_checkpoint(SEG_CFG, 'mmseg', ckpt)
    # a 96x128 image: the test pipeline resizes it to 180x240, where labels are compared
    out = run_tool([
        PYTHON, TOOL, str(DEPLOY / 'segmentation_onnxruntime_static.py'), str(SEG_CFG),
        '--checkpoint', str(ckpt), '--shape', '96', '128', '--work-dir', str(tmp_path / 'ort')
    ])
    assert 'switched the backbone to its deploy structure: yes' in out
    assert '100.0000% of the 43200 pixels of the (180, 240) network input' in out
    assert int(re.search(r'\((\d+) classes in the PyTorch map\)', out).group(1)) >= 3


@pytest.mark.slow
def test_two_stage_detector_export_failure_is_one_line(tmp_path):
    cmd = [PYTHON, TOOL, str(DEPLOY / 'detection_onnxruntime_static.py'), str(DET_CFG),
           '--shape', '64', '64', '--work-dir', str(tmp_path / 'ort')]
    with pytest.raises(AssertionError) as exc:  # no comparison for detectors
        run_tool(cmd)
    assert ('error: ValueError: the onnxruntime check covers mmpretrain, mmseg models, '
            'not mmdet') in str(exc.value)
    with pytest.raises(AssertionError) as exc:  # mmdeploy 1.3.1 vs torch 2.14
        run_tool(cmd + ['--no-verify'])
    msg = str(exc.value)
    assert ("error: RuntimeError: mmdeploy export failed: ImportError: cannot import name "
            "'_cast_Long'") in msg
    assert 'Traceback' not in msg


def test_bad_input_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(AssertionError) as exc:
        run_tool([PYTHON, TOOL, str(DEPLOY / 'classification_onnxruntime_static.py'),
                  str(tmp_path / 'nope.py')])
    assert 'error: FileNotFoundError: model config' in str(exc.value)
    assert 'Traceback' not in str(exc.value)
    bogus = tmp_path / 'other.pth'
    torch.save({'state_dict': {'backbone.stem.0.weight': torch.zeros(1)}}, bogus)
    with pytest.raises(AssertionError) as exc:  # a checkpoint of another model
        run_tool([PYTHON, TOOL, str(DEPLOY / 'classification_onnxruntime_static.py'),
                  str(CLS_CFG), '--checkpoint', str(bogus), '--work-dir', str(tmp_path / 'w')])
    msg = str(exc.value)
    assert f'error: RuntimeError: checkpoint {bogus} does not match the model of the ' \
        'config: ' in msg
    assert 'keys missing from it' in msg and '1 keys of another shape ' \
        '(first: backbone.stem.0.weight)' in msg and 'Traceback' not in msg
    assert not (tmp_path / 'w' / 'end2end.onnx').exists()  # stopped before the export
    tool = _load_tool()
    monkeypatch.setitem(sys.modules, 'mmdeploy.apis', None)
    with pytest.raises(ImportError, match='mmdeploy is not installed'):
        tool.main([str(DEPLOY / 'classification_onnxruntime_static.py'), str(CLS_CFG)])
