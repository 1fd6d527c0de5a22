"""``tests/conftest.py`` starts every test with the default scopes the session began with:
a scope one test creates is gone in the next (the two run in this order in one process;
``--dist worksteal`` may split them, and then the second has nothing to see)."""
from mmengine.registry import DefaultScope

from intern_mm.registry import DATASETS


def test_a_test_leaves_an_mmpretrain_scope():
    import mmpretrain  # noqa: F401
    DefaultScope.get_instance('left_by_a_test', scope_name='mmpretrain')
    assert DefaultScope.get_current_instance().scope_name == 'mmpretrain'


def test_the_next_test_builds_unprefixed_intern_mm_names():
    assert 'left_by_a_test' not in DefaultScope._instance_dict
    assert DATASETS.get('ImageTextDataset').__name__ == 'ImageTextDataset'
