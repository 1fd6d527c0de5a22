"""Registries, scope handling and the compatibility fixes of intern_mm.utils."""
import os
import textwrap

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.registry import DefaultScope
from mmengine.registry import HOOKS as ROOT_HOOKS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint, load_from_local

import intern_mm  # noqa: F401
from intern_mm import registry
from intern_mm.utils import register_all_modules
from intern_mm.utils.compat import PATCHES, applied_patches, disabled_patches


def test_registries_are_children_of_mmengine_roots():
    assert registry.MODELS.parent is ROOT_MODELS
    assert registry.HOOKS.parent is ROOT_HOOKS
    assert registry.MODELS.scope == 'intern_mm'
    assert 'intern_mm' in ROOT_MODELS.children
    assert registry.MODELS.get('MetaNet') is not None
    # unprefixed lookups inside intern_mm reach mmengine's root modules too
    assert registry.HOOKS.get('CheckpointHook') is not None


def test_every_root_registry_a_runner_builds_from_has_an_intern_mm_child():
    """A config with ``default_scope='intern_mm'`` builds initialisers, log processors and
    collate functions through this scope: the builds find intern_mm in each registry tree
    and log no 'Failed to search registry' warning."""
    from mmengine.logging import MMLogger
    from mmengine.registry import FUNCTIONS, LOG_PROCESSORS, WEIGHT_INITIALIZERS

    from intern_mm.registry import MODELS
    messages = []
    logger = MMLogger.get_current_instance()
    original = logger.log
    logger.log = lambda level, msg, *args, **kwargs: messages.append(str(msg))
    try:
        with DefaultScope.overwrite_default_scope('intern_mm'):
            model = MODELS.build(dict(type='MetaNet', arch='tiny', init_cfg=dict(
                type='TruncNormal', layer='Linear', std=0.02)))
            model.init_weights()
            assert LOG_PROCESSORS.build(dict(type='LogProcessor')) is not None
            assert FUNCTIONS.get('pseudo_collate') is not None
    finally:
        logger.log = original
    assert not [m for m in messages if 'Failed to search registry' in m], messages
    for root in (WEIGHT_INITIALIZERS, LOG_PROCESSORS, FUNCTIONS):
        assert 'intern_mm' in root.children, root.name


def test_register_all_modules_sets_default_scope():
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'intern_mm'


def test_mmengine_checkpoint_loads_through_mmengine(tmp_path):
    """mmengine checkpoints hold HistoryBuffer / numpy objects that torch's default
    weights_only=True loader rejects; the checkpoint_loader patch lets mmengine's local
    scheme read them (resume, load_from, Pretrained init from a trained stage)."""
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)), message_hub=dict(loss=buffer),
                    meta=dict(seed=np.int64(3))), path)
    with pytest.raises(Exception):
        torch.load(path)  # the plain torch default refuses it (torch itself unchanged)
    assert 'checkpoint_loader' in applied_patches()
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert loaded['message_hub']['loss'].current() == 1.5
    assert CheckpointLoader._schemes[''] is not load_from_local
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'), map_location='cpu')


def test_patches_apply_only_where_needed_and_switch_off(monkeypatch):
    # every applied patch reports that this stack needs it
    for name in applied_patches():
        assert name in PATCHES
    monkeypatch.setenv('INTERN_MM_NO_COMPAT', 'all')
    assert disabled_patches() == set(PATCHES)
    monkeypatch.setenv('INTERN_MM_NO_COMPAT', 'cpu_distributed, numpy_aliases')
    assert disabled_patches() == {'cpu_distributed', 'numpy_aliases'}
    monkeypatch.setenv('INTERN_MM_NO_COMPAT', 'nope')
    with pytest.raises(KeyError, match='nope'):
        disabled_patches()
    monkeypatch.delenv('INTERN_MM_NO_COMPAT')
    assert disabled_patches() == set()


def test_no_compat_leaves_the_stack_untouched():
    """With INTERN_MM_NO_COMPAT=1 importing intern_mm changes nothing in mmengine."""
    import subprocess
    import sys
    code = textwrap.dedent("""
        import mmengine.dist.utils as du
        from mmengine.model.wrappers import MMDistributedDataParallel as DDP
        before = (du.init_dist, DDP.__init__)
        import intern_mm
        from intern_mm.utils.compat import applied_patches
        assert applied_patches() == [], applied_patches()
        assert (du.init_dist, DDP.__init__) == before
        from mmengine.config import utils as cu
        print('intern_mm' in cu.MODULE2PACKAGE)
    """)
    env = dict(os.environ, INTERN_MM_NO_COMPAT='1')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip() == 'False'


def test_missing_pkg_resources_enables_package_utils():
    import subprocess
    import sys
    code = textwrap.dedent("""
        import sys
        sys.modules['pkg_resources'] = None
        import intern_mm
        from intern_mm.utils.compat import applied_patches
        print('package_utils' in applied_patches())
    """)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip() == 'True'


def test_numpy2_aliases_restored():
    assert np.in1d(np.array([1, 2]), np.array([2])).tolist() == [False, True]
    # removed in numpy 1.24 and restored by intern_mm.utils.compat
    assert np.float is float and np.int is int and np.object is object
    # numpy 2 has np.bool (= np.bool_) and np.long again; the patch must not shadow them
    assert np.bool is np.bool_ and np.zeros(2, dtype=np.bool).dtype == np.bool_
    assert np.dtype(np.long).kind == 'i'


def test_package_config_bases_resolve_without_pkg_resources():
    """setuptools >= 82 has no ``pkg_resources``; ``mmdet::`` bases must still resolve."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    code = textwrap.dedent("""
        import sys
        sys.modules['pkg_resources'] = None  # any `import pkg_resources` now fails
        import intern_mm
        from mmengine.config import Config
        from mmengine.utils import get_installed_path, is_installed
        cfg = Config.fromfile('configs/metanet/metanet-tiny_faster-rcnn_fpn_20e_raccoon.py')
        assert cfg.model.type == 'FasterRCNN', cfg.model.type
        assert cfg.model.roi_head.type == 'StandardRoIHead'  # came from the mmdet:: base
        cfg = Config.fromfile('configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py')
        print(is_installed('mmsegmentation'), is_installed('not_a_package_xyz'))
        print(get_installed_path('mmsegmentation'))
        print(get_installed_path('intern_mm'))
    """)
    proc = subprocess.run([sys.executable, '-c', code], cwd=repo, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.split('\n')
    assert lines[0] == 'True False'
    assert Path(lines[1]).name == 'mmseg' and Path(lines[1], '__init__.py').is_file()
    assert Path(lines[2]) == repo / 'intern_mm'


# ----------------------------------------------------------------------------------------
# Bare names of intern_mm's public parts in stock mmdet / mmseg / mmpretrain configs
# ----------------------------------------------------------------------------------------
def _stock_registry(scope: str, kind: str):
    import importlib
    return getattr(importlib.import_module(f'{scope}.registry'), kind)


def test_every_public_part_has_its_bare_name_in_each_listed_codebase():
    from intern_mm.utils.registration import (HOST_OWNED, OPENMMLAB_PARTS,
                                              register_parts_in_openmmlab)
    report = register_parts_in_openmmlab()
    expected = {(scope, kind, name)
                for kind, parts in OPENMMLAB_PARTS.items()
                for name, scopes in parts.items() for scope in scopes}
    assert set(report) == expected
    assert {k for k, v in report.items() if v == 'host'} == set(HOST_OWNED) == {
        ('mmdet', 'DATA_SAMPLERS', 'MultiSourceSampler')}
    for (scope, kind, name), outcome in report.items():
        ours = getattr(registry, kind).get(name)
        with DefaultScope.overwrite_default_scope(scope):
            found = _stock_registry(scope, kind).get(name)
            prefixed = _stock_registry(scope, kind).get(f'intern_mm.{name}')
        assert prefixed is ours, (scope, kind, name)  # the prefix works everywhere
        if outcome == 'registered':
            assert found is ours, (scope, kind, name)
        else:  # the host keeps its own class under the bare name
            assert found is not ours and found.__module__.startswith(scope)


def test_parts_build_by_bare_name_from_stock_scopes():
    from mmdet.evaluation import VOCMetric
    from mmpretrain.evaluation import Accuracy
    from mmseg.evaluation import IoUMetric
    for scope, metric, inner in (('mmdet', 'VOCMetric', VOCMetric),
                                 ('mmpretrain', 'Accuracy', Accuracy),
                                 ('mmseg', 'IoUMetric', IoUMetric)):
        with DefaultScope.overwrite_default_scope(scope):
            built = _stock_registry(scope, 'METRICS').build(
                dict(type='PerSourceMetric', metric=dict(type=metric), sources=['a', 'b']))
            loader = _stock_registry(scope, 'TRANSFORMS').build(
                dict(type='LoadImageFromFileOrSkip', imdecode_backend='pillow'))
            hook = _stock_registry(scope, 'HOOKS').build(
                dict(type='DecodeFailureHook', max_listed=3))
        assert [type(m) for m in built.metrics.values()] == [inner, inner]
        assert loader.skip and loader.imdecode_backend == 'pillow'
        assert hook.max_listed == 3


def test_a_name_the_host_owns_is_left_alone(recwarn):
    from mmdet.evaluation import VOCMetric as HostVOCMetric

    from intern_mm.utils.registration import register_in_openmmlab

    class VOCMetric:  # an intern_mm class that happens to share mmdet's name
        pass

    assert register_in_openmmlab(VOCMetric, scopes=('mmdet', ), kind='METRICS') is VOCMetric
    assert _stock_registry('mmdet', 'METRICS').get('VOCMetric') is HostVOCMetric
    assert [str(w.message) for w in recwarn] == [
        'mmdet already registers VOCMetric (mmdet.evaluation.metrics.voc_metric); use '
        'type="intern_mm.VOCMetric"']


def test_compat_doc_lists_every_registered_part():
    from pathlib import Path

    from intern_mm.utils.registration import OPENMMLAB_PARTS
    doc = (Path(__file__).resolve().parents[2] / 'docs/compat.md').read_text()
    missing = [name for parts in OPENMMLAB_PARTS.values() for name in parts
               if f'`{name}`' not in doc]
    assert not missing, f'docs/compat.md does not list {missing}'
