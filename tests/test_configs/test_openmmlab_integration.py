"""intern_mm backbones inside stock mmdet / mmseg / mmpretrain configs and registries."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for folder in ('metanet', 'central_model')
                 for p in (REPO_ROOT / 'configs' / folder).glob('*.py'))


def _run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout


def test_prefixed_type_builds_from_any_scope_without_import():
    out = _run_python("""
        import sys
        from mmengine.registry import MODELS as ROOT, init_default_scope
        from mmdet.registry import MODELS as DET
        from mmseg.registry import MODELS as SEG
        from mmpretrain.registry import MODELS as CLS
        assert 'intern_mm' not in sys.modules
        for scope, registry in (('mmdet', DET), ('mmseg', SEG), ('mmpretrain', CLS),
                                ('mmengine', ROOT)):
            init_default_scope(scope)
            model = registry.build(dict(type='intern_mm.MetaNet', arch='tiny'))
            print(scope, type(model).__module__, model.out_channels)
        """)
    assert out.count('intern_mm.models.backbones.metanet [24, 32, 48, 64]') == 4


def test_custom_imports_with_plain_type_in_stock_configs():
    out = _run_python("""
        import sys
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        assert 'intern_mm' not in sys.modules
        cases = [
            ('mmdet', 'configs/metanet/metanet-tiny_faster-rcnn_fpn_20e_raccoon.py'),
            ('mmseg', 'configs/metanet/metanet-tiny_deeplabv3_1xb4-40i_camvid-128x128.py'),
            ('mmpretrain', 'configs/metanet/metanet-b4_1xb64-10k_cifar10.py'),
        ]
        for scope, path in cases:
            cfg = Config.fromfile(path)  # imports custom_imports=['intern_mm']
            assert cfg.model.backbone.type == 'MetaNet'
            cfg.model.backbone.arch = 'tiny'
            init_default_scope(scope)
            registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
            model = registry.build(cfg.model)
            print(scope, type(model).__name__, type(model.backbone).__name__)
        """)
    assert 'mmdet FasterRCNN MetaNet' in out
    assert 'mmseg EncoderDecoder MetaNet' in out
    assert 'mmpretrain ImageClassifier MetaNet' in out


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_config_builds_its_model(path):
    import intern_mm  # noqa: F401
    from mmengine.registry import DefaultScope
    from mmengine.registry import MODELS as ROOT

    cfg = Config.fromfile(str(path))
    backbone = cfg.model.backbone
    if 'frozen' in path.name or 'linear-probe' in path.name:
        assert backbone.norm_eval is True and backbone.frozen_stages == 6
        assert backbone.init_cfg.type == 'Pretrained'
        backbone.init_cfg = None  # no released weights on this machine
    scope = cfg.get('default_scope', 'mmengine')
    with DefaultScope.overwrite_default_scope(scope):
        registry = ROOT if scope == 'mmengine' else __import__(
            f'{scope}.registry', fromlist=['MODELS']).MODELS
        model = registry.build(cfg.model)
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    if backbone.type == 'MetaNet' and backbone.arch == 'mn-b4' and 4 in backbone.out_indices:
        assert n_backbone == 30_424_992  # the released MN-B4 (without the 1000-class fc)
    if 'frozen' in path.name or 'linear-probe' in path.name:
        model.train()
        assert not any(p.requires_grad for p in model.backbone.parameters())
        norms = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
        assert norms and not any(m.training for m in norms)


def test_package_scoped_config_inheritance(tmp_path):
    """An installed intern_mm exposes its configs like mmdet does (``intern_mm::``)."""
    import intern_mm  # noqa: F401  (registers the package with mmengine's config loader)
    user_cfg = tmp_path / 'my_detector.py'
    user_cfg.write_text("_base_ = 'intern_mm::metanet/metanet-b4_faster-rcnn_fpn_1x_voc0712.py'\n"
                        "model = dict(backbone=dict(arch='tiny'), "
                        "neck=dict(in_channels=[24, 32, 48, 64]))\n")
    cfg = Config.fromfile(str(user_cfg))
    assert cfg.model.backbone.type == 'MetaNet' and cfg.model.backbone.arch == 'tiny'
    assert cfg.model.type == 'FasterRCNN'  # two levels up: mmdet's own config
