"""Shared pytest fixtures.

``../shared`` (next to the checkout; override with ``INTERN_MM_SHARED``) holds small real
datasets and reference fixtures. It is read-only: tests write only to ``tmp_path``.
Tests that need it skip with the reason when it is absent.
"""
import gc
import os
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get('INTERN_MM_SHARED', REPO_ROOT.parent / 'shared')).resolve()

# In-process tests use tiny models: one intra-op thread is as fast and avoids OpenMP
# threads spinning against each other on the 2-core machine (tools run as subprocesses
# keep their own default).
torch.set_num_threads(1)


def pytest_collection_modifyitems(session, config, items):
    """Run the test files that hold a ``slow`` test first, each file's tests together in
    their order: ``make test``'s workers (``--dist worksteal``) start on the long tests
    and, when one runs dry, take the short ones queued last from the other."""
    slow_files = {item.path for item in items if item.get_closest_marker('slow')}
    items.sort(key=lambda item: item.path not in slow_files)


#: mmengine's default scopes when the session started (before any fixture or test)
_START_SCOPES = DefaultScope._instance_dict.copy()


def _reset_default_scopes() -> None:
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(_START_SCOPES)


@pytest.fixture(autouse=True)
def _default_scope_per_test():
    """Run every test with the default scopes the session started with: mmengine's
    current scope is the latest ``DefaultScope`` created in the process (every Runner,
    also one in a shared fixture, makes one), and unprefixed names build in it. Without
    this, a test passes or fails with what ran before it in its worker."""
    _reset_default_scopes()
    yield
    _reset_default_scopes()


@pytest.fixture(autouse=True, scope='module')
def _frozen_heap():
    """Move the objects alive when a test module starts to gc's permanent generation.

    mmengine's ``BaseDataset`` runs a full ``gc.collect()`` at every dataset build; in one
    pytest process that holds the imports and fixtures of every earlier module, each
    collection walks all of them. Garbage is collected first, so only live objects are
    frozen.
    """
    gc.collect()
    gc.freeze()
    yield


def _require(rel: str) -> Path:
    path = SHARED_DIR / rel
    if not path.exists():
        pytest.skip(f'{path} is absent: the ../shared reference data is not available '
                    '(set INTERN_MM_SHARED to its location)')
    return path


@pytest.fixture
def shared_dir() -> Path:
    """Root of ``../shared``; skips the test when it is absent."""
    return _require('.')


@pytest.fixture
def parity_dir() -> Path:
    """``../shared/reference/gvb_parity``; skips when absent."""
    return _require('reference/gvb_parity')


@pytest.fixture
def datasets_dir() -> Path:
    """``../shared/datasets`` (cifar10, raccoon, camvid); skips when absent."""
    return _require('datasets')


@pytest.fixture(scope='session')
def tiny_world(tmp_path_factory) -> str:
    """A 40-image GV world (seed 0, 64 px: train 28 / val 6 / test 6), generated once per
    session and shared read-only by the tests that train a stage config on it.

    ``tests/test_paradigm/conftest.py`` defines the same world for its own tests.
    """
    from intern_mm.datasets.gv_world import generate_gv_world
    root = tmp_path_factory.mktemp('gv_world_tiny')
    generate_gv_world(str(root), num=40, seed=0, img_size=64)
    return str(root)
