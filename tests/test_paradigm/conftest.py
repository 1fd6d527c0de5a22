"""Fixtures of the paradigm tests: one tiny GV world per session."""
import pytest


@pytest.fixture(scope='session')
def tiny_world(tmp_path_factory):
    """A 40-image GV world (train 28 / val 6 / test 6), generated once."""
    from intern_mm.datasets.gv_world import generate_gv_world
    root = tmp_path_factory.mktemp('gv_world_tiny')
    generate_gv_world(str(root), num=40, seed=0, img_size=64)
    return str(root)
