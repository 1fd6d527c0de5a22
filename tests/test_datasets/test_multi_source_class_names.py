"""MultiSourceDataset refuses class-name mismatches, listing unknown and unused names."""
from pathlib import Path

import pytest

from intern_mm.datasets import MultiSourceDataset
from intern_mm.datasets.checks import ClassNameMismatchError
from intern_mm.datasets.gv_world import DET_SOURCES, SHAPES, generate_gv_world


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('gv_world_names')
    generate_gv_world(str(out), num=20, seed=3)
    return out


def _det(world, name, classes):
    return dict(type='mmdet.CocoDataset', data_root=str(world), ann_file=f'det/{name}/train.json',
                data_prefix=dict(img=''), metainfo=dict(classes=tuple(classes)),
                test_mode=True, pipeline=[])


def test_matching_names_build(world):
    ds = MultiSourceDataset([_det(world, n, DET_SOURCES[n]) for n in DET_SOURCES],
                            sources=list(DET_SOURCES), classes=SHAPES)
    assert ds.metainfo['classes'] == tuple(SHAPES)


def test_case_typo_in_a_source_is_refused(world):
    """'Circle' for 'circle' in det_a: mmdet's CocoDataset would silently drop every
    circle box (its categories say 'circle')."""
    typo = ['Circle' if c == 'circle' else c for c in DET_SOURCES['det_a']]
    unified = ['Circle' if c == 'circle' else c for c in SHAPES]
    with pytest.raises(ClassNameMismatchError) as info:
        MultiSourceDataset([_det(world, 'det_a', typo), _det(world, 'det_b', DET_SOURCES['det_b'])],
                           sources=['det_a', 'det_b'], classes=unified)
    msg = str(info.value)
    assert "source 'det_a' (" in msg and 'det/det_a/train.json' in msg
    assert "its annotations name classes it does not configure: ['circle']" in msg
    assert 'det_b' not in msg.replace("'det_a'", '')  # the good source is not blamed


def test_unused_and_unknown_unified_names_listed_together(world):
    with pytest.raises(ClassNameMismatchError) as info:
        MultiSourceDataset([_det(world, n, DET_SOURCES[n]) for n in DET_SOURCES],
                           sources=list(DET_SOURCES),
                           classes=[c for c in SHAPES if c != 'ring'] + ['pentagon'])
    msg = str(info.value)
    assert "classes ['ring'] of source 'det_b' are not in the unified classes" in msg
    assert "unified classes ['pentagon'] belong to no source" in msg
